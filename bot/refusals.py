"""Refusals, logged at WARNING for whoever watches the service: which rule refused, and ids only
(partnership, person, update, activity), never a name, an email address or a note's text."""

from __future__ import annotations

import logging

log = logging.getLogger("plan_tracker.refusals")


def refused(rule: str, **ids: int | str | None) -> None:
    """Log that `rule` refused something; `ids` say who and what, by id."""
    log.warning("refused: %s (%s)", rule, ", ".join(f"{key}={value}" for key, value in ids.items()))

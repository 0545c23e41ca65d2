"""Identifying details about a child or family: found in a note on every way in (to warn before it is
stored), and taken out of it on every way out (a channel, a file) unless the business unit has
cleared that note. Nothing here touches Teams or the database."""

from bot.privacy.detect import (
    LABELS,
    REDACTED,
    Checked,
    Finding,
    checking_many,
    findings,
    kinds,
    own_patterns,
    redact,
    warm,
)

__all__ = [
    "LABELS",
    "REDACTED",
    "Checked",
    "Finding",
    "checking_many",
    "findings",
    "kinds",
    "own_patterns",
    "redact",
    "warm",
]

"""Finding identifying details in a note: what kind, and where, so that they can be named in a
warning and cut out of anything that leaves the bot.

The note is made plain first (normalise.py: NFKC, every space and dash as the ASCII one) and what
is found there is mapped back to the characters the lead wrote.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import regex

from bot.privacy.normalise import plain

log = logging.getLogger(__name__)

REDACTED = "[identifying detail removed]"

# The categories in the order a warning names them, with the words it uses.
LABELS: dict[str, str] = {
    "nhs_number": "an NHS number",
    "date_of_birth": "a date of birth",
    "age": "an age",
    "name": "a name",
    "address": "an address",
    "postcode": "a postcode",
    "phone": "a phone number",
    "email": "an email address",
    "case_reference": "a case reference",
    "ni_number": "a National Insurance number",
}
CATEGORY_OF = {label: category for category, label in LABELS.items()}


@dataclass(frozen=True)
class Finding:
    kind: str  # as a person reads it: "an NHS number", "a date of birth"
    start: int
    end: int


def warm() -> None:
    """Build the analyzer now (Presidio and its recognisers take a second or two to import and set up),
    rather than on the first note; the server does this beside start-up, not before it answers."""
    from bot.privacy.engine import analyzer
    from bot.privacy.names import names

    analyzer()
    names()  # read on the first note with a capitalised word otherwise: a tenth of a second, 10 MB


OWN_TIMEOUT = 0.05  # seconds a partnership's own pattern may take on one note


@lru_cache(maxsize=256)
def _guarded(source: str, flags: int) -> regex.Pattern[str]:
    return regex.compile(source, flags)


def own_spans(text: str, own: Sequence[re.Pattern[str]]) -> list[tuple[str, int, int]]:
    """Where the partnership's own patterns match. They come from a plan file, so one may backtrack
    for ever on some text ("(a|aa)+$"): each runs with a time limit, and a note it could not finish
    is treated as identifying throughout (warned about on the way in, withheld on the way out)."""
    spans: list[tuple[str, int, int]] = []
    for index, pattern in enumerate(own):
        try:
            found = _guarded(pattern.pattern, pattern.flags).finditer(text, timeout=OWN_TIMEOUT)
            spans += [("case_reference", *m.span()) for m in found if m.end() > m.start()]
        except TimeoutError:
            log.warning("case-id pattern %d took too long on a note; the whole note is treated as identifying", index)
            spans.append(("case_reference", 0, len(text)))
    return spans


@contextmanager
def checking_many() -> Iterator[None]:
    """Many notes checked in a row with nothing awaited between them (an import's, an export's, a
    channel's summary): quicker together, and every word of them forgotten at the end, as with one."""
    from bot.privacy.engine import many

    with many():
        yield


def findings(text: str, own: Sequence[re.Pattern[str]] = ()) -> list[Finding]:
    """Every identifying detail found, in order; `own` are the partnership's own patterns (case ids)."""
    from bot.privacy.engine import analyse  # Presidio is imported when the first note is checked

    made = plain(text)
    spans = analyse(made.text)
    spans += own_spans(made.text, own)
    found = {Finding(LABELS[category], *made.span(start, end)) for category, start, end in spans}
    return sorted(found, key=lambda f: (f.start, -f.end, f.kind))


def kinds(text: str, own: Sequence[re.Pattern[str]] = ()) -> list[str]:
    """The kinds of identifying detail the note seems to hold, each once, e.g. ["a postcode"]."""
    found = {f.kind for f in findings(text, own)}
    return [label for label in LABELS.values() if label in found]


class Checked:
    """The notes one turn has checked, and what each seemed to hold: a turn checks a note before it holds
    the plan, where the check keeps no other turn waiting, and finds the answer when it stores the note.
    Kept for that turn only (a note may name a child): never shared between turns."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, tuple[re.Pattern[str], ...]], list[str]] = {}

    def __len__(self) -> int:
        """How many notes (against which patterns) this turn has checked."""
        return len(self._found)

    def kinds(self, text: str, own: Sequence[re.Pattern[str]] = ()) -> list[str]:
        """As `kinds`; the same note against the same patterns is checked once."""
        key = (text, tuple(own))
        if key not in self._found:
            self._found[key] = kinds(text, own)
        return list(self._found[key])


def redact(text: str, own: Sequence[re.Pattern[str]] = ()) -> str:
    """The text with every identifying detail replaced by REDACTED (overlapping details cut as one)."""
    spans: list[list[int]] = []
    for finding in findings(text, own):
        if spans and finding.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], finding.end)
        else:
            spans.append([finding.start, finding.end])
    out, at = [], 0
    for start, end in spans:
        out += [text[at:start], REDACTED]
        at = end
    out.append(text[at:])
    return "".join(out)


def own_patterns(sources: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """A partnership's own case-id patterns (as stored on it, checked when its plan file was read), compiled."""
    return tuple(re.compile(source) for source in sources)

"""Finding identifying details in a note: what kind, and where, so that they can be named in a
warning and cut out of anything that leaves the bot."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

REDACTED = "[identifying detail removed]"


@dataclass(frozen=True)
class Finding:
    kind: str  # as a person reads it: "an NHS number", "a date of birth"
    start: int
    end: int


# The first, pattern-only check; the detection proper replaces it.
PATTERNS: dict[str, re.Pattern[str]] = {
    "an NHS number": re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)"),
    "a date of birth": re.compile(
        r"\b(?:d\.?o\.?b\.?|date of birth|born(?: on)?)\b|(?<!\d)\d{1,2}[/.]\d{1,2}[/.](?:19|20)\d{2}(?!\d)", re.I
    ),
    "a phone number": re.compile(
        r"(?<!\w)(?:\+44\s?7\d{3}|07\d{3}|\+44\s?\(?0?\)?\d{2,4}|0\d{2,4})[\s-]?\d{3}[\s-]?\d{3,4}(?!\d)"
    ),
    "an email address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    "a postcode": re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I),
}


def findings(text: str, own: Sequence[re.Pattern[str]] = ()) -> list[Finding]:
    """Every identifying detail found, in order; `own` are the partnership's own patterns (case ids)."""
    found = [Finding(kind, m.start(), m.end()) for kind, p in PATTERNS.items() for m in p.finditer(text)]
    found += [Finding("a case reference", m.start(), m.end()) for p in own for m in p.finditer(text)]
    return sorted(found, key=lambda f: (f.start, -f.end))


def kinds(text: str, own: Sequence[re.Pattern[str]] = ()) -> list[str]:
    """The kinds of identifying detail the note seems to hold, each once, e.g. ["a postcode"]."""
    found = {f.kind for f in findings(text, own)}
    return [kind for kind in [*PATTERNS, "a case reference"] if kind in found]


def redact(text: str, own: Sequence[re.Pattern[str]] = ()) -> str:
    """The text with every identifying detail replaced by REDACTED."""
    out, at = [], 0
    for finding in findings(text, own):
        if finding.start < at:
            continue
        out.append(text[at : finding.start])
        out.append(REDACTED)
        at = finding.end
    out.append(text[at:])
    return "".join(out)

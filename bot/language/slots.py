"""Slots read deterministically from a message: action references, ratings, dates, "mine" or "all".

The classifier says what a message is for; these say what it is about. Each finder returns spans
so that the text can be "delexicalised" for the classifier ("overdue for L&I" is read as
"overdue for zgroup"), which lets it learn the shape of a question rather than the names in it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from bot.rules import Rag

# 4.2, 04.2, "action 4.2", "4.2's"; not 4.2.1, not 2026.11 or a price.
REF = re.compile(r"(?<![\w.£$])(?:action\s+)?(\d{1,2})\.(\d{1,2})(?:'s)?(?![\d]|\.\d)", re.I)

# A rating as a person writes it. Colours are sure; the phrases count only where they stand
# apart from the note (see bot.language.update_reader).
COLOURS: dict[str, Rag] = {"red": Rag.RED, "amber": Rag.AMBER, "green": Rag.GREEN, "blue": Rag.BLUE}
PLURALS: dict[str, Rag] = {"reds": Rag.RED, "ambers": Rag.AMBER, "greens": Rag.GREEN, "blues": Rag.BLUE}
PHRASES: dict[str, Rag] = {
    "off track": Rag.RED,
    "off-track": Rag.RED,
    "at risk": Rag.AMBER,
    "slipping": Rag.AMBER,
    "on track": Rag.GREEN,
    "on-track": Rag.GREEN,
    "on target": Rag.GREEN,
    "complete": Rag.BLUE,
    "completed": Rag.BLUE,
    "done": Rag.BLUE,
    "all done": Rag.BLUE,
    "finished": Rag.BLUE,
}
_PHRASE = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(PHRASES, key=len, reverse=True))
    + r")(?![\w-])",
    re.I,
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?", re.I)

MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
DATE = re.compile(
    rf"\b(?:today|tomorrow|(?:next|this|last)\s+(?:week|month|year|{DAYS})|{DAYS})\b|"
    rf"\b\d{{4}}-\d{{1,2}}(?:-\d{{1,2}})?\b|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b|"
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?(?:{MONTHS})\.?(?:\s+\d{{4}})?\b(?:\s+\d{{4}}\b)?",
    re.I,
)
# "I" only as a word of its own: the i of "L&I" or "L and I" (an abbreviation) is not the asker.
MINE = re.compile(r"(?<![\w&])(?:my|mine|i'm|im|i've|ive|(?<!\b\w and )(?<!\b\w & )i)(?![\w&])", re.I)
ALL = re.compile(r"\b(?:all|everything|everyone|every action|whole plan|whole partnership|across the plan)\b", re.I)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    value: str


def clean(text: str) -> str:
    """One form for the text people paste: curly quotes, dashes and odd spaces made plain."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[‐‑‒–—―]", "-", text)
    return " ".join(text.split())


def normal(text: str) -> str:
    """Lower case, one spelling of "subgroup", punctuation as spaces (the dot kept in 4.2, & in L&I)."""
    text = clean(text).lower()
    text = re.sub(r"\bsub[\s-]+group", "subgroup", text)
    text = re.sub(r"[^\w&'.\s]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    return " ".join(text.split())


def refs(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), f"{int(m[1])}.{int(m[2])}") for m in REF.finditer(text)]


def colour_of(word: str) -> Rag | None:
    """A colour word, forgiving one slip of the keyboard in the longer ones ("ambre", "gren")."""
    key = word.lower()
    if key in COLOURS:
        return COLOURS[key]
    if len(key) >= 4:
        for colour in ("amber", "green"):
            if OSA.distance(key, colour) <= 1:
                return COLOURS[colour]
    return None


def ratings(text: str, *, plurals: bool) -> list[tuple[Span, bool]]:
    """Every rating in the text, in order, each with whether it is a colour (True) or a phrase."""
    found: list[tuple[Span, bool]] = []
    for m in _WORD.finditer(text):
        word = m.group().lower()
        rag = colour_of(word) or (PLURALS.get(word) if plurals else None)
        if rag is not None:
            found.append((Span(m.start(), m.end(), rag.value), True))
    for m in _PHRASE.finditer(text):
        found.append((Span(m.start(), m.end(), PHRASES[" ".join(m.group().lower().split())].value), False))
    return sorted(found, key=lambda f: f[0].start)


def rags_asked(text: str) -> tuple[Rag, ...]:
    """The ratings a question is about, in order and once each: "reds and ambers" is (red, amber)."""
    seen: list[Rag] = []
    for span, _ in ratings(text, plurals=True):
        rag = Rag(span.value)
        if rag not in seen:
            seen.append(rag)
    return tuple(seen)


def dates(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), m.group()) for m in DATE.finditer(text)]


def replace_spans(text: str, spans: list[tuple[Span, str]]) -> str:
    """The text with each span replaced by its placeholder (spans may not overlap)."""
    out, at = [], 0
    for span, placeholder in sorted(spans, key=lambda s: s[0].start):
        if span.start < at:
            continue
        out.append(text[at : span.start])
        out.append(f" {placeholder} ")
        at = span.end
    out.append(text[at:])
    return " ".join("".join(out).split())

"""Progress updates as plain rules: what a valid one needs, and the revised date a note may end with."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.rules import Due, Rag, parse_due

NOTE_LIMIT = 1000
MIN_REASON = 12  # characters: "delayed" alone says nothing the BMG can act on
UNDO_WINDOW = timedelta(minutes=10)

# How people say a rating; the longest phrase that fits wins ("off track" before "track").
RAG_PHRASES: dict[str, Rag] = {
    "red": Rag.RED,
    "off track": Rag.RED,
    "amber": Rag.AMBER,
    "at risk": Rag.AMBER,
    "slipping": Rag.AMBER,
    "green": Rag.GREEN,
    "on track": Rag.GREEN,
    "blue": Rag.BLUE,
    "complete": Rag.BLUE,
    "completed": Rag.BLUE,
    "done": Rag.BLUE,
    "finished": Rag.BLUE,
}
_RAG = "|".join(sorted((re.escape(p).replace(r"\ ", r"\s+") for p in RAG_PHRASES), key=len, reverse=True))
_REF = r"(?P<ref>\d{1,2}\.\d{1,2})"
_VERB = r"(?:(?P<verb>update|mark|set|rate)\s+)?"
_LINK = r"(?:\s+(?:is|as|to|now|at))*"
_SEP = r"(?:\s*(?:[:;,\-–—]|\bbecause\b|\bas\b)\s*|\s+|$)"
ONE_MESSAGE = re.compile(rf"^\s*{_VERB}{_REF}{_LINK}\s+(?P<rag>{_RAG})\b{_SEP}(?P<note>.*)$", re.I | re.S)
RATED_UNKNOWN = re.compile(rf"^\s*{_VERB}{_REF}{_LINK}\s+(?P<word>[A-Za-z]+)\s*:\s*(?P<note>.*)$", re.S)
START = re.compile(rf"^\s*(?:update|post an update|new update)(?:\s+(?:for\s+)?{_REF})?\s*$", re.I)
REVISED = re.compile(
    r"\s*[\[(]?\s*(?:revised|new)\s+date\s*:?\s*(?P<date>[A-Za-z]+\s+\d{4}|\d{4}-\d{2}(?:-\d{2})?)\s*[\])]?\s*\.?\s*$",
    re.I,
)


@dataclass(frozen=True)
class Draft:
    """An update being put together: whatever is known so far."""

    ref: str | None = None
    rag: Rag | None = None
    note: str | None = None
    revised: Due | None = None
    unknown_rag: str | None = None  # a word given where a rating was expected


def rag_of(phrase: str) -> Rag | None:
    return RAG_PHRASES.get(" ".join(phrase.lower().split()))


def read_update(text: str) -> Draft | None:
    """A one-message update ("4.2 amber: analysis delayed to November"), or None if it is not one."""
    if m := START.match(text):
        return Draft(ref=m["ref"])
    if m := ONE_MESSAGE.match(text):
        note, revised = split_revised(m["note"].strip())
        return Draft(ref=_ref(m["ref"]), rag=rag_of(m["rag"]), note=note or None, revised=revised)
    if (m := RATED_UNKNOWN.match(text)) and rag_of(m["word"]) is None and m["word"].lower() not in {"show", "history"}:
        note, revised = split_revised(m["note"].strip())
        return Draft(ref=_ref(m["ref"]), note=note or None, revised=revised, unknown_rag=m["word"])
    return None


def _ref(text: str) -> str:
    objective, action = text.split(".")
    return f"{int(objective)}.{int(action)}"


def split_revised(note: str) -> tuple[str, Due | None]:
    """A note may end with "(revised date: November 2026)"; that is the proposed new due date."""
    m = REVISED.search(note)
    if not m:
        return note, None
    try:
        return note[: m.start()].rstrip(" ,;.-"), parse_due(m["date"])
    except ValueError:
        return note, None


def note_problem(rag: Rag, note: str | None, measure: str) -> str | None:
    """What is wrong with the note for this rating, in words for the lead; None if it will do."""
    text = (note or "").strip()
    if len(text) > NOTE_LIMIT:
        return f"That note is {len(text)} characters; please keep it to {NOTE_LIMIT} (the BMG paper has one cell)."
    if rag in {Rag.RED, Rag.AMBER} and len(text) < MIN_REASON:
        return f"{rag.label} needs a note saying why, and what is being done about it."
    if rag is Rag.BLUE and len(text) < MIN_REASON:
        measure_text = measure.replace("\n", "; ") or "its success measure"
        return f"Blue (complete) needs evidence against the success measure: {measure_text}."
    return None


def complete(draft: Draft) -> bool:
    """Enough to store: an action, a rating, and a note (which Green may leave empty)."""
    return draft.ref is not None and draft.rag is not None and (draft.note is not None or draft.rag is Rag.GREEN)


def with_note(draft: Draft, note: str) -> Draft:
    text, revised = split_revised(note.strip())
    return replace(draft, note=text, revised=revised or draft.revised)

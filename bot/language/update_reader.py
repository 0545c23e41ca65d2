"""Reading a progress update out of a message, in the shapes people write one.

"4.2 amber: analysis delayed", "7.2 - red - trainer left, cohorts cancelled", "progress on 13.2:
audit done, on track", "13.2: green. three schools took part", "set 4.2 to amber - ...",
"analysis delayed to November, 4.2 amber", "amber: analysis delayed" (no reference yet).

The reader finds the reference, the rating and the note; it does not decide whether the message is
an update at all (the recogniser does, with the classifier's help). A colour word is always a
rating; a phrase such as "done" or "on track" is one only where it stands apart from the note
(next to the reference, or set off by punctuation or the message's ends), so "audit done, on
track" is Green with the note "audit done" and "13.2 audit done" has no rating. Where no rating
can be read, none is guessed.

The note is what the lead wrote, less the reference and a rating that is the update's own slot: a
colour inside a sentence ("4.2 should be green now, all done") is the rating, and stays in the note.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from bot.language.slots import Span, clean, ratings, refs
from bot.rules import Rag
from bot.updates import Draft, split_revised

START = re.compile(
    r"^\s*(?:i\s+(?:want|need|would like|'d like)\s+to\s+)?(?:post\s+an?\s+|new\s+|an\s+|do\s+an?\s+|add\s+an?\s+)?"
    r"(?:progress\s+)?update(?:\s+(?:for|on|to)?\s*(?:action\s+)?(?P<ref>\d{1,2}\.\d{1,2}))?\s*[.!?]*$",
    re.I,
)
LEAD_ONLY = re.compile(
    r"(?:\s|[-:;,.]|\b(?:quick|progress|update|updates|updated|for|on|re|ref|mark|set|rate|rating|action|is|as|"
    r"to|now|at|because|status|of|please|pls|ta|thanks|cheers|can you|could you|hi|morning|rag|the|an?|new)\b)*",
    re.I,
)
JOIN = re.compile(r"^(?:\s|[-:;,.]|\b(?:is|as|now|because|so|and)\b)+", re.I)
TRAIL_WORDS = re.compile(r"(?:\s|[-:;,]|\b(?:is|as|now|at|back\s+to|to|rag|rated|status|so|and|but)\b)+$", re.I)
LINK = re.compile(
    r"^(?:\s|[-:;,.(]|\b(?:is|as|to|now|at|was|are|be|rated|status|rag|still|currently|it's|its|it\s+is)(?!\w))*$", re.I
)
UNKNOWN_WORD = re.compile(
    r"^\s*(?:update\s+|mark\s+|set\s+|rate\s+)?(?:action\s+)?\d{1,2}\.\d{1,2}(?:\s+(?:is|as|to|now))*\s+"
    r"(?P<word>[A-Za-z]+)\s*:\s*\S",
    re.I,
)
SLOT_BEFORE = re.compile(r"(?:\s|\b(?:is|as|to|now|still|currently|rated|status|rag|back to|it's|its|it is)\b)+$", re.I)
SLOT_AFTER = re.compile(r"^(?:\s|\b(?:now|still|again|please|pls|thanks|ta)\b)+", re.I)
REASON = re.compile(r"^\s*because\b", re.I)  # "amber because the LA restructure has paused the review"
NOT_RATINGS = frozenset({"show", "history", "details", "status", "update", "progress", "about"})


@dataclass(frozen=True)
class Reading:
    draft: Draft
    tight: bool  # the rating sits next to the reference ("4.2 amber", "set 4.2 to red"): surely an update


def guided_start(text: str) -> Draft | None:
    """ "update", "update 4.2", "post an update": the guided dialog, at the action or the rating."""
    m = START.match(clean(text))
    if not m:
        return None
    ref = m["ref"]
    return Draft(ref=f"{int(ref.split('.')[0])}.{int(ref.split('.')[1])}" if ref else None)


def read_update(text: str) -> Reading | None:
    """The reference, rating and note in a message; None when it has neither a reference nor a rating."""
    said = clean(text)
    found_refs = refs(said)
    ref = found_refs[0] if found_refs else None
    rating, tight = _rating(said, ref)
    unknown = None
    if rating is None and (m := UNKNOWN_WORD.match(said)) and m["word"].lower() not in NOT_RATINGS:
        unknown = m["word"]
        rating = Span(m.start("word"), m.end("word"), "")
        tight = True
    if ref is None and rating is None:
        return None
    # The rating is taken out of the note only where it is the update's own slot; inside a sentence
    # ("4.2 should be green now, all done") it is still the rating, and the sentence stays whole.
    slotted = rating is not None and (unknown is not None or _slot(said, rating, ref))
    note, revised = split_revised(_note(said, [s for s in (ref, rating if slotted else None) if s is not None]))
    draft = Draft(
        ref=ref.value if ref else None,
        rag=Rag(rating.value) if rating is not None and rating.value else None,
        note=note or None,
        revised=revised,
        unknown_rag=unknown,
    )
    return Reading(draft, tight)


def _rating(said: str, ref: Span | None) -> tuple[Span | None, bool]:
    candidates = ratings(said, plurals=False)
    colours = [span for span, colour in candidates if colour]
    if colours:
        chosen = min(colours, key=lambda s: _distance(s, ref)) if ref else colours[0]
        return chosen, ref is not None and _beside(said, chosen, ref)
    apart = [span for span, _ in candidates if _stands_apart(said, span, ref)]
    if not apart:
        return None, False
    chosen = min(apart, key=lambda s: _distance(s, ref)) if ref else apart[0]
    return chosen, ref is not None and _beside(said, chosen, ref)


def _distance(span: Span, ref: Span | None) -> int:
    if ref is None:
        return span.start
    return span.start - ref.end if span.start >= ref.end else ref.start - span.end


def _beside(said: str, rating: Span, ref: Span) -> bool:
    between = said[ref.end : rating.start] if rating.start >= ref.end else said[rating.end : ref.start]
    return bool(LINK.match(between)) and len(between) <= 20


def _stands_apart(said: str, span: Span, ref: Span | None) -> bool:
    """A phrase rating ("done", "on track") that is a slot of its own, not words of the note."""
    return _slot(said, span, ref)


def _slot(said: str, span: Span, ref: Span | None) -> bool:
    """A rating that stands apart from the note: next to the reference ("4.2 amber", "set 4.2 to
    red"), or marked off by punctuation or the message's ends on both sides ("amber: ...",
    "..., on track", "- red -"). "13.2 audit done" and "should be green now" are words of the note."""
    if ref is not None and _beside(said, span, ref):
        return True
    start = ref.end if ref is not None and ref.end <= span.start else 0
    before = said[start : span.start]
    ref_follows = ref is not None and ref.start >= span.end  # "amber on 4.2 - ..."
    after = said[span.end : ref.start] if ref is not None and ref_follows else said[span.end :]
    if REASON.match(after):
        after = ","
    before, after = SLOT_BEFORE.sub("", before), SLOT_AFTER.sub("", after)  # ", now blue", "green now, ..."
    opens = not before.strip() or LEAD_ONLY.fullmatch(before) is not None or before.rstrip()[-1] in "-:;,.("
    closes = not after.strip() or after.lstrip()[0] in "-:;,.()!" or (ref_follows and bool(LEAD_ONLY.fullmatch(after)))
    return opens and closes


def _note(said: str, spans: list[Span]) -> str:
    """What is left once the reference, the rating and the words that join them are taken out.

    Before the first of them only leading words ("progress on", "update for") are dropped, so a
    note written first ("analysis delayed, 4.2 amber") is kept; between and after them the words
    that join a rating to its reference ("is", "to", "because") are dropped.
    """
    if not spans:
        return said.strip(" -:;,?")
    ordered = sorted(spans, key=lambda s: s.start)
    pieces = [said[: ordered[0].start]]
    pieces += [said[a.end : b.start] for a, b in itertools.pairwise(ordered)]
    pieces.append(said[ordered[-1].end :])
    kept = []
    for index, piece in enumerate(pieces):
        if LEAD_ONLY.fullmatch(piece) or (index and LINK.fullmatch(piece)):
            continue
        text = piece if index == 0 else JOIN.sub("", piece)
        kept.append(TRAIL_WORDS.sub("", text).strip(" -:;,.?"))
    return " ".join(k for k in kept if k).strip(" -:;,?")

"""Text -> intent: the classifier says what a message is for, the slot readers what it is about,
and a few rules keep what a lead typed from being lost.

- A message that holds an action reference and a rating is an update, never a query; one with a
  reference and a note is an update when the classifier is sure, and otherwise the bot asks
  ("Post this as an update to 5.1, Amber?") rather than guess either way.
- A rating and a note without a reference is an update whose action is still to be asked.
- A message the classifier is not sure about is not understood, with the nearest things the bot
  can do offered instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from bot.language.classifier import BRACED, IntentModel, corpus, features, model
from bot.language.intents import Intent, IntentName, Scope
from bot.language.slots import ALL, MINE, Span, clean, normal, rags_asked, ratings, refs
from bot.language.subgroups import SubgroupIndex, index_for
from bot.language.update_reader import Reading, guided_start, read_update
from bot.rules import Rag
from bot.updates import Draft

SURE = -0.5  # the classifier's margin below which its top intent is not trusted
UPDATE_SURE = 0.0  # a reference and a note read as an update without asking
UPDATE_MAYBE = -0.6  # ... or, above this, the bot asks whether it is one
QUESTION = re.compile(
    r"^\s*(?:is|are|was|has|have|did|does|what|which|why|how|when|where|who|can|could)\b.*\?\s*$", re.I
)
RATING_FIRST = re.compile(r"^(?:red|amber|green|blue)\s*[-:;]\s*\w+\s+\w+")
ASKING = re.compile(r"^\s*(?:who|what|when|where|which|how|any|anything|is|are|has|have|can|could|did|does)\b", re.I)
BARE = re.compile(r"^(?:show|see|and|or|please|pls|plz|thanks|cheers|ta|the|ones|actions|only|just|all|\s)*$")
# What the bot may offer when it did not understand: questions only. Nothing that changes something
# (an update, undo, redact, snooze, a meeting, a channel's link, accepting a date) is ever a guess.
OFFERABLE = (
    IntentName.MY_ACTIONS,
    IntentName.OVERDUE,
    IntentName.DUE_SOON,
    IntentName.BY_RAG,
    IntentName.NO_UPDATE,
    IntentName.MISSED_REPORTS,
    IntentName.SHOW,
    IntentName.HISTORY,
    IntentName.SUBGROUP_ACTIONS,
    IntentName.NEXT_BMG,
    IntentName.OVERVIEW,
    IntentName.SUMMARY_PREVIEW,
    IntentName.PAPER,
    IntentName.HELP,
)
GENERAL = (IntentName.MY_ACTIONS, IntentName.OVERVIEW, IntentName.HELP)  # when nothing is near
NEAR = -0.8  # the classifier's margin above which an intent is near enough to what was typed to offer
NEEDS_REF = frozenset({IntentName.SHOW, IntentName.HISTORY})
ABOUT_A_GROUP = frozenset(  # questions that may be asked of a sub-group
    {
        IntentName.OVERDUE,
        IntentName.DUE_SOON,
        IntentName.BY_RAG,
        IntentName.NO_UPDATE,
        IntentName.MISSED_REPORTS,
        IntentName.SUBGROUP_ACTIONS,
        IntentName.OVERVIEW,
        IntentName.SUMMARY_PREVIEW,
    }
)


def _surely_an_update(reading: Reading, fixed: str, text: str) -> bool:
    """An action's reference with a rating we know beside it and a note ("4.2 amber: returns late"),
    neither asking nor a question: an update, whatever the classifier would make of the note (so it is
    not asked: a long note costs it the most)."""
    draft = reading.draft
    return (
        reading.tight
        and draft.ref is not None
        and draft.rag is not None
        and bool(draft.note)
        and not ASKING.match(fixed)
        and not QUESTION.match(text)
    )


def vocabulary(groups: Sequence[tuple[str, Sequence[str]]]) -> SubgroupIndex:
    """The sub-groups of a partnership (names and aliases), indexed once and reused."""
    return index_for(tuple((name, tuple(aliases)) for name, aliases in groups))


def recognise(text: str, groups: SubgroupIndex | None = None, classifier: IntentModel | None = None) -> Intent:
    """Read one message against a partnership's sub-groups (with the model trained on the whole
    corpus, unless another is given, as the language report does for each fold)."""
    said = normal(text)
    if not said:
        return Intent(IntentName.UNKNOWN, suggestions=GENERAL)
    model_ = classifier or model()
    found = groups.find(said) if groups else None
    fixed = model_.corrected(said)  # slips of the keyboard mended, for reading what it is for
    if (start := guided_start(fixed)) is not None:
        return Intent(IntentName.UPDATE, ref=start.ref, draft=start, rest=text)
    reading = read_update(text)
    if reading is not None and _surely_an_update(reading, fixed, text):
        draft = reading.draft
        return Intent(IntentName.UPDATE, ref=draft.ref, rags=_rags(draft), draft=draft, rest=text)
    unmatched, surely = ("", False) if found else _unnamed_group(said)
    named = found.span if found else _span_of(said, unmatched) if surely else None  # read as "zgroup"
    scores = model_.scores(model_.corrected(features(said, named)))
    if unmatched and not surely and (scores[0][0] is IntentName.UNKNOWN or scores[0][1] < SURE):
        # "actions for the choir": unsure as it stands, but sure once the name is read as a group's
        as_group = model_.scores(model_.corrected(features(said, _span_of(said, unmatched))))
        if as_group[0][0] in ABOUT_A_GROUP and as_group[0][1] >= 0:
            scores = as_group
    top, certainty = scores[0]
    update_p = dict(scores).get(IntentName.UPDATE, -1.0)
    ref_spans = refs(fixed)
    ref = ref_spans[0].value if ref_spans else None
    rags = rags_asked(fixed)
    leftover = _without(fixed, [*ref_spans, *(span for span, _ in ratings(fixed, plurals=True))])
    if ref is not None and not rags and BARE.match(leftover):  # "4.2", "show 4.2 please"
        return Intent(IntentName.SHOW, ref=ref, rest=text)
    if ref is None and rags and BARE.match(leftover):  # "amber", "reds and ambers"
        return Intent(IntentName.BY_RAG, rags=rags, scope=_scope(said, None), rest=text)

    if reading is not None and ASKING.match(fixed) and top is not IntentName.UPDATE and not _coloured(fixed):
        reading = None  # a question about an action ("when is 2.4 due to be done"), not news of it
    if reading is not None:
        draft = reading.draft
        rated = draft.rag is not None or draft.unknown_rag is not None
        if draft.ref and rated:
            sure = (reading.tight or top is IntentName.UPDATE) and not QUESTION.match(text)
            return Intent(IntentName.UPDATE, ref=draft.ref, rags=_rags(draft), draft=draft, confirm=not sure, rest=text)
        if draft.ref and draft.note and top is IntentName.UPDATE:
            return Intent(IntentName.UPDATE, ref=draft.ref, draft=draft, confirm=certainty < UPDATE_SURE, rest=text)
        if draft.ref and draft.note and certainty < 0 and update_p >= UPDATE_MAYBE:  # neither reading is sure
            return Intent(IntentName.UPDATE, ref=draft.ref, draft=draft, confirm=True, rest=text)
        opens_with_rating = RATING_FIRST.match(clean(text).lower()) is not None  # "red - funding withdrawn"
        if (
            draft.ref is None
            and draft.rag is not None
            and draft.note
            and (top is IntentName.UPDATE or opens_with_rating)
        ):
            return Intent(IntentName.UPDATE, rags=_rags(draft), draft=draft, rest=text)
    if top is IntentName.UPDATE:  # an update with neither reference nor rating: the guided dialog
        top, certainty = next(((n, p) for n, p in scores if n is not IntentName.UPDATE), scores[0])
        if update_p >= UPDATE_SURE:
            return Intent(IntentName.UPDATE, draft=reading.draft if reading else None, rest=text)

    if certainty < SURE or top is IntentName.UNKNOWN or (top in NEEDS_REF and ref is None):
        if ref is not None and certainty < SURE:
            return Intent(IntentName.SHOW, ref=ref, rest=text)
        return Intent(IntentName.UNKNOWN, rest=text, suggestions=_suggestions(scores, ref))
    if top is IntentName.SUBGROUP_ACTIONS and rags:  # a sub-group's reds are a question about reds
        top = IntentName.BY_RAG
    if top is IntentName.BY_RAG and not rags:
        return Intent(IntentName.UNKNOWN, rest=text, suggestions=_suggestions(scores, ref))
    subgroup = found.name if found else None
    return Intent(
        top,
        ref=ref,
        rags=rags,
        subgroup=subgroup,
        scope=_scope(said, subgroup),
        rest=text,
        unmatched=unmatched,
    )


def _without(said: str, spans: Sequence[Span]) -> str:
    kept, at = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        kept.append(said[at : span.start])
        at = max(at, span.end)
    kept.append(said[at:])
    return " ".join(" ".join(kept).split())


def _span_of(said: str, name: str) -> Span | None:
    at = said.rfind(name) if name else -1
    return Span(at, at + len(name), name) if at >= 0 else None


def _coloured(said: str) -> bool:
    return any(colour for _, colour in ratings(said, plurals=False))


def _rags(draft: Draft) -> tuple[Rag, ...]:
    return (draft.rag,) if draft.rag is not None else ()


def _suggestions(scores: Sequence[tuple[IntentName, float]], ref: str | None) -> tuple[IntentName, ...]:
    """The two or three nearest things to offer: the questions the classifier finds near what was
    typed, the nearest first; where fewer than three are near, the general ones (my actions, the big
    picture, help) after them."""
    near = [n for n, p in scores if p >= NEAR and n in OFFERABLE and (ref is not None or n not in NEEDS_REF)]
    chosen: list[IntentName] = []
    for name in [*near, *GENERAL]:
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen[:3])


UNNAMED = re.compile(
    r"\b(?:for|of)\s+(?:the\s+)?(?P<name>[a-z][\w&' ]{1,40}?)\s*(?P<kind>\b(?:group|subgroup|panel|team|lot))?$"
)
# "L&I", "l & i", "l and i": an abbreviation of a sub-group's name, wherever it stands.
ABBREVIATION = re.compile(r"(?<![\w&])[a-z]{1,4}\s?&\s?[a-z]{1,4}(?![\w&])|(?<![\w&])[a-z] and [a-z](?![\w&])")
NOT_A_NAME = frozenset(
    "me us you our my your their this that these those whole same other own each every any all the a an "
    "everyone everything bmg business management meeting plan".split()  # the BMG is known as a meeting too
)
# Words of time that a question may end with ("overdue for the next fortnight"), beyond the corpus's.
TIME_WORDS = frozenset("fortnight fortnights quarter quarters term terms summer autumn winter spring christmas".split())


def _unnamed_group(said: str) -> tuple[str, bool]:
    """ "overdue for the choir", "ambers in L&I": a sub-group seemingly named that the partnership
    does not have, and whether it surely names a group. A name is an abbreviation or words followed
    by "group" (or "panel", "team", "lot"), both sure; or, less surely, words at the end that the
    corpus never uses to ask a question ("for the choir", but not "for the quarter")."""
    if abbreviation := ABBREVIATION.search(said):
        return abbreviation.group(), True
    m = UNNAMED.search(said)
    if not m:
        return "", False
    words = m["name"].split()
    if m["kind"]:
        ordinary = all(w in NOT_A_NAME or MINE.fullmatch(w) for w in words)
        return ("", False) if ordinary else (" ".join(words), True)
    familiar = _asking_words()
    strange = [i for i, w in enumerate(words) if w not in familiar and w not in TIME_WORDS and not MINE.fullmatch(w)]
    if not strange or len(words) > 4:
        return "", False
    return " ".join(words[strange[0] : strange[-1] + 1]), False


@cache
def _asking_words() -> frozenset[str]:
    """Every word the corpus uses to ask something or chat (sub-group names, updates and what the bot
    cannot do left out): words that are not the name of a group."""
    asked = (e for e in corpus() if e.label not in {IntentName.UPDATE, IntentName.UNKNOWN})
    return frozenset(w for e in asked for w in normal(BRACED.sub(" ", e.text)).split())


def _scope(said: str, subgroup: str | None) -> Scope:
    if subgroup is not None:
        return Scope.SUBGROUP
    if MINE.search(said):
        return Scope.MINE
    if ALL.search(said):
        return Scope.ALL
    return Scope.DEFAULT

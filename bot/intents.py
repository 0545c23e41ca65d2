"""Text -> intent: a deterministic, rule-based recogniser with forgiving matching.

Each intent is declared once in `PHRASES` with the phrases that name it. The recogniser finds every
declared phrase in the text (single words tolerate a typo) and the longest match wins, so
"due before the next BMG" is a due-date question although it contains "next BMG". What the intent is
about (an action reference, a RAG colour, a sub-group, "mine" or "all") is read separately as slots.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from bot.rules import Rag
from bot.updates import Draft, read_update


class IntentName(enum.StrEnum):
    HELP = "help"
    MY_ACTIONS = "my_actions"
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    BY_RAG = "by_rag"
    NO_UPDATE = "no_update"
    SHOW = "show"
    HISTORY = "history"
    SUBGROUP_ACTIONS = "subgroup_actions"
    NEXT_BMG = "next_bmg"
    LINK_CHANNEL = "link_channel"
    UPDATE = "update"
    UNDO = "undo"
    SUMMARY_PREVIEW = "summary_preview"
    SET_BMG = "set_bmg"
    SNOOZE = "snooze"
    PAPER = "paper"
    MORE = "more"
    OVERVIEW = "overview"
    MISSED_REPORTS = "missed_reports"
    ACCEPT_DATE = "accept_date"
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    ACKNOWLEDGE = "acknowledge"
    UNKNOWN = "unknown"


class Scope(enum.StrEnum):
    DEFAULT = "default"  # the conversation decides: a linked channel's sub-group, or the person's own
    MINE = "mine"
    SUBGROUP = "subgroup"
    ALL = "all"


PHRASES: dict[IntentName, tuple[str, ...]] = {
    IntentName.HELP: ("help", "what can you do", "commands", "how do i", "hello", "hi"),
    IntentName.MY_ACTIONS: ("my actions", "what am i leading", "what do i lead", "my plan", "what do i own"),
    IntentName.OVERDUE: ("overdue", "late", "past due", "behind"),
    IntentName.DUE_SOON: ("due soon", "due", "coming up", "upcoming", "due before the next bmg", "due before bmg"),
    IntentName.BY_RAG: ("rag",),
    IntentName.NO_UPDATE: ("no update", "no updates", "missing", "not updated", "without an update", "need updating"),
    IntentName.SHOW: ("show", "details", "tell me about", "what about", "status of"),
    IntentName.HISTORY: ("history", "past updates", "previous updates"),
    IntentName.SUBGROUP_ACTIONS: ("actions for", "actions of", "what does", "owe", "owes"),
    IntentName.NEXT_BMG: ("next bmg", "when is the bmg", "next meeting", "bmg date", "when is bmg"),
    IntentName.LINK_CHANNEL: ("link this channel", "link channel", "link this channel to"),
    IntentName.MORE: ("more", "next page", "show more"),
    IntentName.UNDO: ("undo", "undo that", "withdraw my last update", "take that back"),
    IntentName.SUMMARY_PREVIEW: ("summary preview", "preview summary", "preview the summary", "summary"),
    IntentName.SET_BMG: ("set bmg", "set the bmg", "set next bmg", "set the next bmg"),
    IntentName.SNOOZE: ("snooze", "stop reminding me", "no reminders"),
    IntentName.PAPER: ("bmg paper", "the paper", "paper", "export the plan", "download the plan"),
}

RAG_WORDS: dict[str, Rag] = {
    "red": Rag.RED,
    "reds": Rag.RED,
    "amber": Rag.AMBER,
    "ambers": Rag.AMBER,
    "green": Rag.GREEN,
    "greens": Rag.GREEN,
    "blue": Rag.BLUE,
    "blues": Rag.BLUE,
    "complete": Rag.BLUE,
    "completed": Rag.BLUE,
}
MINE_WORDS = ("mine", "my", "i", "i'm", "im")
ALL_WORDS = ("all", "everything", "whole plan", "the plan", "everyone", "partnership")
FILLER = frozenset(
    "a an the for of to by in on is are any anything what whats what's which show me list please our "
    "actions action sub group subgroup sub-group there do does have has with and or that this about owe owes "
    "update updates when me us we list".split()
)
REF = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?![\d.])")
SUBGROUP_CUTOFF = 85
TYPO_CUTOFF = 85


@dataclass(frozen=True)
class Intent:
    name: IntentName
    ref: str | None = None
    rag: Rag | None = None
    subgroup: str | None = None  # the sub-group name or alias that matched, as known to the bot
    scope: Scope = Scope.DEFAULT
    rest: str = ""  # words left over, e.g. the sub-group asked for in "link this channel to ..."
    unmatched: str = ""  # of those, the ones that are not slots or filler: a name not recognised
    draft: Draft | None = None  # an update, read from the message


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w'.\s-]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep the dot only inside a reference like 4.2
    return " ".join(text.split())


def recognise(text: str, subgroup_names: Sequence[str] = ()) -> Intent:
    """Read one message. `subgroup_names` are every sub-group name and alias the partnership knows."""
    draft = read_update(text)
    if draft is not None:
        return Intent(IntentName.UPDATE, ref=draft.ref, rag=draft.rag, draft=draft)
    said = normalise(text)
    ref_match = REF.search(said)
    ref = f"{int(ref_match[1])}.{int(ref_match[2])}" if ref_match else None
    words = said.split()
    rag = next((RAG_WORDS[w] for w in words if w in RAG_WORDS), None)
    named, name, _, rest = _read(said, subgroup_names)

    if name is IntentName.LINK_CHANNEL:
        target = re.sub(r"^(to|with)\s+", "", rest).strip()
        return Intent(name, subgroup=named or _match_subgroup(target, subgroup_names), rest=target)
    if name is None:
        name = _fallback(ref, rag, said, subgroup_names)
    if name in {IntentName.SHOW, IntentName.HISTORY} and ref is None:
        return Intent(IntentName.UNKNOWN, rest=said) if name is IntentName.SHOW else Intent(name)
    if name is IntentName.BY_RAG and rag is None:
        name = IntentName.UNKNOWN
    leftover = _strip_slots(rest)
    subgroup = named or _match_subgroup(leftover, subgroup_names)
    scope = _scope(words, said, subgroup)
    return Intent(name, ref=ref, rag=rag, subgroup=subgroup, scope=scope, rest=rest, unmatched=leftover)


def _read(said: str, names: Sequence[str]) -> tuple[str | None, IntentName | None, str | None, str]:
    """Find a sub-group written out in full and an intent phrase, without letting them share words.

    "missing updates for the missing group" names the Missing group and asks about missing updates;
    "next BMG" asks when the next meeting is, though BMG is also a group. Both readings are tried,
    the sub-group taken out first or the phrase taken out first, and the one that accounts for more
    of the text wins (the sub-group first, on a tie).
    """
    readings = []
    for subgroup_first in (True, False):
        if subgroup_first:
            named, text = _literal_subgroup(said, names)
            name, phrase = _best_phrase(text)
            rest = _remove(text, phrase) if phrase else text
        else:
            name, phrase = _best_phrase(said)
            text = _remove(said, phrase) if phrase else said
            named, rest = _literal_subgroup(text, names)
        covered = len(phrase or "") + len(normalise(named) if named else "")
        readings.append((covered, subgroup_first, (named, name, phrase, rest)))
    return max(readings, key=lambda r: (r[0], r[1]))[2]


def _literal_subgroup(said: str, names: Sequence[str]) -> tuple[str | None, str]:
    """The longest sub-group name or alias written out in the text, and the text without it."""
    for name in sorted(names, key=len, reverse=True):
        pattern = rf"(?<!\w){re.escape(normalise(name))}(?!\w)"
        if re.search(pattern, said):
            return name, " ".join(re.sub(pattern, " ", said, count=1).split())
    return None, said


def _best_phrase(said: str) -> tuple[IntentName | None, str | None]:
    best: tuple[int, IntentName | None, str | None] = (0, None, None)
    words = said.split()
    for name, phrases in PHRASES.items():
        for phrase in phrases:
            if _contains(said, words, phrase) and len(phrase) > best[0]:
                best = (len(phrase), name, phrase)
    return best[1], best[2]


def _contains(said: str, words: Sequence[str], phrase: str) -> bool:
    if " " in phrase:
        return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", said) is not None
    if phrase in words:
        return True
    # a single word may carry one slip of the keyboard ("overdeu"), if it is long enough to be sure
    return len(phrase) >= 6 and any(len(w) >= 5 and fuzz.ratio(w, phrase) >= TYPO_CUTOFF for w in words)


def _remove(said: str, phrase: str) -> str:
    if " " in phrase or phrase in said.split():
        return " ".join(re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", " ", said, count=1).split())
    return " ".join(w for w in said.split() if fuzz.ratio(w, phrase) < TYPO_CUTOFF)


def _fallback(ref: str | None, rag: Rag | None, said: str, subgroup_names: Sequence[str]) -> IntentName:
    """No phrase named an intent: a bare reference means show it, a bare colour lists by RAG,
    a bare sub-group name lists its actions."""
    if ref is not None:
        return IntentName.SHOW
    if rag is not None:
        return IntentName.BY_RAG
    if _match_subgroup(_strip_slots(said), subgroup_names):
        return IntentName.SUBGROUP_ACTIONS
    if said and not _strip_slots(said):  # only "actions", "our actions", "list": the conversation's own
        return IntentName.SUBGROUP_ACTIONS
    return IntentName.UNKNOWN


def _strip_slots(text: str) -> str:
    words = [w for w in text.split() if w not in FILLER and w not in RAG_WORDS and w not in MINE_WORDS]
    words = [w for w in words if not REF.fullmatch(w) and w not in ALL_WORDS]
    return " ".join(words)


def _match_subgroup(text: str, names: Sequence[str]) -> str | None:
    """The sub-group name or alias closest to `text`, if close enough; "QA subgroup", "children's qa"
    and "cdop" all find theirs, and a handful of unrelated words finds nothing."""
    query = utils.default_process(text)
    if not query or not names:
        return None
    found = process.extractOne(
        query, list(names), scorer=fuzz.token_set_ratio, processor=utils.default_process, score_cutoff=SUBGROUP_CUTOFF
    )
    return str(found[0]) if found else None


def _scope(words: Iterable[str], said: str, subgroup: str | None) -> Scope:
    if subgroup is not None:
        return Scope.SUBGROUP
    words = list(words)
    if any(w in MINE_WORDS for w in words):
        return Scope.MINE
    if any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", said) for a in ALL_WORDS):
        return Scope.ALL
    return Scope.DEFAULT

"""Finding the sub-group a message names: by name, alias, abbreviation or distinctive words.

Built once per set of sub-groups (a partnership's), then asked once per message. In order:
1. a name or alias written out ("children's qa", "CDOP"), the longest first;
2. an abbreviation made from a name's initials ("L&I", "LI", "L and I" for Learning and
   Improvement), unless two sub-groups would share it;
3. words only one sub-group has: a pair anywhere ("quality assurance", "child exploitation",
   even though "child" alone says nothing),
   a single word only where it is clearly a group ("overdue for training", "the exploitation lot");
4. a close spelling of a name or alias ("learning and improvment").

"BMG" is also the Business Management Group, but "since the BMG", "next BMG" or "the BMG paper"
speak of the meeting, and are never read as the sub-group.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rapidfuzz import fuzz, process

from bot.language.slots import Span, normal

ORDINARY_WORDS = frozenset(
    "a am an as at be by do go he hi if in is it me my no of oh ok on or so to up us we "
    "and are bad bit can did doc dog eh end for get got had has her him his its let lot man may new "
    "nor not now off old one our out own put sat saw say see set she sir six ten the too two was way "
    "who why yes yet you".split()
)
GENERIC = frozenset(
    "a an and the of for in on to by with group groups subgroup subgroups sub sub-group workgroup work team "
    "panel network board partnership partnerships children's childrens children child young people nscp ncscp "
    "scp lscp safeguarding steering strategic session meeting & - and/or".split()
)
JOINING = frozenset("a an and the of for in on to by with & - and/or".split())
QUESTION_WORDS = frozenset(
    "missing update updates overdue due late show history actions action plan report reports status review "
    "summary preview paper more next last red amber green blue complete done all my".split()
)
CUE_BEFORE = r"(?:for|of|from|by|does|do|did|has|have|re|about)"
CUE_AFTER = r"(?:group|subgroup|sub-group|sub group|lot|team|panel|actions|action|people|folk|'s)"
MEETING = re.compile(
    r"\b(?:(?:since|before|after|at|until|till|ahead of|from|to|next|last|previous|upcoming|this|coming|each|every|"
    r"set|add|book|move|when's|when is)"
    r"\s+(?:the\s+)?(?:next\s+|last\s+|previous\s+|upcoming\s+)?bmgs?\b(?:\s+meetings?)?|"
    r"bmg\s+(?:meetings?|dates?|papers?|summary|summaries|day|cycle))",
    re.I,
)
FUZZY_CUTOFF = 88
# The BMG is a meeting as often as it is a sub-group: its names count as the sub-group only where
# something is said to belong to it ("actions for the BMG", "the BMG's reds").
MEETING_NAMES = re.compile(r"\b(?:ncscp |nscp )?(?:bmg|business management group)\b")
OWNER_BEFORE = re.compile(r"(?:for|of|from|by|does|do|did|has|have)\s+(?:the\s+)?$")
OWNER_AFTER = re.compile(r"^(?:'s|\s+(?:actions?|owns?|leads?|owes?|sub ?group|group)\b)")
NOT_OWNER_AFTER = re.compile(r"^\s+(?:meetings?|dates?|days?|papers?|summary|on|is|in|coming|when)\b")
MEETING_WORDS_BEFORE = re.compile(r"\b(?:paper|papers|summary|preview|report|doc|document|date|meeting)\b[\w\s]{0,12}$")


@dataclass(frozen=True)
class Found:
    name: str  # the name or alias as the partnership knows it
    span: Span


def key(text: str) -> str:
    return normal(text)


def initials(name: str) -> list[str]:
    """Abbreviations people make of a name: "Learning and Improvement subgroup" gives li, l&i, l and i.

    A plain run of initials that is also an ordinary word ("do", "sir") is left out.
    """
    words = [w for w in key(name).split() if w not in GENERIC and not w.isdigit()]
    if len(words) < 2:
        return []
    letters = [w[0] for w in words]
    joined = "".join(letters)
    forms = set() if joined in ORDINARY_WORDS else {joined}
    if "and" in key(name).split() and len(letters) == 2:
        forms.update({"&".join(letters), " & ".join(letters), " and ".join(letters)})
    return sorted(forms)


class SubgroupIndex:
    def __init__(self, groups: Sequence[tuple[str, Sequence[str]]]) -> None:
        """`groups`: each sub-group's name and aliases."""
        self.literal: list[tuple[str, str]] = []  # (key, name or alias)
        self.canonical: dict[str, str] = {}  # name or alias -> the sub-group's name
        for name, aliases in groups:
            for label in (name, *aliases):
                self.literal.append((key(label), label))
                self.canonical[label] = name
        self.literal.sort(key=lambda item: len(item[0]), reverse=True)
        known = {k for k, _ in self.literal}
        made: dict[str, set[str]] = {}
        for name, aliases in groups:
            for label in (name, *aliases):
                for form in initials(label):
                    if form not in known:
                        made.setdefault(form, set()).add(name)
        self.abbreviations = {form: names.pop() for form, names in made.items() if len(names) == 1}
        self.words, self.pairs = self._distinctive(groups)

    @staticmethod
    def _distinctive(groups: Sequence[tuple[str, Sequence[str]]]) -> tuple[dict[str, str], dict[str, str]]:
        """Words and adjacent pairs that only one sub-group's names use (a pair may open or close
        with a generic word, "child exploitation", so long as the other word says something)."""
        word_owners: dict[str, set[str]] = {}
        pair_owners: dict[str, set[str]] = {}
        for name, aliases in groups:
            for label in (name, *aliases):
                words = key(label).split()
                for word in words:
                    if word not in GENERIC and len(word) >= 4:
                        word_owners.setdefault(word, set()).add(name)
                for first, second in itertools.pairwise(words):
                    if _pair_names(first, second):
                        pair_owners.setdefault(f"{first} {second}", set()).add(name)
        single = {w: next(iter(o)) for w, o in word_owners.items() if len(o) == 1 and w not in QUESTION_WORDS}
        pairs = {p: next(iter(o)) for p, o in pair_owners.items() if len(o) == 1}
        return single, pairs

    def find(self, text: str) -> Found | None:
        """The sub-group the text (in its `normal` form) names, with where; None if it names none."""
        said = _meetings_masked(MEETING.sub(lambda m: " " * len(m.group()), text))
        for phrase, pattern, name in self._phrases:
            if phrase in said and (m := pattern.search(said)):  # most names are not in the text at all
                return Found(name, Span(m.start(), m.end(), m.group()))
        for word, pattern, name in self._cued:
            if word in said and (cued := pattern.search(said)):
                group = 1 if cued.group(1) else 2
                return Found(name, Span(cued.start(group), cued.end(group), cued.group(group)))
        return self._close(said)

    @cached_property
    def _phrases(self) -> list[tuple[str, re.Pattern[str], str]]:
        """Names and aliases, then abbreviations (longest first), then distinctive pairs, as whole
        words, in the order they are tried: compiled once, since every message is looked through."""
        abbreviations = sorted(self.abbreviations.items(), key=lambda item: len(item[0]), reverse=True)
        found = [(label_key, label) for label_key, label in self.literal if label_key]
        return [(phrase, _whole(phrase), name) for phrase, name in (*found, *abbreviations, *self.pairs.items())]

    @cached_property
    def _cued(self) -> list[tuple[str, re.Pattern[str], str]]:
        """Distinctive single words, with a cue before or after them ("overdue for training")."""
        return [
            (
                word,
                re.compile(
                    rf"(?:\b{CUE_BEFORE}\s+(?:the\s+)?)({re.escape(word)})\b|\b({re.escape(word)})\s+{CUE_AFTER}"
                ),
                name,
            )
            for word, name in self.words.items()
        ]

    def _close(self, said: str) -> Found | None:
        """A name or alias of three words or more, spelt a little wrong, in a window of as many words."""
        words = list(re.finditer(r"[\w&']+", said))
        best: tuple[float, Found] | None = None
        choices = {k: label for k, label in self.literal if len(k) >= 10}
        for size in (2, 3, 4, 5):
            for i in range(len(words) - size + 1):
                window = said[words[i].start() : words[i + size - 1].end()]
                found = process.extractOne(window, list(choices), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
                if found and (best is None or found[1] > best[0]):
                    label = choices[found[0]]
                    best = (found[1], Found(label, Span(words[i].start(), words[i + size - 1].end(), window)))
        return best[1] if best else None


def _pair_names(first: str, second: str) -> bool:
    """Whether two adjacent words of a name could, between them, name one sub-group: both say
    something, or one does and the other is a generic word of a name ("child", "group"), not a
    joining word ("and", "of") that any question might hold."""
    if first in JOINING or second in JOINING:
        return False
    telling = [w for w in (first, second) if w not in GENERIC]
    if len(telling) == 2:
        return True
    return len(telling) == 1 and len(telling[0]) >= 3 and telling[0] not in QUESTION_WORDS | ORDINARY_WORDS


def _meetings_masked(said: str) -> str:
    """The text with every BMG name blanked out unless something is said to belong to it."""

    def owner(m: re.Match[str]) -> str:
        before, after = said[: m.start()], said[m.end() :]
        if NOT_OWNER_AFTER.match(after) or MEETING_WORDS_BEFORE.search(before):
            return " " * len(m.group())
        return m.group() if OWNER_BEFORE.search(before) or OWNER_AFTER.match(after) else " " * len(m.group())

    return MEETING_NAMES.sub(owner, said)


def _whole(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w&]){re.escape(phrase)}(?![\w&])")


@lru_cache(maxsize=64)
def index_for(groups: tuple[tuple[str, tuple[str, ...]], ...]) -> SubgroupIndex:
    """One index per partnership's set of sub-groups, built once and reused."""
    return SubgroupIndex(groups)


def nearest(said: str, groups: Sequence[tuple[str, Sequence[str]]], count: int = 3) -> list[str]:
    """The sub-groups whose names, aliases or abbreviations are closest to a name the bot did not
    know ("the qa lot" for "QA group"), the closest first: what to offer in its place."""
    labels: list[tuple[str, str]] = []  # (the form compared, the sub-group's name)
    for name, aliases in groups:
        for label in (name, *aliases):
            labels.append((key(label), name))
            labels.extend((form, name) for form in initials(label))
    wanted = key(said)
    best: dict[str, float] = {}
    for form, name in labels:
        score = max(fuzz.WRatio(wanted, form), fuzz.ratio(wanted.replace(" ", ""), form.replace(" ", "")))
        best[name] = max(best.get(name, 0.0), score)
    ranked = sorted(best, key=lambda name: -best[name])
    return ranked[:count]

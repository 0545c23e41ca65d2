"""Where the plan stands, at a glance: counts by RAG, what needs attention, the change since the last
BMG, and a row per sub-group. A pure function of the snapshot, for the whole plan or one sub-group."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot import cards
from bot.cards import Card
from bot.rules import Rag, end_of_day
from bot.summaries import rag_at
from bot.views import ActionView, Snapshot, SubgroupView

SCALE = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2, Rag.BLUE: 3}
ORDER = ("Red", "Amber", "Green", "Blue (complete)", "no update")


@dataclass(frozen=True)
class Standing:
    """Counts for a set of actions."""

    actions: int
    by_rag: Counter[str]
    overdue: int
    missed: int  # actions with a milestone that passed with no report
    missing: int  # actions with no update since the last BMG

    @classmethod
    def of(cls, actions: Sequence[ActionView]) -> Standing:
        return cls(
            len(actions),
            Counter(cards.rag_word(a.rag) for a in actions),
            sum(a.overdue for a in actions),
            sum(bool(a.missed) for a in actions),
            sum(a.missing for a in actions),
        )

    def rag_text(self) -> str:
        return ", ".join(f"{self.by_rag[w]} {w}" for w in ORDER if self.by_rag[w]) or "no actions"

    def attention_text(self) -> str:
        return (
            f"{self.overdue} overdue, {self.missed} with a missed report, "
            f"{self.missing} with no update since the last BMG"
        )


@dataclass(frozen=True)
class Change:
    better: int
    worse: int
    same: int
    first: int  # rated since the last BMG for the first time


@dataclass(frozen=True)
class Overview:
    title: str
    plan: str
    whole: Standing
    change: Change | None  # None before the first BMG
    rows: tuple[tuple[str, Standing], ...]  # a row per sub-group (for the whole plan)


def change_since_last_bmg(snapshot: Snapshot, actions: Sequence[ActionView]) -> Change | None:
    if snapshot.last_bmg is None:
        return None
    since = end_of_day(snapshot.last_bmg, snapshot.tz)
    better = worse = same = first = 0
    for action in actions:
        before = rag_at(action.history, since)
        if action.rag is None:
            same += before is None
            continue
        if before is None:
            first += 1
        elif SCALE[action.rag] > SCALE[before]:
            better += 1
        elif SCALE[action.rag] < SCALE[before]:
            worse += 1
        else:
            same += 1
    return Change(better, worse, same, first)


def overview(snapshot: Snapshot, group: SubgroupView | None = None) -> Overview:
    if group is not None:
        actions = snapshot.for_subgroup(group.id)
        return Overview(
            f"{group.name} at a glance",
            snapshot.plan,
            Standing.of(actions),
            change_since_last_bmg(snapshot, actions),
            (),
        )
    rows = tuple(
        (g.name, Standing.of(snapshot.for_subgroup(g.id))) for g in snapshot.subgroups if snapshot.for_subgroup(g.id)
    )
    others = [a for a in snapshot.actions if a.lead_subgroup_id is None]
    if others:
        rows += (("Led by named officers", Standing.of(others)),)
    return Overview(
        f"Where {snapshot.plan} stands",
        snapshot.plan,
        Standing.of(snapshot.actions),
        change_since_last_bmg(snapshot, snapshot.actions),
        rows,
    )


def change_text(change: Change | None) -> str:
    if change is None:
        return "No BMG has met yet, so there is no change to show."
    return (
        f"Since the last BMG: {change.better} better, {change.worse} worse, {change.same} the same, "
        f"{change.first} rated for the first time."
    )


def overview_text(view: Overview) -> str:
    lines = [
        f"{view.title}: {view.whole.actions} actions: {view.whole.rag_text()}.",
        _sentence(view.whole.attention_text()),
    ]
    lines.append(change_text(view.change))
    lines += [
        f"{name}: {standing.rag_text()}; {standing.overdue} overdue, {standing.missing} no update"
        for name, standing in view.rows
    ]
    return "\n".join(lines)


def _sentence(text: str) -> str:
    """A capital to start and a full stop to end; the rest as written ("BMG" stays "BMG")."""
    return f"{text[:1].upper()}{text[1:]}."


def overview_card(view: Overview, subtitle: str) -> Card:
    body = cards.heading(view.title, subtitle)
    counts = [(word, view.whole.by_rag[word]) for word in ORDER if view.whole.by_rag[word]]
    body.append(
        {
            "type": "Chart.Donut",
            "title": f"{view.whole.actions} actions by RAG",
            "data": [{"legend": word, "value": n} for word, n in counts],
            "fallback": cards.facts([(word, str(n)) for word, n in counts]),
        }
    )
    body.append(
        cards.facts(
            [
                ("Overdue", str(view.whole.overdue)),
                ("Missed reports", str(view.whole.missed)),
                ("No update since the last BMG", str(view.whole.missing)),
            ]
        )
    )
    body.append({"type": "TextBlock", "text": change_text(view.change), "wrap": True, "spacing": "Medium"})
    if view.rows:
        body.append({"type": "TextBlock", "text": "By sub-group", "weight": "Bolder", "spacing": "Medium"})
        body.append(
            cards.facts(
                [(name, f"{s.rag_text()}; {s.overdue} overdue, {s.missing} no update") for name, s in view.rows]
            )
        )
    return cards.card(body)

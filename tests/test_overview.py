"""The plan at a glance ("give me the big picture"): its figures checked against counts made here,
from a small plan described action by action, not from what the overview printed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import pytest

from bot import queries
from bot.language import Intent, IntentName
from bot.queries import Ask, Asker, Reply
from bot.rules import LONDON, Due, Rag
from bot.views import ActionView, Snapshot, SubgroupView, UpdateView
from tests.conftest import london
from tests.teams import card_texts
from tests.test_cards import action

NOW = london(2027, 4, 22, 10)
LAST_BMG, NEXT_BMG = date(2027, 3, 10), date(2027, 5, 20)
BEFORE = london(2027, 2, 1, 9)  # an update for the last BMG
WITHDRAWN = london(2027, 3, 1, 9)  # after the update for the BMG, before the meeting; then withdrawn
ON_THE_DAY = london(2027, 3, 10, 14)  # posted on the meeting's day: still counts as before it
AFTER = london(2027, 4, 1, 9)  # since the last BMG
PRIYA = Asker(1, "Priya", is_admin=True)
QA = SubgroupView(1, "Children's QA subgroup", ("QA",), chair_id=2, member_ids=frozenset())
CDOP = SubgroupView(2, "CDOP", (), chair_id=3, member_ids=frozenset())
RANK = [Rag.RED, Rag.AMBER, Rag.GREEN, Rag.BLUE]  # worst to best


@dataclass(frozen=True)
class Plain:
    """One action as a person would describe it."""

    ref: str
    group: SubgroupView | None
    before: Rag | None  # its rating at the last BMG
    now: Rag | None  # its rating today
    updated_since: bool  # an update posted since the last BMG
    overdue: bool = False
    missed: tuple[Due, ...] = ()
    withdrawn_before: Rag | None = None  # an update before the BMG that was withdrawn: it never counted
    on_the_day: bool = False  # its update before the BMG was posted on the meeting's day


PLAN = [
    Plain("1.1", QA, Rag.AMBER, Rag.GREEN, True),
    Plain("1.2", QA, Rag.GREEN, Rag.RED, True, overdue=True, missed=(Due.month(2026, 6),)),
    Plain("1.3", QA, Rag.AMBER, Rag.AMBER, False, missed=(Due.month(2026, 10),)),
    Plain("1.4", QA, Rag.GREEN, Rag.GREEN, False, withdrawn_before=Rag.RED),
    Plain("2.1", CDOP, None, Rag.GREEN, True),
    Plain("2.2", CDOP, None, None, False, overdue=True, missed=(Due.month(2026, 6), Due.month(2026, 10))),
    Plain("2.3", CDOP, Rag.BLUE, Rag.AMBER, True),
    Plain("2.4", CDOP, Rag.RED, Rag.RED, False, on_the_day=True, overdue=True),
    Plain("3.1", None, Rag.RED, Rag.BLUE, True),
    Plain("3.2", None, Rag.BLUE, Rag.BLUE, False),
]


def view(plain: Plain) -> ActionView:
    history: list[UpdateView] = []
    if plain.withdrawn_before is not None:
        history.append(UpdateView(plain.withdrawn_before, "posted in error", "Fiona", WITHDRAWN, withdrawn=True))
    if plain.before is not None:
        history.append(UpdateView(plain.before, "for the BMG", "Fiona", ON_THE_DAY if plain.on_the_day else BEFORE))
    if plain.updated_since:
        history.append(UpdateView(plain.now, "since the BMG", "Fiona", AFTER))
    history.sort(key=lambda u: u.at)
    live = [u for u in history if not u.withdrawn]
    assert (live[-1].rag if live else None) == plain.now, f"{plain.ref} is described consistently"
    return replace(
        action(plain.ref, plain.now),
        lead=plain.group.name if plain.group else "Director of Children's Services",
        lead_subgroup_id=plain.group.id if plain.group else None,
        lead_person_id=None if plain.group else 9,
        rag=plain.now,
        latest=live[-1] if live else None,
        history=tuple(history),
        overdue=plain.overdue,
        missing=_missing(plain),
        missed=plain.missed,
    )


def _missing(plain: Plain) -> bool:
    """No update since the last BMG, and not complete."""
    return not plain.updated_since and plain.now is not Rag.BLUE


def snapshot(plan: list[Plain], meetings: tuple[date, ...] = (LAST_BMG, NEXT_BMG)) -> Snapshot:
    return Snapshot(
        "NCSCP", "Business Plan 2019-22", NOW, LONDON, [view(p) for p in plan], list(meetings), [QA, CDOP], {}
    )


@dataclass(frozen=True)
class Expected:
    overdue: int
    missed: int
    missing: int
    better: int
    worse: int
    same: int
    first: int

    @classmethod
    def of(cls, plan: list[Plain]) -> Expected:
        rated = [p for p in plan if p.now is not None]
        moves = [RANK.index(p.now) - RANK.index(p.before) for p in plan if p.now is not None and p.before is not None]
        return cls(
            overdue=sum(1 for p in plan if p.overdue),
            missed=sum(1 for p in plan if p.missed),
            missing=sum(1 for p in plan if _missing(p)),
            better=sum(1 for move in moves if move > 0),
            worse=sum(1 for move in moves if move < 0),
            same=sum(1 for move in moves if move == 0) + sum(1 for p in plan if p.now is p.before is None),
            first=sum(1 for p in rated if p.before is None),
        )


async def big_picture(snap: Snapshot, subgroup: str | None = None) -> Reply:
    reply = await queries.answer(Ask(Intent(IntentName.OVERVIEW, subgroup=subgroup), snap, PRIYA))
    assert reply is not None and reply.card is not None
    return reply


def test_the_plan_described_here_has_something_of_each_kind() -> None:
    """Otherwise a count that is always 0 (or always the number of actions) would pass unseen."""
    expected = Expected.of(PLAN)
    assert all(0 < n < len(PLAN) for n in vars(expected).values()), expected


async def test_the_whole_plan_s_figures_in_the_text_and_on_the_card() -> None:
    expected = Expected.of(PLAN)
    reply = await big_picture(snapshot(PLAN))
    lines = reply.text.splitlines()
    assert f"{expected.overdue} overdue, {expected.missed} with a missed report, " in lines[1]
    assert f"{expected.missing} with no update since the last BMG" in lines[1]
    change = (
        f"Since the last BMG: {expected.better} better, {expected.worse} worse, {expected.same} the same, "
        f"{expected.first} rated for the first time."
    )
    assert change in lines
    texts = card_texts(reply.card)  # type: ignore[arg-type]
    assert f"Overdue: {expected.overdue}" in texts
    assert f"Missed reports: {expected.missed}" in texts
    assert f"No update since the last BMG: {expected.missing}" in texts
    assert change in texts


async def test_the_ratings_are_counted_as_they_stand_today() -> None:
    reply = await big_picture(snapshot(PLAN))
    card = reply.card
    assert card is not None
    donut = next(e for e in card["body"] if e.get("type") == "Chart.Donut")
    shown = {d["legend"]: d["value"] for d in donut["data"]}
    words = {Rag.RED: "Red", Rag.AMBER: "Amber", Rag.GREEN: "Green", Rag.BLUE: "Blue (complete)", None: "no update"}
    expected = {words[rag]: sum(p.now is rag for p in PLAN) for rag in words if any(p.now is rag for p in PLAN)}
    assert shown == expected
    assert f"{len(PLAN)} actions" in reply.text.splitlines()[0]


@pytest.mark.parametrize("group", [QA, CDOP])
async def test_each_sub_group_s_row_and_its_own_glance(group: SubgroupView) -> None:
    theirs = [p for p in PLAN if p.group is group]
    expected = Expected.of(theirs)
    whole = await big_picture(snapshot(PLAN))
    row = next(line for line in whole.text.splitlines() if line.startswith(f"{group.name}: "))
    assert row.endswith(f"; {expected.overdue} overdue, {expected.missing} no update")
    own = await big_picture(snapshot(PLAN), group.name)
    assert own.text.startswith(f"{group.name} at a glance: {len(theirs)} actions")
    assert (
        f"Since the last BMG: {expected.better} better, {expected.worse} worse, {expected.same} the same, "
        f"{expected.first} rated for the first time."
    ) in own.text
    assert f"Missed reports: {expected.missed}" in card_texts(own.card)  # type: ignore[arg-type]


async def test_a_rating_changed_by_updates_after_the_bmg_counts_once_as_today_s() -> None:
    """Amber at the BMG, Red a week later, Green now: one better, not one worse and one better."""
    swung = view(Plain("5.1", QA, Rag.AMBER, Rag.GREEN, True))
    red = UpdateView(Rag.RED, "slipped", "Fiona", london(2027, 3, 20, 9))
    swung = replace(swung, history=(swung.history[0], red, swung.history[1]))
    snap = Snapshot("NCSCP", "Plan", NOW, LONDON, [swung], [LAST_BMG, NEXT_BMG], [QA], {})
    reply = await big_picture(snap)
    assert "Since the last BMG: 1 better, 0 worse, 0 the same, 0 rated for the first time." in reply.text


async def test_before_the_first_bmg_there_is_no_change_to_show() -> None:
    reply = await big_picture(snapshot(PLAN, meetings=(NEXT_BMG,)))
    assert "No BMG has met yet, so there is no change to show." in reply.text.splitlines()

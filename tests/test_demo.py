"""The demo: both seed plans loaded, and moved in time so that a BMG cycle is live today."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo import load_demo, rebase, rebase_anchor
from bot.rules import LONDON, Due, Rag, due_soon_days, next_meeting
from bot.views import due_by, load_snapshot
from storage.importer import ImportReport
from storage.planfile import PlanFile
from tests.conftest import london
from tests.factories import plan_of, row_counts

TODAY = date(2026, 11, 23)
NOW = london(2026, 11, 23, 10)


def test_rebase_puts_the_next_bmg_a_week_ahead(ncscp: PlanFile) -> None:
    assert rebase_anchor(ncscp) == date(2019, 11, 13), "the first meeting after the last recorded update"
    moved = rebase(ncscp, TODAY)
    assert next_meeting(moved.meetings, NOW) == TODAY + timedelta(days=7)
    shift = moved.meetings[0] - ncscp.meetings[0]
    assert all(new - old == shift for new, old in zip(moved.meetings, ncscp.meetings, strict=True))
    updates = [u.at for o in moved.objectives for a in o.actions for u in a.updates]
    assert max(updates) < NOW, "no update is in the future"
    first = moved.objectives[1].actions[0].measures[0].due
    assert all(d == Due.month(d.on.year, d.on.month) for d in first), "a month milestone stays at its month's end"
    assert [d.on.month for d in first] == [7, 11, 3], "June, October, February move with the November BMG"


def test_month_milestones_move_by_whole_months_early_in_a_month(ncscp: PlanFile) -> None:
    today = date(2026, 12, 1)  # the next BMG is 8 December
    moved = rebase(ncscp, today)
    first = moved.objectives[1].actions[0].measures[0].due
    assert [d.label for d in first] == ["August 2026", "December 2026", "April 2027"], (
        "October's reports, which the coming BMG waits for, fall due this month, not in a November already past"
    )


# From 1 December 2026 to 7 January 2027: a whole month, the first days of two months (when the next BMG is
# early in its month) and the turn of the year, both for today and for the next BMG.
SWEEP = [date(2026, 12, 1) + timedelta(days=k) for k in range(38)]


async def test_the_demo_shows_a_live_cycle_on_any_day(session: AsyncSession) -> None:
    """What a business unit would believe a week before a BMG: a few actions overdue (one in ten at most), a few
    reports missed (one action in five at most), at least two thirds on track, reports falling due soon."""
    for today in SWEEP:
        now = datetime.combine(today, time(10), tzinfo=LONDON)
        moment = await session.begin_nested()
        try:
            done = await load_demo(session, today)
            assert [r.partnership for r in done if isinstance(r, ImportReport)] == ["NCSCP", "NSCP"]
            for short_name in ("NCSCP", "NSCP"):
                partnership, _ = await plan_of(session, short_name)
                snapshot = await load_snapshot(session, partnership, now)
                said = (today.isoformat(), short_name)
                assert snapshot.next_bmg == today + timedelta(days=7), said
                assert snapshot.last_bmg is not None, said
                actions = snapshot.actions
                overdue = [a.ref for a in actions if a.overdue]
                missed = [a.ref for a in actions if a.missed]
                on_track = [a for a in actions if not a.overdue and not a.missed]
                assert 1 <= len(overdue) <= max(1, len(actions) // 10), (*said, overdue)
                assert 1 <= len(missed) <= len(actions) // 5, (*said, missed)
                assert 3 * len(on_track) >= 2 * len(actions), (*said, overdue, missed)
                assert not [a.ref for a in actions if a.overdue and a.rag in {Rag.GREEN, Rag.BLUE}], said
                assert 0 < sum(a.missing for a in actions) < len(actions), said
                soon = today + timedelta(days=due_soon_days(today, snapshot.next_bmg))
                assert due_by(actions, soon), (*said, "no report falls due soon")
        finally:
            await moment.rollback()
            session.expunge_all()


async def test_loading_the_demo_twice_changes_nothing(session: AsyncSession) -> None:
    await load_demo(session, None)
    before = await row_counts(session)
    again = await load_demo(session, TODAY)
    assert again == ["NCSCP is already loaded; left as it is", "NSCP is already loaded; left as it is"]
    assert await row_counts(session) == before

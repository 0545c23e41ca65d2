"""The demo: both seed plans loaded, and moved in time so that a BMG cycle is live today."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo import load_demo, rebase, rebase_anchor
from bot.rules import Due, is_missing_update, is_overdue, last_meeting, next_due, next_meeting
from storage.importer import ImportReport
from storage.planfile import PlanFile
from storage.repositories import MeetingRepository, PlanRepository, UpdateRepository, current_of, dues, facts
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


async def test_the_demo_shows_a_live_cycle(session: AsyncSession) -> None:
    done = await load_demo(session, TODAY)
    assert [r.partnership for r in done if isinstance(r, ImportReport)] == ["NCSCP", "NSCP"]
    for short_name in ("NCSCP", "NSCP"):
        partnership, plan = await plan_of(session, short_name)
        meetings = await MeetingRepository(session).dates(partnership)
        assert next_meeting(meetings, NOW) == date(2026, 11, 30), short_name
        assert last_meeting(meetings, NOW) is not None
        actions = await PlanRepository(session).actions(plan)
        histories = await UpdateRepository(session).histories([a.id for a in actions])
        overdue = missing = due_soon = 0
        for item in actions:
            history = histories[item.id]
            current = current_of(history)
            overdue += is_overdue(dues(item), current.rag if current else None, NOW)
            missing += is_missing_update([facts(u) for u in history], meetings, NOW)
            upcoming = next_due(dues(item), NOW)
            due_soon += upcoming is not None and upcoming.on <= date(2026, 11, 30)
        assert 0 < overdue < len(actions), short_name
        assert 0 < missing < len(actions), short_name
        assert due_soon > 0, short_name


async def test_loading_the_demo_twice_changes_nothing(session: AsyncSession) -> None:
    await load_demo(session, None)
    before = await row_counts(session)
    again = await load_demo(session, TODAY)
    assert again == ["NCSCP is already loaded; left as it is", "NSCP is already loaded; left as it is"]
    assert await row_counts(session) == before

"""The demo: both seed plans loaded, and moved in time so that a BMG cycle is live today."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo import load_demo, rebase, rebase_anchor
from bot.rules import Due, Rag, next_meeting
from bot.views import load_snapshot
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


async def test_the_demo_shows_a_live_cycle(session: AsyncSession) -> None:
    done = await load_demo(session, TODAY)
    assert [r.partnership for r in done if isinstance(r, ImportReport)] == ["NCSCP", "NSCP"]
    for short_name in ("NCSCP", "NSCP"):
        partnership, _ = await plan_of(session, short_name)
        snapshot = await load_snapshot(session, partnership, NOW)
        assert snapshot.next_bmg == date(2026, 11, 30), short_name
        assert snapshot.last_bmg is not None
        actions = snapshot.actions
        overdue = [a for a in actions if a.overdue]
        missed = [a for a in actions if a.missed]
        on_track = [a for a in actions if not a.overdue and not a.missed]
        # A believable picture a week before a BMG: a few overdue, a few reports missed, most on track.
        assert 1 <= len(overdue) <= 3, (short_name, [a.ref for a in overdue])
        assert 1 <= len(missed) <= 6, (short_name, [a.ref for a in missed])
        assert len(on_track) >= 2 * len(actions) // 3, short_name
        assert not [a.ref for a in overdue if a.rag in {Rag.GREEN, Rag.BLUE}], "the demo's overdue are slipping"
        assert 0 < sum(a.missing for a in actions) < len(actions), short_name
        assert any(a.next_due is not None and a.next_due.on <= date(2026, 11, 30) for a in actions), short_name


async def test_loading_the_demo_twice_changes_nothing(session: AsyncSession) -> None:
    await load_demo(session, None)
    before = await row_counts(session)
    again = await load_demo(session, TODAY)
    assert again == ["NCSCP is already loaded; left as it is", "NSCP is already loaded; left as it is"]
    assert await row_counts(session) == before

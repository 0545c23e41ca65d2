"""Answers reuse a snapshot of the plan while it is unchanged, and never serve a stale one: a write
by anyone (this process, another replica, the command line, a bulk rewrite) bumps the database's
data version, and a new day starts a new snapshot."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.views import SnapshotCache
from storage.db import Database
from storage.models import Action, DataVersion, Source, Update
from storage.repositories import PartnershipRepository
from tests.harness import NOW, Harness, ncscp_plan, teams_user
from tests.teams import card_of, card_texts

RACHEL = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)


async def version(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(DataVersion.version)) or 0)


async def test_a_write_from_another_process_is_seen_on_the_next_answer(bot: Harness, demo_db: Database) -> None:
    bot.clock.instant = NOW
    before = card_texts(card_of(await bot.one("show 8.1", RACHEL)))
    assert "Written by another replica" not in before
    other = Database(demo_db.url)  # another replica's engine, its own connections
    try:
        async with other.transaction() as session:
            action = await session.scalar(select(Action).where(Action.ref == "8.1", Action.plan_id == 1))
            assert action is not None
            session.add(
                Update(
                    action_id=action.id,
                    rag=None,
                    comment="Written by another replica",
                    created_at=NOW,
                    source=Source.CLI,
                )
            )
    finally:
        await other.dispose()
    after = card_texts(card_of(await bot.one("show 8.1", RACHEL)))
    assert "Written by another replica" in after


async def test_every_kind_of_write_to_the_plan_bumps_the_version(demo_db: Database) -> None:
    start = await version(demo_db)
    async with demo_db.transaction() as session:  # a bulk rewrite, as redaction and erasure do
        await session.execute(update(Action).where(Action.ref == "8.1").values(description=Action.description))
    bulk = await version(demo_db)
    assert bulk > start
    async with demo_db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(Update))
        assert count
    assert await version(demo_db) == bulk, "reading changes nothing"


async def test_a_snapshot_is_reused_until_the_plan_or_the_day_changes(demo_db: Database) -> None:
    cache = SnapshotCache()
    async with demo_db.transaction() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
        first = await cache.snapshot(session, ncscp, NOW)
        again = await cache.snapshot(session, ncscp, NOW + timedelta(hours=1))
        assert again.actions is first.actions, "the same plan, the same day: reused"
        assert again.now == NOW + timedelta(hours=1)
        tomorrow = await cache.snapshot(session, ncscp, NOW + timedelta(days=1))
        assert tomorrow.actions is not first.actions, "a new day: read again (overdue and due soon move)"
    async with demo_db.transaction() as session:
        await session.execute(update(Action).where(Action.ref == "8.1").values(description=Action.description))
    async with demo_db.transaction() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
        changed = await cache.snapshot(session, ncscp, NOW + timedelta(days=1))
        assert changed.actions is not tomorrow.actions, "the plan changed: read again"

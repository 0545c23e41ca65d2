"""Answers reuse a snapshot of the plan while it is unchanged, and never serve a stale one: a write
by anyone (this process, another replica, the command line, a bulk rewrite) bumps the database's
data version, and a new day starts a new snapshot."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.views import SnapshotCache
from storage.audit import Actor
from storage.db import Database
from storage.erasure import erase_person, find_by_email
from storage.models import Action, DataVersion, Source, Update
from storage.repositories import PartnershipRepository
from tests.harness import NOW, Harness, ncscp_plan, teams_user
from tests.teams import card_of, card_texts

RACHEL = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)
FIONA = teams_user(ncscp_plan(), "fiona.mcleod@ncscp.example.org")


async def version(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(DataVersion.version)) or 0)


async def note_from_another_process(demo_db: Database, ref: str, comment: str) -> None:
    """An update stored by another replica: its own engine, its own connections."""
    other = Database(demo_db.url)
    try:
        async with other.transaction() as session:
            action = await session.scalar(select(Action).where(Action.ref == ref, Action.plan_id == 1))
            assert action is not None
            session.add(Update(action_id=action.id, rag=None, comment=comment, created_at=NOW, source=Source.CLI))
    finally:
        await other.dispose()


async def test_a_write_from_another_process_is_seen_on_the_next_answer(bot: Harness, demo_db: Database) -> None:
    bot.clock.instant = NOW
    before = card_texts(card_of(await bot.one("show 8.1", RACHEL)))
    assert "Written by another replica" not in before
    await note_from_another_process(demo_db, "8.1", "Written by another replica")
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


async def test_a_question_answered_from_the_kept_plan_still_sees_another_process_write(
    bot: Harness, demo_db: Database
) -> None:
    """Once the plan is kept and the person's address stored, questions are answered without a write;
    a change made elsewhere is still in the next answer."""
    bot.clock.instant = NOW
    for _ in range(3):  # the first stores the address; the rest are answered from the kept plan
        assert "Written later elsewhere" not in card_texts(card_of(await bot.one("show 8.1", RACHEL)))
    await note_from_another_process(demo_db, "8.1", "Written later elsewhere")
    assert "Written later elsewhere" in card_texts(card_of(await bot.one("show 8.1", RACHEL)))


async def test_a_person_erased_by_another_process_is_not_known_on_their_next_message(
    bot: Harness, demo_db: Database
) -> None:
    bot.clock.instant = NOW
    for _ in range(3):
        assert "8.1" in str(await bot.one("my actions", RACHEL))
    other = Database(demo_db.url)
    try:
        async with other.transaction() as session:
            ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
            assert ncscp is not None
            rachel = await find_by_email(session, ncscp, "rachel.dunmore@ncscp.example.org")
            assert rachel is not None
            await erase_person(session, ncscp, rachel, Actor("the business unit"), NOW)
    finally:
        await other.dispose()
    reply = await bot.one("my actions", RACHEL)
    assert "I don't know you yet" in str(reply)
    assert "8.1" not in str(reply)


async def test_a_list_shown_whole_replaces_a_longer_one_that_had_more(bot: Harness) -> None:
    bot.clock.instant = NOW
    first = card_of(await bot.one("actions for children's qa", FIONA))
    assert "[Show more]" in card_texts(first)
    whole = card_of(await bot.one("show ambers", FIONA))
    assert "[Show more]" not in card_texts(whole)
    done = await bot.one("more", FIONA)
    assert done["text"].startswith("There is nothing more to show"), "not the rest of the sub-group's list"


async def test_updates_in_a_row_are_each_in_the_history_once_and_in_order(bot: Harness) -> None:
    """Each update moves the kept plan on with that action read again (after the first, only what was
    stored since); an undo in between is the usual way, and the next update reads the action whole."""
    bot.clock.instant = NOW
    for step, rag in (("one", "amber"), ("two", "green"), ("three", "amber")):
        bot.clock.instant += timedelta(minutes=1)
        assert (await bot.one(f"4.2 {rag}: audit step {step} finished with the partners", FIONA))["text"].startswith(
            "Saved"
        )
    assert (await bot.one("undo", FIONA))["text"]
    bot.clock.instant += timedelta(minutes=1)
    await bot.one("4.2 green: audit step four finished with the partners", FIONA)
    texts = " ".join(card_texts(card_of(await bot.one("history 4.2", FIONA))))
    found = [texts.find(f"audit step {step} finished") for step in ("one", "two", "four")]
    assert all(at >= 0 for at in found), texts[:500]
    assert sorted(found) == found or sorted(found, reverse=True) == found, "in the order they were written"
    assert texts.count("audit step two finished") == 1
    assert texts.count("audit step three finished") == 1
    assert "(withdrawn) audit step three finished" in texts, "withdrawn by the undo"
    assert "Green" in " ".join(card_texts(card_of(await bot.one("show 4.2", FIONA))))

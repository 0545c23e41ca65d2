"""Answers reuse a snapshot of the plan while it is unchanged, and never serve a stale one: a write
by anyone (this process, another replica, the command line, a bulk rewrite) bumps the version of the
partnership whose plan it changes (and only that one), and a new day starts a new snapshot."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import addresses, views
from bot.app import BOT
from bot.demo import load_demo
from bot.identity import find_person
from bot.rules import Rag
from bot.views import SnapshotCache, load_snapshot
from storage.audit import Actor
from storage.db import Database
from storage.erasure import erase_person, find_by_email
from storage.models import (
    Action,
    DataVersion,
    Meeting,
    Membership,
    Milestone,
    NoteReview,
    Person,
    Plan,
    ReviewKind,
    Role,
    Source,
    SubGroup,
    Update,
)
from storage.repositories import ActionRow, PartnershipRepository
from storage.versions import DataStamp, data_stamp
from tests.conftest import postgres_demo
from tests.harness import NOW, Harness, demo_database, ncscp_plan, start_harness, teams_user
from tests.teams import card_of, card_texts, make_message

RACHEL = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)
FIONA = teams_user(ncscp_plan(), "fiona.mcleod@ncscp.example.org")
PRIYA = teams_user(ncscp_plan(), "priya.shah@ncscp.example.org")  # leads 13.1


async def version(database: Database, short_name: str = "NCSCP") -> int:
    """The version of a partnership's plan."""
    async with database.transaction() as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        assert partnership is not None
        stamp = await data_stamp(session, partnership.id)
        assert stamp is not None
        return stamp.plan


async def shared_version(database: Database) -> int:
    """The version that moves when a partnership itself changes."""
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


async def ncscp_rows(session: AsyncSession) -> tuple[Action, Person, SubGroup]:
    ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
    assert ncscp is not None
    action = await session.scalar(
        select(Action).join(Plan, Plan.id == Action.plan_id).where(Action.ref == "8.1", Plan.partnership_id == ncscp.id)
    )
    person = await session.scalar(select(Person).where(Person.partnership_id == ncscp.id).limit(1))
    group = await session.scalar(select(SubGroup).where(SubGroup.partnership_id == ncscp.id).limit(1))
    assert action is not None and person is not None and group is not None
    return action, person, group


WRITES: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {}


def write(name: str) -> Callable[[Callable[[AsyncSession], Awaitable[object]]], Callable[..., Awaitable[object]]]:
    def keep(change: Callable[[AsyncSession], Awaitable[object]]) -> Callable[..., Awaitable[object]]:
        WRITES[name] = change
        return change

    return keep


@write("an update")
async def _update(session: AsyncSession) -> None:
    action, _, _ = await ncscp_rows(session)
    session.add(Update(action_id=action.id, rag=None, comment="Stored here", created_at=NOW, source=Source.CLI))


@write("a note's review")
async def _review(session: AsyncSession) -> None:
    action, _, _ = await ncscp_rows(session)
    update = await session.scalar(select(Update).where(Update.action_id == action.id).limit(1))
    assert update is not None
    session.add(NoteReview(update_id=update.id, kind=ReviewKind.CLEARED, by_name="BU", at=NOW, reason="checked"))


@write("a milestone moved")
async def _milestone(session: AsyncSession) -> None:
    action, _, _ = await ncscp_rows(session)
    await session.execute(update(Milestone).where(Milestone.action_id == action.id).values(label=Milestone.label))


@write("a member added")
async def _member(session: AsyncSession) -> None:
    _, person, group = await ncscp_rows(session)
    await session.execute(
        delete(Membership).where(Membership.subgroup_id == group.id, Membership.person_id == person.id)
    )
    session.add(Membership(subgroup_id=group.id, person_id=person.id))


@write("a sub-group renamed")
async def _subgroup(session: AsyncSession) -> None:
    _, _, group = await ncscp_rows(session)
    group.aliases = [*group.aliases, "the renamed group"]


@write("a person's Entra id")
async def _person(session: AsyncSession) -> None:
    _, person, _ = await ncscp_rows(session)
    person.aad_object_id = "00000000-0000-0000-0000-00000000abcd"


@write("a person's name")
async def _name(session: AsyncSession) -> None:
    _, person, _ = await ncscp_rows(session)
    person.name = f"{person.name} Jr"


@write("a person's role")
async def _role(session: AsyncSession) -> None:
    _, person, _ = await ncscp_rows(session)
    person.role = Role.ADMIN if person.role is not Role.ADMIN else Role.MEMBER


@write("a meeting")
async def _meeting(session: AsyncSession) -> None:
    _, person, _ = await ncscp_rows(session)
    session.add(Meeting(partnership_id=person.partnership_id, meets_on=(NOW + timedelta(days=40)).date()))


async def versions(session: AsyncSession) -> tuple[int, int, int]:
    """NCSCP's plan version, NSCP's, and the version that moves when a partnership itself changes, as
    this transaction sees them."""
    stamps = []
    for short_name in ("NCSCP", "NSCP"):
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        assert partnership is not None
        stamp = await data_stamp(session, partnership.id)
        assert stamp is not None
        stamps.append(stamp)
    assert stamps[0].shared == stamps[1].shared
    return stamps[0].plan, stamps[1].plan, stamps[0].version


@pytest.mark.parametrize("change", sorted(WRITES))
async def test_a_write_moves_its_own_partnerships_version_and_no_other(session: AsyncSession, change: str) -> None:
    """One lead's update must not make every other partnership's plan be read again (on SQLite and
    PostgreSQL, whose triggers are written differently)."""
    await load_demo(session, NOW.date())
    await session.flush()
    before = await versions(session)
    await WRITES[change](session)
    await session.flush()
    after = await versions(session)
    assert after[0] > before[0], f"{change} is a change to NCSCP's plan"
    assert after[1:] == before[1:], f"{change} changes nothing of NSCP's, nor the partnerships themselves"


@pytest.mark.parametrize("column", ["teams_user_id", "upn"])
async def test_a_persons_teams_id_or_upn_remembered_is_no_change_to_any_plan(
    session: AsyncSession, column: str
) -> None:
    """Each person's first message stores their Teams id (and their UPN, if Teams found them by it):
    neither is in any view of the plan, so no kept plan is read again for it (a council-wide plan's
    2,000 people's first messages would each have had the next question read 3,000 actions again)."""
    await load_demo(session, NOW.date())
    await session.flush()
    before = await versions(session)
    _, person, _ = await ncscp_rows(session)
    setattr(person, column, "29:1a-new-teams-id" if column == "teams_user_id" else "someone@ncscp.example.org")
    await session.flush()
    assert await versions(session) == before
    person.name = f"{person.name} Jr"  # and in the same statement as a change to the plan: that change counts
    setattr(person, column, None)
    await session.flush()
    assert (await versions(session))[0] > before[0]


MIGRATIONS = "storage.migrations.versions"


def test_every_column_of_a_person_but_the_teams_ids_moves_the_version() -> None:
    """A column added to `person` must be placed: in the plan's views (the trigger watches it, by a
    migration) or not."""
    migration = importlib.import_module(f"{MIGRATIONS}.0010_a_teams_id_remembered_is_no_change_to_the_plan")
    watched = set(migration.IN_THE_PLAN) | {"teams_user_id", "upn"}
    assert watched == {c.name for c in Person.__table__.columns}


async def test_a_persons_first_message_leaves_the_kept_plan_good_and_knows_them_from_then_on(
    plan_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Priya's first message stores her Teams id. Fiona's next question is still answered from the
    plan as kept, and Priya's own next one knows her without looking her up again."""
    async with plan_db.transaction() as session:  # as if neither had written to the bot before
        await session.execute(
            update(Person).where(Person.email.in_([PRIYA.email, FIONA.email])).values(teams_user_id=None)
        )
    async for bot in start_harness(plan_db):
        await first_message(bot, monkeypatch)
    async with plan_db.reading() as session:
        stored = await session.scalar(select(Person.teams_user_id).where(Person.email == PRIYA.email))
    assert stored, "her Teams id was stored all the same"


async def first_message(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    bot.clock.instant = NOW
    await bot.say("my actions", FIONA)  # the plan read and kept; Fiona's id stored
    reads: list[int] = []
    found: list[str | None] = []
    load = views.load_snapshot

    async def counted_load(session: AsyncSession, partnership: Any, now: datetime) -> Any:
        reads.append(partnership.id)
        return await load(session, partnership, now)

    async def counted_find(turn_context: Any, session: AsyncSession, partnership: Any) -> Any:
        found.append(turn_context.activity.from_property.name)
        return await find_person(turn_context, session, partnership)

    monkeypatch.setattr(views, "load_snapshot", counted_load)
    monkeypatch.setattr("bot.handler.find_person", counted_find)
    assert "13.1" in " ".join(card_texts(card_of(await bot.one("my actions", PRIYA))))
    assert found == [PRIYA.name], "her first message: found, and her Teams id stored"
    assert "4.2" in " ".join(card_texts(card_of(await bot.one("my actions", FIONA))))
    assert "13.1" in " ".join(card_texts(card_of(await bot.one("my actions", PRIYA))))
    assert reads == [], "no one's question read the plan again"
    assert found == [PRIYA.name], "Priya was known on her second message"


async def test_the_stamp_a_transaction_reads_counts_its_own_changes_not_yet_sent(session: AsyncSession) -> None:
    """A turn that changes the plan and then reads its stamp (to keep the plan as it left it) sees its
    own change, even one the session has not yet sent to the database."""
    await load_demo(session, NOW.date())
    await session.flush()
    action, _, _ = await ncscp_rows(session)
    ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
    assert ncscp is not None
    before = await data_stamp(session, ncscp.id)
    session.add(Update(action_id=action.id, rag=Rag.GREEN, comment="pending", created_at=NOW, source=Source.CLI))
    after = await data_stamp(session, ncscp.id)
    assert before is not None and after is not None and after.plan > before.plan


async def test_a_change_to_a_partnership_itself_moves_the_shared_version(session: AsyncSession) -> None:
    await load_demo(session, NOW.date())
    await session.flush()
    before = await versions(session)
    ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
    assert ncscp is not None
    ncscp.timezone = "Europe/Dublin"
    await session.flush()
    assert (await versions(session))[2] > before[2], "a tenant or time zone is read before any plan"


async def test_another_partnerships_update_leaves_this_snapshot_kept(demo_db: Database) -> None:
    cache = SnapshotCache()
    async with demo_db.transaction() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
        first = await cache.snapshot(session, ncscp, NOW)
    async with demo_db.transaction() as session:
        nscp = await PartnershipRepository(session).by_short_name("NSCP")
        assert nscp is not None
        action = await session.scalar(
            select(Action).join(Plan, Plan.id == Action.plan_id).where(Plan.partnership_id == nscp.id).limit(1)
        )
        assert action is not None
        session.add(Update(action_id=action.id, rag=None, comment="Elsewhere", created_at=NOW, source=Source.CLI))
    async with demo_db.transaction() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
        assert (await cache.snapshot(session, ncscp, NOW)).actions is first.actions, "NCSCP's plan is as it was"
        await WRITES["an update"](session)
    async with demo_db.transaction() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
        assert (await cache.snapshot(session, ncscp, NOW)).actions is not first.actions, "NCSCP's own: read again"


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


async def test_updates_in_a_row_are_each_in_the_history_once_and_in_order(tmp_path: Path) -> None:
    """Each update moves the kept plan on with that action read again (after the first, only what was
    stored since); an undo in between is the usual way, and the next update reads the action whole.
    (On a database of its own: the undo takes back Fiona's latest update, which another test's, dated
    later, would be.)"""
    database = await demo_database(tmp_path)
    try:
        async for bot in start_harness(database):
            await updates_in_a_row(bot)
    finally:
        await database.dispose()


async def updates_in_a_row(bot: Harness) -> None:
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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def plan_db(request: pytest.FixtureRequest, demo_db: Database) -> AsyncIterator[Database]:
    """The demo plans on each backend (PostgreSQL: a database of this module's own on the test server)."""
    if request.param == "sqlite":
        yield demo_db
        return
    database = Database(await postgres_demo("plantracker_snapshot_tests", NOW.date(), "the PostgreSQL storage tests"))
    yield database
    await database.dispose()


async def test_the_plan_moved_on_by_each_update_is_the_plan_a_fresh_read_shows(plan_db: Database) -> None:
    """After each update the action is kept as a read of the whole plan would show it, whether it was
    moved on from the new updates alone (plain ones, in order) or read again whole (after an undo, a
    proposed date, a late night that closes a report window): Blue, current rating, latest note, the
    history and whether an update is missing all as stored (on PostgreSQL, whose triggers count a
    statement, not a row, as on SQLite)."""
    async for bot in start_harness(plan_db):
        await moved_on_as_read_afresh(bot, plan_db)


async def moved_on_as_read_afresh(bot: Harness, demo_db: Database) -> None:
    planbot = bot.client.app[BOT]
    async with demo_db.reading() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
    assert ncscp is not None
    steps = [
        ("4.2 amber: data returns chased with the partners", timedelta(minutes=1)),
        ("4.2 green: returns all in, analysis under way", timedelta(minutes=1)),
        ("4.2 green: analysis half done, on course", timedelta(minutes=2)),
        ("undo", timedelta(minutes=1)),
        ("4.2 amber: analysis slipped a week, partners told", timedelta(minutes=1)),
        ("13.1 amber: partner returns late (revised date: March 2027)", timedelta(minutes=1)),
        ("4.2 green: the last partner's figures arrived", timedelta(minutes=1)),  # 4.2 as kept before 13.1's
        ("13.1 green: partner returns all in after all", timedelta(minutes=1)),
        (ELSEWHERE, timedelta(minutes=1)),  # another replica stores an update to 4.2
        ("13.1 green: partner returns checked and filed", timedelta(minutes=1)),
        ("4.2 green: analysis written up for the board", timedelta(minutes=1)),  # with the replica's in it
        ("4.2 amber: board paper late (revised date: April 2027)", timedelta(minutes=1)),  # all its history again
        ("4.2 amber: analysis back on course after the delay", timedelta(hours=20)),
        ("4.2 blue: audit complete and reported to the partners", timedelta(minutes=1)),
        ("4.2 green: reopened, one partner's figures to check", timedelta(minutes=1)),
    ]
    bot.clock.instant = NOW + timedelta(days=2)  # after any update other tests stored
    await bot.one("my actions", FIONA)  # the plan as kept before the first update
    moved_on = 0
    for said, later in steps:
        bot.clock.instant += later
        who = PRIYA if said.startswith("13.1") else FIONA
        before = planbot.snapshots.latest(ncscp.id)
        if said == ELSEWHERE:
            await update_from_another_process(demo_db, ncscp.id, "4.2", "stored by another replica", bot.clock.now())
        else:
            await bot.say(said, who)
        kept = planbot.snapshots.latest(ncscp.id)
        async with demo_db.reading() as session:
            now = await data_stamp(session, ncscp.id)
            fresh = await load_snapshot(session, ncscp, bot.clock.now())
        if kept is None or kept.stamp != now:
            assert said in ("undo", ELSEWHERE), (
                f"only an undo or another process leaves the plan to be read again, not {said!r}"
            )
            continue
        moved_on += before is not None and kept.snapshot is not before.snapshot
        for ref in ("4.2", "13.1"):
            assert kept.snapshot.action(ref) == fresh.action(ref), f"{ref} after {said!r}"
    assert moved_on == len(steps) - 2, "every update moved the kept plan on"
    assert "stored by another replica" in [u.comment for u in fresh.action("4.2").history]  # type: ignore[union-attr]


ELSEWHERE = "(another process)"


async def update_from_another_process(
    database: Database, partnership_id: int, ref: str, note: str, at: datetime
) -> None:
    other = Database(database.url)
    try:
        async with other.transaction() as session:
            plan = select(Plan.id).where(Plan.partnership_id == partnership_id)
            action = await session.scalar(select(Action).where(Action.ref == ref, Action.plan_id.in_(plan)))
            assert action is not None
            session.add(Update(action_id=action.id, rag=Rag.GREEN, comment=note, created_at=at, source=Source.CLI))
    finally:
        await other.dispose()


async def test_a_burst_of_updates_to_one_action_is_stored_in_order_and_kept_without_reading_the_plan_again(
    plan_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve updates to 4.2 sent at once, with questions among them, with a clock that moves on at
    every reading: each is stored once, timed in the order they were stored (the time is taken once the
    turn holds the plan, not while it waits for it), and the kept plan shows them as a fresh read does.
    A question asked just as an update commits takes the plan as that update left it (its row is
    stored) rather than reading the whole plan again, and no action's view is built again from its
    whole history."""
    async for bot in start_harness(plan_db):
        await burst_of_updates(bot, plan_db, monkeypatch)


async def burst_of_updates(bot: Harness, plan_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    planbot = bot.client.app[BOT]
    async with plan_db.reading() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
    assert ncscp is not None
    bot.clock.instant = NOW + timedelta(days=4)  # after any update other tests stored
    await bot.say("my actions", PRIYA)  # Priya's chat known (a first message stores its address)
    await bot.say("4.2 green: burst warm-up, on course", FIONA)  # the plan and 4.2's history kept
    bot.connector.take()

    start = bot.clock.instant

    def ticking() -> datetime:
        bot.clock.instant += timedelta(milliseconds=1)
        return bot.clock.instant

    monkeypatch.setattr(bot.clock, "now", ticking)
    whole_reads: list[str] = []
    views_built: list[str] = []
    read_whole, build_view = views.load_snapshot, views._action_view

    async def counted_read(*args: Any, **kwargs: Any) -> Any:
        whole_reads.append("plan")
        return await read_whole(*args, **kwargs)

    def counted_view(action: ActionRow, *args: Any, **kwargs: Any) -> Any:
        views_built.append(action.ref)
        return build_view(action, *args, **kwargs)

    monkeypatch.setattr(views, "load_snapshot", counted_read)
    monkeypatch.setattr(views, "_action_view", counted_view)
    notes = [f"burst note {n}, returns checked" for n in range(12)]
    sent = []
    for note in notes:  # each update with a question about the plan beside it
        sent.append(make_message(f"4.2 amber: {note}", FIONA, bot.tenant, bot.connector.url))
        sent.append(make_message("my actions", PRIYA, bot.tenant, bot.connector.url))
    responses = await asyncio.gather(*(bot.post(activity) for activity in sent))
    assert all(r.status in {200, 201} for r in responses)
    replies = [str(r.get("text")) for r in bot.connector.take()]
    saved = "Saved: 4.2 is now Amber. (Say undo within 10 minutes to withdraw it.)"
    assert replies.count(saved) == len(notes) and len(replies) == len(sent), replies
    assert whole_reads == [], "no turn read the whole plan again"
    assert views_built == [], "no action's view was built again from its whole history"

    async with plan_db.reading() as session:
        stored = (
            await session.execute(
                select(Update.id, Update.comment, Update.created_at)
                .where(Update.created_at > start)
                .order_by(Update.id)
            )
        ).all()
        fresh = await read_whole(session, ncscp, bot.clock.instant)
    assert sorted(c for _, c, _ in stored) == sorted(notes), "each stored once"
    times = [at for _, _, at in stored]
    assert times == sorted(times), "stored in the order they were timed"
    kept = planbot.snapshots.latest(ncscp.id)
    assert kept is not None
    assert kept.snapshot.action("4.2") == fresh.action("4.2")


async def test_transactions_that_hold_one_plan_wait_their_turn_without_a_connection() -> None:
    """On PostgreSQL, transactions of one process that will hold the same plan begin one after another in
    the order they asked, and hold no connection of the pool while they wait (a burst of updates to one
    plan leaves the pool to everyone else); one that holds another partnership's plan does not wait."""
    database = Database(
        await postgres_demo("plantracker_holding_tests", NOW.date(), "the PostgreSQL storage tests"), pool_size=4
    )
    try:
        async with database.reading() as session:
            ids = [p.id for p in await PartnershipRepository(session).all()]
        first, other = ids[0], ids[1]
        release = asyncio.Event()
        began: list[str] = []

        holding = asyncio.Event()

        async def hold(name: str, partnership: int, wait: bool = False) -> None:
            async with database.transaction(holding=partnership) as session:
                await data_stamp(session, partnership, hold=True)
                began.append(name)
                if wait:
                    holding.set()
                    await release.wait()

        holder = asyncio.create_task(hold("holder", first, wait=True))
        await asyncio.wait_for(holding.wait(), 10)
        waiting = []
        for n in range(6):
            waiting.append(asyncio.create_task(hold(f"waiting {n}", first)))
            await asyncio.sleep(0.01)
        await asyncio.wait_for(hold("another plan", other), 10)
        assert began == ["holder", "another plan"]
        assert database.engine.pool.checkedout() == 1, "only the holder has a connection"  # type: ignore[attr-defined]
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, *waiting), 10)
        assert began[2:] == [f"waiting {n}" for n in range(6)]
    finally:
        await database.dispose()


async def test_an_update_expected_but_rolled_back_is_never_taken_for_the_plan(plan_db: Database) -> None:
    """A turn expected its update to commit, and it did not; another write then took the plan to the
    stamp that update would have (on SQLite, with the same row id): the plan read at that stamp has the
    other write in it, not the update that was never stored."""
    cache = SnapshotCache()
    now = NOW + timedelta(days=6)
    async with plan_db.reading() as session:
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
        assert ncscp is not None
        known = await cache.known(session, ncscp, now, await data_stamp(session, ncscp.id))

    class RolledBack(Exception):
        pass

    after: DataStamp | None = None

    async def expect_then_roll_back() -> None:
        nonlocal after
        async with plan_db.transaction() as session:
            before = await data_stamp(session, ncscp.id, hold=True)
            assert before == known.stamp
            action = known.snapshot.action("4.2")
            assert action is not None
            lost = Update(
                action_id=action.id, rag=Rag.RED, comment="never committed", created_at=now, source=Source.CHAT
            )
            session.add(lost)
            await session.flush()
            after = await data_stamp(session, ncscp.id)
            assert after is not None and after.plan == before.plan + 1
            reread = await cache.reread(session, known, ["4.2"], now, lost)
            cache.expect(ncscp.id, views.Expected(before, after, reread, views.entry_of(lost)))
            raise RolledBack

    with pytest.raises(RolledBack):
        await expect_then_roll_back()
    await update_from_another_process(plan_db, ncscp.id, "4.2", "stored instead", now)
    async with plan_db.reading() as session:
        stamp = await data_stamp(session, ncscp.id)
        assert stamp == after, "the other write took the plan to the stamp the lost update would have"
        seen = await cache.known(session, ncscp, now, stamp)
    notes = [u.comment for u in seen.snapshot.action("4.2").history]  # type: ignore[union-attr]
    assert "stored instead" in notes
    assert "never committed" not in notes


async def test_a_question_after_someone_elses_update_is_answered_without_a_write(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update moves the plan's stamp but changes no one's address: Priya's next question in her chat
    is answered from the kept plan, without storing her chat's address again (a write that would make
    every question during a run of updates wait its turn for the database)."""
    bot.clock.instant = NOW + timedelta(days=8)
    for who in (FIONA, FIONA, PRIYA, PRIYA):  # each chat's address stored, and known stored at the plan's stamp
        await bot.say("my actions", who)
    await bot.say("4.2 green: returns in, questions answered", FIONA)
    bot.connector.take()
    stored: list[str] = []
    store = addresses.store

    async def counted(session: AsyncSession, address: addresses.Address, now: datetime) -> Any:
        stored.append(address.conversation_id)
        return await store(session, address, now)

    monkeypatch.setattr(addresses, "store", counted)
    assert "13.1" in " ".join(card_texts(card_of(await bot.one("my actions", PRIYA))))
    assert stored == []


async def test_a_sub_group_alias_added_elsewhere_is_understood_on_the_next_message(plan_db: Database) -> None:
    """A message is read against the sub-groups as this process last kept them while the database
    answers its first query (on PostgreSQL); a name another process has since given a sub-group is
    still understood on the very next message, read again against the plan as it now is."""
    async for bot in start_harness(plan_db):
        await alias_added_elsewhere(bot, plan_db)


async def alias_added_elsewhere(bot: Harness, plan_db: Database) -> None:
    bot.clock.instant = NOW
    for _ in range(2):  # Priya's chat stored, then her questions answered from the kept plan
        assert (await bot.one("reds for CDOP", PRIYA))["text"] == "Nothing rated Red for CDOP."
    before = await bot.one("reds for the deaths panel", PRIYA)
    assert "CDOP" not in before.get("text", "")
    other = Database(plan_db.url)
    try:
        async with other.transaction() as session:
            ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
            assert ncscp is not None
            cdop = await session.scalar(
                select(SubGroup).where(SubGroup.name == "CDOP", SubGroup.partnership_id == ncscp.id)
            )
            assert cdop is not None
            cdop.aliases = [*cdop.aliases, "the deaths panel"]
    finally:
        await other.dispose()
    assert (await bot.one("reds for the deaths panel", PRIYA))["text"] == "Nothing rated Red for CDOP."


async def test_on_postgresql_a_message_is_read_while_the_database_answers_the_first_query(
    plan_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn's first query waits for another process; the message is read meanwhile (a third of a
    question's own work), and an update's note checked for identifying details. SQLite's first read
    is on the event loop, where there is no wait to fill."""
    async for bot in start_harness(plan_db):
        await read_while_the_database_answers(bot, plan_db, monkeypatch)


async def read_while_the_database_answers(bot: Harness, plan_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.handler import CHECKED, FORESEEN

    planbot = bot.client.app[BOT]
    bot.clock.instant = NOW + timedelta(days=9)
    await bot.say("my actions", FIONA)  # the plan kept, Fiona's chat stored
    read_meanwhile: list[tuple[bool, bool]] = []
    glance = planbot.state.glance

    async def watched(turn_context: Any, partnership: int | None) -> Any:
        stamp = await glance(turn_context, partnership)  # the answer from the database
        state = turn_context.turn_state
        read_meanwhile.append((FORESEEN in state, len(state.get(CHECKED, ())) > 0))
        return stamp

    monkeypatch.setattr(planbot.state, "glance", watched)
    assert "4.2" in " ".join(card_texts(card_of(await bot.one("show 4.2", FIONA))))
    replies = await bot.say("4.2 green: returns in from every school", FIONA)
    assert any("4.2" in r.get("text", "") for r in replies)
    remote = plan_db.remote
    assert read_meanwhile == [(remote, False), (remote, remote)]

"""Before each BMG, walked with a fixed clock on the demo plans: nudges, a final nudge, summaries in
linked channels and the exception report; once each, whatever races or fails."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.app import ADAPTER
from bot.clock import FixedClock
from bot.messenger import Messenger, Pacing
from bot.scheduler import Scheduler
from bot.settings import Settings
from storage.db import Database, async_url, create_engine
from storage.models import Dispatch, DispatchKind, DispatchStatus, Partnership, SubGroup
from tests.conftest import london
from tests.harness import Harness, demo_database, ncscp_plan, start_harness, teams_user
from tests.teams import Channel, card_of, card_texts, make_installation

PLAN = ncscp_plan()
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")  # CDOP's chair: 8.1 has no update since the last BMG
FIONA = teams_user(PLAN, "fiona.mcleod@ncscp.example.org")  # QA subgroup's chair
LIAM = teams_user(PLAN, "liam.foster@ncscp.example.org")  # his actions were updated after the last BMG
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")  # the business unit
CDOP = Channel("19:cdop-channel@thread.tacv2", "CDOP")

FIRST_NUDGE = london(2026, 11, 16, 10)  # Monday, 14 days before the BMG on Monday 30 November
SATURDAY = london(2026, 11, 21, 10)
FINAL_NUDGE = london(2026, 11, 23, 10)  # 7 days before
SUMMARY = london(2026, 11, 25, 10)  # 5 days before
FAST = Pacing(base=0.0, gap=0.0)


def scheduler(bot: Harness, db: Database | None = None, who: str = "replica-a", clock: Any = None) -> Scheduler:
    messenger = Messenger(bot.client.app[ADAPTER], "", FAST)  # the server's own adapter: one session
    return Scheduler(db or bot.database, clock or bot.clock, messenger, who=who)


async def setup_cycle(bot: Harness) -> None:
    """Leads and the business unit have the bot installed; CDOP has a linked channel."""
    for user in (RACHEL, FIONA, LIAM, PRIYA):
        await bot.post(make_installation("add", user, bot.tenant, bot.connector.url))
    bot.connector.take()
    bot.connector.channels = [CDOP]
    await bot.one("link this channel to CDOP", PRIYA, CDOP)
    bot.connector.take()


def sent_to(bot: Harness, user: Any) -> list[dict[str, Any]]:
    return [a for a in bot.connector.sent if a["_conversation"] == f"a:1personal-{user.aad_object_id}"]


@pytest.fixture(scope="module")
async def cycle_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    db = await demo_database(tmp_path_factory.mktemp("cycle"))
    yield db
    await db.dispose()


@pytest.fixture(scope="module")
async def cycle(cycle_db: Database) -> AsyncIterator[Harness]:
    async for harness in start_harness(cycle_db):
        await setup_cycle(harness)
        yield harness


async def test_a_whole_cycle(cycle: Harness) -> None:
    bot = cycle
    bot.clock.instant = FIRST_NUDGE
    await scheduler(bot).run_once()
    [nudge] = sent_to(bot, RACHEL)
    texts = card_texts(card_of(nudge))
    assert texts[0] == "updates for the BMG on Monday 30 November"
    assert "8.1" in texts and "[Update 8.1]" in texts
    fiona = card_texts(card_of(sent_to(bot, FIONA)[0]))
    assert {"3.2", "4.1", "4.2"} <= set(fiona), "QA actions with no update since the last BMG"
    assert "2.3" not in fiona, "complete (Blue): owes nothing"
    assert sent_to(bot, LIAM) == [], "his actions were updated after the last BMG"
    problems = [a for a in sent_to(bot, PRIYA) if "could not be sent" in " ".join(card_texts(card_of(a)))]
    assert problems, "the business unit hears who could not be nudged"
    assert any(
        "Plan Tracker is not installed in Margaret Ellison's Teams" in t for t in card_texts(card_of(problems[0]))
    )
    bot.connector.take()

    bot.clock.instant = FIRST_NUDGE + timedelta(hours=3)
    await scheduler(bot, who="replica-b").run_once()
    assert bot.connector.take() == [], "nobody is nudged twice for the same step"

    bot.clock.instant = SATURDAY
    await bot.one("8.1 green: panel workplan on track, next meeting booked; mum on 07700 900123", RACHEL)
    assert (await bot.one("save", RACHEL))["text"].startswith("Saved: 8.1 is now Green."), "kept on purpose"
    bot.connector.take()
    await scheduler(bot).run_once()
    assert bot.connector.take() == [], "no reminders at the weekend"

    bot.clock.instant = FINAL_NUDGE
    await scheduler(bot).run_once()
    assert sent_to(bot, RACHEL) == [], "updated since: no final nudge"
    [final] = sent_to(bot, FIONA)
    assert card_texts(card_of(final))[0] == "Last reminder: updates for the BMG on Monday 30 November"
    bot.connector.take()

    bot.clock.instant = SUMMARY
    await scheduler(bot).run_once()
    [thread] = bot.connector.threads
    assert thread["channelData"]["channel"]["id"] == CDOP.id, "a new thread in CDOP's linked channel"
    summary = card_texts(thread["activity"]["attachments"][0]["content"])
    assert summary[0] == "CDOP: before the BMG on Monday 30 November 2026"
    assert "Since the last BMG: still Green" in summary
    assert "panel workplan on track, next meeting booked; mum on [identifying detail removed]" in summary
    assert "07700 900123" not in str(thread), "never in a channel"
    report = next(a for a in sent_to(bot, PRIYA) if card_texts(card_of(a))[0].startswith("Exception report"))
    report_texts = card_texts(card_of(report))
    assert "Red (2)" in report_texts and "3.1, 10.2" in report_texts
    assert any(
        t.startswith("No channel linked, so no summary posted for: ") and "Children's QA subgroup" in t
        for t in report_texts
    )

    bot.connector.take()
    bot.connector.threads.clear()
    await scheduler(bot, who="replica-b").run_once()
    assert bot.connector.take() == [] and bot.connector.threads == [], "each summary is posted once"


async def test_snooze_skips_this_cycle_s_reminders(fresh: Harness) -> None:
    bot = fresh
    await bot.post(make_installation("add", RACHEL, bot.tenant, bot.connector.url))
    bot.connector.take()
    reply = await bot.one("snooze", RACHEL)
    assert reply["text"].startswith("Snoozed: no more reminders before the BMG on Monday 30 November 2026.")
    bot.clock.instant = FIRST_NUDGE
    await scheduler(bot).run_once()
    assert sent_to(bot, RACHEL) == []
    bot.clock.instant = FINAL_NUDGE
    await scheduler(bot).run_once()
    assert sent_to(bot, RACHEL) == []


@pytest.fixture
async def fresh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    """A demo database of the test's own: what was sent before must not count."""
    db = await demo_database(tmp_path_factory.mktemp("fresh"))
    async for harness in start_harness(db):
        yield harness
    await db.dispose()


async def summary_ready(bot: Harness) -> None:
    await setup_cycle(bot)
    bot.clock.instant = SUMMARY


async def test_throttled_then_accepted(fresh: Harness) -> None:
    bot = fresh
    await summary_ready(bot)
    bot.connector.fail_threads = [(429, {"Retry-After": "0"})]
    await scheduler(bot).run_once()
    assert len(bot.connector.threads) == 1, "retried once, posted once"
    async with bot.database.transaction() as session:
        row = await session.scalar(select(Dispatch).where(Dispatch.kind == DispatchKind.SUMMARY))
    assert row is not None and (row.status, row.attempts) == (DispatchStatus.SENT, 2)


async def test_a_channel_that_always_fails_does_not_stop_the_run(fresh: Harness) -> None:
    bot = fresh
    await summary_ready(bot)
    bot.connector.fail_threads = [(503, {})] * FAST.attempts
    report = await scheduler(bot).run_once()
    assert bot.connector.threads == []
    assert any("summary for CDOP" in line and "failed" in line for line in report.lines)
    async with bot.database.transaction() as session:
        row = await session.scalar(select(Dispatch).where(Dispatch.kind == DispatchKind.SUMMARY))
    assert row is not None and row.status is DispatchStatus.FAILED
    assert "Teams kept answering 503 after 5 attempts" in row.detail
    told = [t for a in sent_to(bot, PRIYA) for t in card_texts(card_of(a))]
    assert any(t.startswith("Exception report") for t in told), "the rest of the run went on"
    assert any("summary for CDOP" in t and "503" in t for t in told), "the business unit is told what failed"


async def test_a_crash_between_claim_and_send(fresh: Harness) -> None:
    bot = fresh
    await summary_ready(bot)
    async with bot.database.transaction() as session:
        ncscp = await session.scalar(select(Partnership).where(Partnership.short_name == "NCSCP"))
        cdop = await session.scalar(select(SubGroup).where(SubGroup.name == "CDOP"))
        assert ncscp is not None and cdop is not None
        for kind, target, status in [
            (DispatchKind.SUMMARY, f"subgroup:{cdop.id}", DispatchStatus.CLAIMED),  # died before sending
            (DispatchKind.EXCEPTIONS, "person:1", DispatchStatus.SENDING),  # died while sending
        ]:
            session.add(
                Dispatch(
                    partnership_id=ncscp.id,
                    meeting_on=SUMMARY.date() + timedelta(days=5),
                    kind=kind,
                    target=target,
                    status=status,
                    claimed_by="crashed",
                    claimed_at=SUMMARY - timedelta(hours=1),
                )
            )
    await scheduler(bot).run_once()
    assert len(bot.connector.threads) == 1, "the abandoned claim is taken over and sent once"
    async with bot.database.transaction() as session:
        rows = {
            r.kind: r
            for r in await session.scalars(select(Dispatch).where(Dispatch.claimed_by != "snooze"))
            if r.target in {f"subgroup:{cdop.id}", "person:1"}
        }
    assert rows[DispatchKind.SUMMARY].status is DispatchStatus.SENT
    assert rows[DispatchKind.EXCEPTIONS].status is DispatchStatus.UNKNOWN, "may have arrived: not sent again"
    assert not [a for a in sent_to(bot, PRIYA) if card_texts(card_of(a))[0].startswith("Exception report")]


async def test_a_dry_run_sends_and_claims_nothing(fresh: Harness) -> None:
    bot = fresh
    await summary_ready(bot)
    report = await scheduler(bot).run_once(dry_run=True)
    assert any(line.startswith("summary for CDOP") and line.endswith("would send") for line in report.lines)
    assert bot.connector.sent == [] and bot.connector.threads == []
    async with bot.database.transaction() as session:
        assert list(await session.scalars(select(Dispatch).where(Dispatch.claimed_by != "snooze"))) == []


@pytest.fixture
async def race_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """A PostgreSQL database of its own, shared by two schedulers."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set, so the PostgreSQL race is not run (.ci/run sets it)")
    name = f"plantracker_race_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    from sqlalchemy.engine import make_url

    race_url = make_url(async_url(url)).set(database=name).render_as_string(hide_password=False)
    from bot.demo import load_demo
    from storage.migrate import upgrade

    await upgrade(race_url)
    db = Database(race_url)
    async with db.transaction() as session:
        await load_demo(session, london(2026, 11, 23, 10).date())
    yield db
    await db.dispose()
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def test_two_schedulers_racing_on_postgresql_post_each_summary_once(race_db: Database) -> None:
    async for bot in start_harness(race_db):
        await summary_ready(bot)
        clock = FixedClock(SUMMARY)
        await asyncio.gather(*(scheduler(bot, race_db, who=f"replica-{n}", clock=clock).run_once() for n in range(4)))
        assert len(bot.connector.threads) == 1
        reports = [a for a in sent_to(bot, PRIYA) if card_texts(card_of(a))[0].startswith("Exception report")]
        assert len(reports) == 1
        async with race_db.transaction() as session:
            rows = list(await session.scalars(select(Dispatch)))
        keys = [(r.kind, r.target) for r in rows]
        assert len(keys) == len(set(keys)), "one row per message"
        assert {r.claimed_by for r in rows} - {"snooze"}, "claimed by the replicas"


async def test_preview_and_meetings_in_teams(fresh: Harness) -> None:
    bot = fresh
    bot.connector.channels = [CDOP]
    await bot.one("link this channel to CDOP", PRIYA, CDOP)
    preview = card_texts(card_of(await bot.one("summary preview", RACHEL, CDOP)))
    assert preview[0] == "CDOP: before the BMG on Monday 30 November 2026"
    assert bot.connector.threads == [], "a preview posts nothing"
    report = card_texts(card_of(await bot.one("summary preview", PRIYA)))
    assert report[0] == "Exception report for the BMG on Monday 30 November 2026"
    refused = await bot.one("set BMG 2027-03-17", RACHEL)
    assert refused["text"] == "Only the business unit sets BMG dates; please ask Gareth Lloyd or Priya Shah."
    added = await bot.one("set BMG 2027-03-17", PRIYA)
    assert added["text"] == "Added: a BMG on Wednesday 17 March 2027. Reminders and summaries will be timed from it."
    assert (await bot.one("set BMG 2027-03-17", PRIYA))["text"] == "There is already a BMG on Wednesday 17 March 2027."
    assert (await bot.one("set BMG next week", PRIYA))["text"].startswith("I couldn't read 'next week' as a date")


def test_timetable_keeps_to_working_days() -> None:
    from datetime import date

    from bot.rules import LONDON
    from bot.summaries import Timetable, in_working_hours

    table = Timetable()
    assert table.due(date(2026, 11, 30), 14, LONDON) == london(2026, 11, 16, 9)
    assert table.due(date(2026, 12, 7), 5, LONDON) == london(2026, 12, 2, 9)
    assert table.due(date(2026, 12, 1), 3, LONDON) == london(2026, 11, 27, 9), "a Saturday moves to the Friday"
    assert in_working_hours(london(2026, 11, 23, 9), LONDON)
    assert not in_working_hours(london(2026, 11, 23, 17, 30), LONDON)
    assert not in_working_hours(SATURDAY, LONDON)


async def test_the_server_runs_the_scheduler_by_itself(fresh: Harness) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import create_app

    bot = fresh
    await setup_cycle(bot)
    clock = FixedClock(FIRST_NUDGE)
    settings = Settings(database_url=bot.database.url, scheduler=True, scheduler_interval=0.05)
    async with TestClient(TestServer(create_app(settings, clock, bot.database))):
        for _ in range(100):
            if sent_to(bot, RACHEL):
                break
            await asyncio.sleep(0.05)
    [nudge] = sent_to(bot, RACHEL)
    assert "8.1" in card_texts(card_of(nudge))


async def preview_at(bot: Harness, at: str) -> str:
    """`planbot summaries preview` on the bot's database, as the business unit would run it beside the server."""
    from click.testing import CliRunner

    from bot.cli import Context, cli

    context = Context(Settings(database_url=bot.database.url), bot.clock)
    args = ["summaries", "preview", "--partnership", "NCSCP", "--at", at]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, obj=context, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


async def dispatches(bot: Harness) -> list[tuple[DispatchKind, str, DispatchStatus]]:
    async with bot.database.transaction() as session:
        return [(r.kind, r.target, r.status) for r in await session.scalars(select(Dispatch).order_by(Dispatch.id))]


async def test_the_preview_sends_nothing_and_after_a_run_says_what_went(fresh: Harness) -> None:
    bot = fresh
    await setup_cycle(bot)
    bot.clock.instant = FIRST_NUDGE
    before = await preview_at(bot, "2026-11-16T10:00")
    assert "- nudge to Rachel Dunmore (8.1): would send" in before
    assert "- nudge to Margaret Ellison (5.2, 6.1, 7.1): cannot go, Plan Tracker is not installed" in before
    assert "The business unit would be told in Teams what cannot go (problems report to Priya Shah)." in before
    assert bot.connector.take() == [] and await dispatches(bot) == [], "nothing sent, nothing claimed"

    await scheduler(bot).run_once()
    [nudge] = sent_to(bot, RACHEL)
    assert "8.1" in card_texts(card_of(nudge))
    bot.connector.take()
    rows = await dispatches(bot)

    again = await preview_at(bot, "2026-11-16T11:00")
    assert "- nudge to Rachel Dunmore (8.1): not again, sent Monday 16 November 2026, 10:00" in again
    assert "not again, could not go (Plan Tracker is not installed in Margaret Ellison's Teams)" in again
    assert "would send" not in again and "The business unit would be told" not in again
    assert "Nothing new to send at this moment: 0 would be sent, 5 already done, so not again." in again
    assert "- nudge, Rachel Dunmore: sent Monday 16 November 2026, 10:00" in again
    assert "- exceptions, the problems report to Priya Shah: sent Monday 16 November 2026, 10:00" in again
    assert bot.connector.take() == [] and await dispatches(bot) == rows, "still nothing sent or claimed"

    summary = await preview_at(bot, "2026-11-25")
    assert "- summary for CDOP in CDOP: would send" in summary, "CDOP's channel is linked"
    assert "- summary for Children's QA subgroup: not posted, no channel is linked" in summary
    assert "- exception report to Priya Shah: would send" in summary
    assert bot.connector.threads == []

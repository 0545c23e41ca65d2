"""A reply the Bot Connector refuses or does not answer is sent again, a few times, and then reported:
what the person sees is the reply once, and the update stored once, whatever Teams answered first."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapter import REPLY_RETRIES
from bot.settings import Settings
from storage.db import Database
from storage.models import Update
from tests.harness import NCSCP_TENANT, Harness, InstantWaits, ncscp_plan, start_harness, teams_user
from tests.teams import make_message

FIONA = teams_user(ncscp_plan(), "fiona.mcleod@ncscp.example.org")
_notes = itertools.count(1)
SAVED = "Saved: 4.2 is now Amber. (Say undo within 10 minutes to withdraw it.)"


@pytest.fixture
async def bot(demo_db: Database) -> AsyncIterator[Harness]:
    """The bot with a short send timeout, and waits between attempts that pass at once."""
    settings = Settings(database_url=demo_db.url, scheduler=False, send_timeout=0.3)
    async for harness in start_harness(demo_db, settings):
        yield harness


def texts(sent: list[dict[str, Any]]) -> list[str]:
    return [str(s.get("text") or s.get("summary") or "") for s in sent]


async def stored(database: Database, activity_id: str) -> int:
    async with database.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(Update).where(Update.activity_id == activity_id))
    return int(count or 0)


async def update(bot: Harness, failures: list[tuple[int, dict[str, str]] | str]) -> tuple[dict[str, Any], int]:
    """Fiona updates 4.2 while the connector answers the first replies with `failures`."""
    bot.connector.fail_sends = list(failures)
    note = f"partner returns reviewed, round {next(_notes)}"
    message = make_message(f"4.2 amber: {note}", FIONA, NCSCP_TENANT, bot.connector.url)
    response = await bot.post(message)
    return message, response.status


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param([(429, {"Retry-After": "2"})], id="throttled"),
        pytest.param([(502, {}), (502, {})], id="bad-gateway-twice"),
        pytest.param([(503, {}), (500, {})], id="unavailable-then-error"),
        pytest.param(["drop"], id="dropped-connection"),
    ],
)
async def test_a_reply_teams_refused_arrives_once_when_sent_again(
    bot: Harness, failures: list[tuple[int, dict[str, str]] | str], caplog: pytest.LogCaptureFixture
) -> None:
    InstantWaits().install(bot)
    message, status = await update(bot, failures)
    assert status == 201
    assert texts(bot.connector.take()) == [SAVED]
    assert await stored(bot.database, message["id"]) == 1
    assert "was not delivered" not in caplog.text


async def test_teams_asking_to_wait_is_obeyed_before_the_reply_is_sent_again(bot: Harness) -> None:
    waits = InstantWaits().install(bot)
    await update(bot, [(429, {"Retry-After": "2"})])
    assert waits.asked == [2.0], "Retry-After says how long to wait"
    assert len(bot.connector.take()) == 1


async def test_a_long_retry_after_is_waited_only_up_to_the_cap(bot: Harness) -> None:
    waits = InstantWaits().install(bot)
    await update(bot, [(429, {"Retry-After": "3600"})])
    assert waits.asked == [REPLY_RETRIES.cap]
    assert len(bot.connector.take()) == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param((500, {}), id="error"),
        pytest.param((429, {"Retry-After": "1"}), id="throttled"),
        pytest.param("drop", id="dropped-connection"),
    ],
)
async def test_a_reply_teams_never_takes_is_given_up_reported_and_the_update_stands(
    bot: Harness, failure: tuple[int, dict[str, str]] | str, caplog: pytest.LogCaptureFixture
) -> None:
    waits = InstantWaits().install(bot)
    caplog.set_level(logging.INFO)
    message, status = await update(bot, [failure] * 50)
    assert status == 201, "not 503: the turn was done, and Teams delivering it again would repeat it"
    assert bot.connector.take() == [], "no apology either: it would say the update was not made"
    assert 50 - len(bot.connector.fail_sends) <= REPLY_RETRIES.attempts, "Teams is not asked for ever"
    assert sum(waits.asked) <= REPLY_RETRIES.budget
    assert await stored(bot.database, message["id"]) == 1
    [report] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert f"the reply to activity {message['id']} was not delivered" in report.getMessage()
    for private in ("partner returns", "Fiona", "McLeod"):
        assert private not in caplog.text, "the log names the activity, never what was said or who said it"
    bot.connector.fail_sends = []
    assert texts(await bot.say("my actions", FIONA))[0].startswith("Actions you lead, Fiona"), "and serves on"


async def test_a_reply_that_timed_out_is_sent_again_and_the_person_has_it(bot: Harness) -> None:
    """A timeout may hide a reply that arrived: it is sent again all the same (see bot.adapter), so
    the person has the reply, perhaps twice, and the update is stored once."""
    InstantWaits().install(bot)
    bot.connector.late_by = 5.0  # well after the bot's 0.3 s send timeout: the late answer is not awaited
    message, status = await update(bot, ["late"])
    assert status == 201
    assert SAVED in texts(bot.connector.take())
    assert await stored(bot.database, message["id"]) == 1


async def test_the_same_update_delivered_again_after_a_refused_reply_is_stored_once(bot: Harness) -> None:
    """Teams delivering the activity again (as it may when the bot was slow to answer) while the first
    reply was being retried: the update is there once, and the person is told it was already saved."""
    InstantWaits().install(bot)
    message, _ = await update(bot, [(502, {})])
    again = await bot.post(message)
    assert again.status in {200, 201}
    saved = texts(bot.connector.take())
    assert saved[0] == SAVED
    assert len(saved) == 2 and not saved[1].startswith("Saved:")
    assert await stored(bot.database, message["id"]) == 1

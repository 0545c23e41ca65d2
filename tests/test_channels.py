"""Channels are shared: an update typed there is finished in the lead's 1:1 chat, nothing a lead
typed is quoted back into the channel, notes leave with identifying details removed, and
withdrawn notes are never shown there. On the demo plans, the clock at 23 November 2026."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.privacy import REDACTED
from storage.db import Database
from storage.models import Action, Update
from tests.harness import NOW, Harness, ncscp_plan, teams_user
from tests.teams import Channel, card_of, card_texts, make_installation

PLAN = ncscp_plan()
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")  # the business unit
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)
CDOP = Channel("19:cdop-private-tests@thread.tacv2", "CDOP")
NHS = "943 476 5919"


@pytest.fixture(autouse=True)
async def linked(bot: Harness) -> None:
    bot.clock.instant = NOW
    bot.connector.channels = [CDOP]
    await bot.one("link this channel to CDOP", PRIYA, CDOP)


async def notes(db: Database, ref: str) -> list[str]:
    async with db.transaction() as session:
        action = await session.scalar(select(Action).where(Action.ref == ref, Action.plan_id == 1))
        assert action is not None
        return [u.comment for u in await session.scalars(select(Update).where(Update.action_id == action.id))]


def everything(replies: list[dict[str, Any]]) -> str:
    return str(replies)


async def test_a_clean_update_in_a_channel_is_stored_without_quoting_the_note(bot: Harness, demo_db: Database) -> None:
    reply = await bot.one("8.1 green: panel met, all reviews on schedule", RACHEL, CDOP)
    assert reply["text"].startswith("Saved: 8.1 is now Green.")
    assert "panel met" not in reply["text"]
    assert "panel met, all reviews on schedule" in await notes(demo_db, "8.1")
    await bot.one("undo", RACHEL, CDOP)


async def test_an_update_needing_a_question_goes_on_in_the_1_1_chat(bot: Harness, demo_db: Database) -> None:
    await bot.post(make_installation("add", RACHEL, bot.tenant, bot.connector.url))
    bot.connector.take()
    typed = f"8.1 amber: the child's NHS number is {NHS}, review delayed"
    replies = await bot.say(typed, RACHEL, CDOP)
    in_channel = [r for r in replies if r["_conversation"].startswith(CDOP.id)]
    private = [r for r in replies if r["_conversation"].startswith("a:1personal")]
    assert [r["text"] for r in in_channel] == [
        "I've sent you a private message to finish that; nothing is saved until you do."
    ]
    assert NHS not in everything(in_channel), "the note is never quoted in the channel"
    warning = card_texts(card_of(private[0]))
    assert any("seems to contain an NHS number" in t for t in warning)
    assert typed.split(": ", 1)[1] in warning, "shown back to the lead, privately"
    assert not any(NHS in n for n in await notes(demo_db, "8.1")), "nothing stored yet"
    saved = await bot.one("save", RACHEL)  # answered in the 1:1 chat
    assert saved["text"].startswith("Saved: 8.1 is now Amber.")
    assert any(NHS in n for n in await notes(demo_db, "8.1"))
    await bot.one("undo", RACHEL)


async def test_without_a_1_1_chat_nothing_is_saved_and_the_lead_is_told(bot: Harness, demo_db: Database) -> None:
    await bot.post(make_installation("remove", RACHEL, bot.tenant, bot.connector.url))
    bot.connector.take()
    before = await notes(demo_db, "8.1")
    reply = await bot.one(f"8.1 amber: NHS {NHS} review delayed", RACHEL, CDOP)
    assert reply["text"].startswith("I couldn't message you privately, so nothing was saved")
    assert NHS not in str(reply)
    assert await notes(demo_db, "8.1") == before


async def test_notes_in_a_channel_have_identifying_details_removed(bot: Harness) -> None:
    await bot.one(f"8.1 amber: NHS {NHS} review delayed by late agency returns", RACHEL)
    assert (await bot.one("save", RACHEL))["text"].startswith("Saved: 8.1 is now Amber.")
    in_channel = await bot.one("history 8.1", RACHEL, CDOP)
    assert NHS not in str(in_channel)
    assert f"NHS {REDACTED} review delayed by late agency returns" in card_texts(card_of(in_channel))
    shown = await bot.one("show 8.1", PRIYA, CDOP)
    assert NHS not in str(shown)
    preview = await bot.one("summary preview", RACHEL)
    assert NHS not in str(preview), "the summary preview shows what the channel would get"
    privately = await bot.one("history 8.1", RACHEL)
    assert any(NHS in t for t in card_texts(card_of(privately))), "in the lead's own chat, as written"
    await bot.one("undo", RACHEL)


async def test_withdrawn_notes_are_never_shown_in_a_channel(bot: Harness) -> None:
    await bot.one("8.1 red: budget withdrawn by one partner agency", RACHEL)
    await bot.one("undo", RACHEL)
    in_channel = await bot.one("history 8.1", PRIYA, CDOP)
    assert "budget withdrawn" not in str(in_channel)
    assert any("(withdrawn)" in t for t in card_texts(card_of(in_channel))), "that it existed is shown"
    privately = await bot.one("history 8.1", RACHEL)
    assert "budget withdrawn by one partner agency" in card_texts(card_of(privately))


async def test_the_partnership_s_own_case_ids_are_checked_in_and_removed_out(bot: Harness) -> None:
    warned = card_texts(card_of(await bot.one("8.1 amber: review ENC4412345 delayed by late returns", RACHEL)))
    assert any("seems to contain a case reference" in t for t in warned), "the plan file's own pattern"
    assert (await bot.one("save", RACHEL))["text"].startswith("Saved: 8.1 is now Amber.")
    in_channel = await bot.one("show 8.1", RACHEL, CDOP)
    assert "ENC4412345" not in str(in_channel)
    assert f"review {REDACTED} delayed by late returns" in card_texts(card_of(in_channel))
    await bot.one("undo", RACHEL)


async def test_redacting_from_a_channel_goes_on_in_the_1_1_chat(bot: Harness, demo_db: Database) -> None:
    await bot.post(make_installation("add", RACHEL, bot.tenant, bot.connector.url))
    bot.connector.take()
    await bot.one(f"8.1 amber: panel paused; NHS {NHS} on the form", RACHEL)
    assert (await bot.one("save", RACHEL))["text"].startswith("Saved: 8.1 is now Amber.")
    replies = await bot.say("redact my last update on 8.1", RACHEL, CDOP)
    in_channel = [r for r in replies if r["_conversation"].startswith(CDOP.id)]
    private = [r for r in replies if r["_conversation"].startswith("a:1personal")]
    assert [r["text"] for r in in_channel] == [
        "I've sent you a private message to finish that; nothing is saved until you do."
    ]
    assert NHS not in str(in_channel), "the note to redact is never shown in the channel"
    assert any("redacted?" in t for t in card_texts(card_of(private[0])))
    done = await bot.one("it names a child", RACHEL)
    assert done["text"].startswith("Redacted: ")
    assert not any("panel paused" in n for n in await notes(demo_db, "8.1")), "that note's text is gone"

"""End to end with a real Teams client: our server in its own process, the Microsoft 365 Agents
Playground in another, the demo plans in a real database. Skipped, saying why, without Node.js."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.playground import CLI, PlaygroundSetup, demo_database_url, demo_setup, start_bot
from tests.e2e.playground import Playground, card, free_port, start_playground, stop
from tests.teams import card_texts, refs_on

ADMIN = "gareth.lloyd@ncscp.example.org"  # the Children's Board Officer, at the keyboard
RACHEL = "rachel.dunmore@ncscp.example.org"  # chair of CDOP

if shutil.which("node") is None:
    pytest.skip("Node.js is not installed, so the Agents Playground tests cannot run", allow_module_level=True)
if not CLI.exists():
    pytest.skip("the Agents Playground is not installed (make test runs npm ci)", allow_module_level=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
async def setup(folder: Path) -> PlaygroundSetup:
    return await demo_setup(folder, ADMIN, include=(RACHEL,), channel_for="CDOP")


@pytest.fixture(scope="module")
def processes(setup: PlaygroundSetup, folder: Path) -> Iterator[int]:
    bot_port, playground_port = free_port(), free_port()
    bot = start_bot(demo_database_url(folder), bot_port, folder)
    try:
        client = start_playground(setup, bot_port, playground_port, folder)
        try:
            yield playground_port
        finally:
            stop(client)
    finally:
        stop(bot)


@pytest.fixture
async def teams(processes: int, setup: PlaygroundSetup) -> AsyncIterator[Playground]:
    async with Playground.connect(f"http://127.0.0.1:{processes}", setup) as client:
        yield client


async def test_installing_in_personal_chat_says_hello(teams: Playground) -> None:
    welcome = await teams.install(teams.setup.personal_chat)
    assert welcome["text"].startswith("Hello! I keep track of Nottingham City Safeguarding Children Partnership")


async def test_help(teams: Playground) -> None:
    texts = card_texts(card(await teams.say(teams.setup.personal_chat, "help")))
    assert "What I can do for you, Gareth" in texts
    assert any(t.startswith("link this channel to") for t in texts), "Gareth is in the business unit"


async def test_my_actions(teams: Playground) -> None:
    listing = card(await teams.say(teams.setup.personal_chat, "my actions"))
    assert "Actions you lead, Gareth" in card_texts(listing)
    assert "13.5" in refs_on(listing), "13.5 is led by the Children's Board Officer"


async def test_overdue_for_the_business_unit_is_the_whole_plan(teams: Playground) -> None:
    listing = card(await teams.say(teams.setup.personal_chat, "what's overdue?"))
    assert "Overdue actions for the whole of Business Plan 2019-22" in card_texts(listing)
    assert "13.5" in refs_on(listing), "its only milestone (July 2019, moved by the demo) has passed"
    assert "8.1" not in refs_on(listing), "its passed milestone was a reporting point; the last is to come"


async def test_show_an_action(teams: Playground) -> None:
    texts = card_texts(card(await teams.say(teams.setup.personal_chat, "show 4.2")))
    assert "Action 4.2" in texts
    assert "Lead: Children's QA subgroup" in texts


async def test_a_channel_linked_to_a_sub_group_answers_for_it(teams: Playground) -> None:
    cdop = next(c for c in teams.setup.channels if c.name == "CDOP")
    hello = await teams.install(teams.setup.team)
    assert "link this channel to <sub-group>" in hello["text"]
    linked = await teams.say(cdop.id, "link this channel to CDOP", mention=True)
    assert linked["text"].startswith("Linked: this channel (CDOP) is now CDOP's channel.")
    asked = await teams.say(cdop.id, "overdue", user=teams.setup.user_id(RACHEL), mention=True)
    assert asked["text"] == "Nothing overdue for CDOP."


async def test_a_one_message_update(teams: Playground) -> None:
    saved = await teams.say(teams.setup.personal_chat, "13.5 amber: two schools still to respond; chasing this week")
    assert saved["text"].startswith("Saved: 13.5 is now Amber.")
    shown = card_texts(card(await teams.say(teams.setup.personal_chat, "show 13.5")))
    assert "two schools still to respond; chasing this week" in shown


async def test_a_guided_update(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    assert "Which action?" in card_texts(card(await teams.say(chat, "update")))[0]
    assert "How is 7.2 going?" in card_texts(card(await teams.say(chat, "7.2")))[0]
    assert "Why is 7.2 Red" in card_texts(card(await teams.say(chat, "red")))[0]
    assert "revised date" in card_texts(card(await teams.say(chat, "Trainer left; recruiting a replacement")))[0]
    assert "Save this update?" in card_texts(card(await teams.say(chat, "skip")))[0]
    saved = await teams.say(chat, "save")
    assert saved["text"].startswith("Saved: 7.2 is now Red.")


async def test_a_card_update_replaces_the_card(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    shown = await teams.say(chat, "show 13.5")
    button = next(a for a in card(shown)["actions"] if a["title"] == "Update")
    form = await teams.execute(chat, shown["messageId"], "update_form", button["data"])
    assert form["type"] == "application/vnd.microsoft.card.adaptive"
    assert {e.get("id") for e in form["value"]["body"]} >= {"rag", "note", "revised"}
    data = {**button["data"], "verb": "save_update", "rag": "green", "note": "All schools have now confirmed"}
    saved = await teams.execute(chat, shown["messageId"], "save_update", data)
    assert saved["type"] == "application/vnd.microsoft.card.adaptive", "the card to show in place"
    texts = card_texts(saved["value"])
    assert any(t.startswith("Updated by Gareth Lloyd at") for t in texts), texts
    assert "All schools have now confirmed" in texts
    assert "Green" in texts


async def test_a_summary_thread_appears_in_the_linked_channel(teams: Playground, folder: Path) -> None:
    cdop = next(c for c in teams.setup.channels if c.name == "CDOP")
    await teams.install(teams.setup.team)
    await teams.say(cdop.id, "link this channel to CDOP", mention=True)
    env = {
        **os.environ,
        "DATABASE_URL": demo_database_url(folder),
        "PLANBOT_SUMMARY_DAYS": "8",  # the summary fell due a day ago: send it now
        "PLANBOT_NUDGE_DAYS": "0",
        "PLANBOT_FINAL_NUDGE_DAYS": "0",
    }
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "summaries",
        "run",
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await run.communicate())[0].decode()
    assert "summary for CDOP in CDOP: sent" in output, output
    thread = await teams.reply(cdop.id)
    texts = card_texts(card(thread))
    assert texts[0].startswith("CDOP: before the BMG on ")
    assert "8.1" in texts


async def test_everyday_phrasing_is_understood(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    plate = card(await teams.say(chat, "what's on my plate"))
    assert "Actions you lead, Gareth" in card_texts(plate)
    thanks = await teams.say(chat, "cheers")
    assert thanks["text"] == "You're welcome, Gareth."


async def test_a_sub_group_by_its_abbreviation(teams: Playground) -> None:
    answer = await teams.say(teams.setup.personal_chat, "overdue for L&I")
    said = " ".join(card_texts(card(answer))) if answer.get("attachments") else str(answer.get("text"))
    assert "for Learning and Improvement subgroup" in said, "not the asker's own overdue actions"


async def test_the_big_picture(teams: Playground) -> None:
    texts = card_texts(card(await teams.say(teams.setup.personal_chat, "give me the big picture")))
    assert texts[0] == "Where Business Plan 2019-22 stands"
    assert any(t.startswith("Overdue: ") for t in texts)
    assert "By sub-group" in texts


async def test_an_update_written_with_dashes_is_stored(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    saved = await teams.say(chat, "13.5 - red - trainer left, cohorts cancelled")
    assert saved["text"].startswith("Saved: 13.5 is now Red.")
    assert "trainer left, cohorts cancelled" in card_texts(card(await teams.say(chat, "show 13.5")))


async def test_a_message_that_may_be_an_update_is_asked_about_never_dropped(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    asked = card_texts(card(await teams.say(chat, "is 13.5 amber?")))
    assert asked[0] == "Post this as an update to 13.5, Amber?"
    assert "[Post it]" in asked and "[Don't post]" in asked
    declined = await teams.say(chat, "no")
    assert declined["text"] == "Not posted; nothing was saved."


async def test_reds_and_ambers_are_listed_together(teams: Playground) -> None:
    listing = card(await teams.say(teams.setup.personal_chat, "show reds and ambers"))
    texts = card_texts(listing)
    assert "Red or Amber actions for the whole of Business Plan 2019-22" in texts
    assert "Red" in texts and "Amber" in texts, "both ratings, not only the first one named"
    assert not {"Green", "Blue", "No update"} & set(texts), texts


async def test_gone_quiet_since_the_bmg_means_no_update_since_the_meeting(teams: Playground) -> None:
    listing = card(await teams.say(teams.setup.personal_chat, "which ones have gone quiet since the BMG"))
    assert "No update since the last BMG for the whole of Business Plan 2019-22" in card_texts(listing)
    refs = refs_on(listing)
    assert "3.2" in refs, "no update at all, led by the Children's QA subgroup"
    assert "13.1" not in refs, "updated since the last BMG"
    assert refs != ["5.2"], "not the actions the Business Management Group leads"


async def test_progress_on_an_action_is_stored(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    saved = await teams.say(chat, "progress on 13.2: audit done, on track")
    assert saved["text"].startswith("Saved: 13.2 is now Green."), saved.get("text")
    history = card_texts(card(await teams.say(chat, "history 13.2")))
    assert "audit done" in history, history


async def test_a_rating_after_a_colon_then_a_note_is_stored(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    saved = await teams.say(chat, "13.2: green. three schools took part")
    assert saved["text"].startswith("Saved: 13.2 is now Green."), saved.get("text")
    shown = card_texts(card(await teams.say(chat, "show 13.2")))
    assert "three schools took part" in shown, "the note as written, not the June one about three schools"


async def test_a_typo_still_finds_ones_actions(teams: Playground) -> None:
    listing = card(await teams.say(teams.setup.personal_chat, "my acitons please"))
    assert "Actions you lead, Gareth" in card_texts(listing)
    assert "13.5" in refs_on(listing)


# What the bot may offer that only asks (undo or snooze would change something).
QUESTIONS = {"my actions", "overdue", "due soon", "reds and ambers", "no update", "missed reports", "plan status"}


async def test_a_message_not_understood_offers_buttons_that_ask_for_what_they_say(teams: Playground) -> None:
    chat = teams.setup.personal_chat
    puzzled = await teams.say(chat, "bananas")
    offered = card(puzzled)
    assert card_texts(offered)[0].startswith('Sorry, I did not understand "bananas".'), card_texts(offered)
    buttons = offered["actions"]
    assert 2 <= len(buttons) <= 3, buttons
    assert all(b["type"] == "Action.Submit" and b["data"]["verb"] == "ask" for b in buttons)
    button = next((b for b in buttons if b["title"] in QUESTIONS), None)
    assert button is not None, f"no question among {[b['title'] for b in buttons]}"
    pressed = await teams.submit(chat, puzzled["messageId"], button["data"])
    typed = await teams.say(chat, button["title"])
    answer = card_texts(card(pressed)) if pressed.get("attachments") else [pressed.get("text")]
    assert not any("did not understand" in str(t) for t in answer), answer
    assert answer == (card_texts(card(typed)) if typed.get("attachments") else [typed.get("text")]), (
        f"pressing {button['title']!r} answers as asking it does"
    )

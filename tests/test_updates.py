"""Posting progress: in one message, through the guided dialog, and on the card; every rule and
refusal; nothing lost, nothing stored twice. On the demo plans, the clock at 23 November 2026."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.rules import Precision, Rag
from storage.db import Database
from storage.models import Action, Source, Update
from tests.harness import NOW, Harness, ncscp_plan, teams_user
from tests.teams import card_of, card_texts, make_message

PLAN = ncscp_plan()
FIONA = teams_user(PLAN, "fiona.mcleod@ncscp.example.org")  # chair of the Children's QA subgroup
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)
LIAM = teams_user(PLAN, "liam.foster@ncscp.example.org")  # Missing work group (5.3), CSECAG (5.1)
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")  # the business unit
EMMA = teams_user(PLAN, "emma.clarke@ncscp.example.org")  # a viewer


async def history(db: Database, ref: str) -> list[Update]:
    """The action's stored updates, oldest first (compare them by id: each call reads them afresh)."""
    async with db.transaction() as session:
        action = await session.scalar(select(Action).where(Action.ref == ref, Action.plan_id == 1))
        assert action is not None
        return list(await session.scalars(select(Update).where(Update.action_id == action.id).order_by(Update.id)))


async def ids(db: Database, ref: str) -> list[int]:
    return [u.id for u in await history(db, ref)]


def text_of(reply: dict[str, Any]) -> str:
    return str(reply.get("text") or reply.get("summary") or "")


@pytest.fixture(autouse=True)
def reset_clock(bot: Harness) -> None:
    bot.clock.instant = NOW


@pytest.mark.parametrize(
    ("message", "ref", "rag", "note"),
    [
        ("4.2 amber: analysis delayed to November", "4.2", Rag.AMBER, "analysis delayed to November"),
        ("update 11.1 green - training delivered to 120 staff", "11.1", Rag.GREEN, "training delivered to 120 staff"),
        ("12.2 is red because the report was not received", "12.2", Rag.RED, "the report was not received"),
        ("mark 2.2 complete: evidence in the October audit", "2.2", Rag.BLUE, "evidence in the October audit"),
        ("3.2 at risk: waiting for two agency returns", "3.2", Rag.AMBER, "waiting for two agency returns"),
        ("4.1 on track", "4.1", Rag.GREEN, ""),
    ],
)
async def test_one_message_updates(
    bot: Harness, demo_db: Database, message: str, ref: str, rag: Rag, note: str
) -> None:
    before = len(await history(demo_db, ref))
    reply = await bot.one(message, FIONA)
    word = "Blue (complete)" if rag is Rag.BLUE else rag.label
    assert text_of(reply) == f"Saved: {ref} is now {word}. (Say undo within 10 minutes to withdraw it.)"
    stored = await history(demo_db, ref)
    assert len(stored) == before + 1
    latest = stored[-1]
    assert (latest.rag, latest.comment, latest.author_name, latest.source) == (rag, note, "Fiona McLeod", Source.CHAT)
    assert latest.created_at == NOW
    assert latest.activity_id and latest.conversation_id


async def test_the_same_activity_delivered_twice_stores_one_update(bot: Harness, demo_db: Database) -> None:
    before = len(await history(demo_db, "7.3"))
    activity = make_message("7.3 green: audit scheduled for January", FIONA, bot.tenant, bot.connector.url)
    for _ in range(2):
        assert (await bot.post(activity)).status in {200, 201}
    first, second = bot.connector.take()
    assert first["text"].startswith("Saved: 7.3 is now Green.")
    assert second["text"] == "That update to 7.3 was already saved."
    assert len(await history(demo_db, "7.3")) == before + 1


async def test_a_missing_note_is_asked_for_and_only_that(bot: Harness, demo_db: Database) -> None:
    before = len(await history(demo_db, "11.2"))
    ask = await bot.one("11.2 amber", FIONA)
    assert card_texts(card_of(ask))[0] == "Why is 11.2 Amber, and what is being done about it?"
    assert "Why is 11.2 Amber, and what is being done about it?" in card_texts(card_of(ask))
    assert len(await history(demo_db, "11.2")) == before, "nothing stored yet"
    done = await bot.one("Survey analysis slipped; extra analyst from January", FIONA)
    assert done["text"].startswith("Saved: 11.2 is now Amber.")
    latest = (await history(demo_db, "11.2"))[-1]
    assert (latest.rag, latest.comment) == (Rag.AMBER, "Survey analysis slipped; extra analyst from January")


async def test_a_rating_word_it_does_not_know(bot: Harness, demo_db: Database) -> None:
    ask = await bot.one("4.1 purple: waiting on two agency returns", FIONA)
    assert "I don't know the rating 'purple'. Which is it: Red, Amber, Green or Blue (complete)?" in card_texts(
        card_of(ask)
    )
    done = await bot.one("", FIONA, value={"dialog_input": "amber"})
    assert done["text"].startswith("Saved: 4.1 is now Amber.")
    assert (await history(demo_db, "4.1"))[-1].comment == "waiting on two agency returns"


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("12.2 red: late", "Red needs a note saying why, and what is being done about it."),
        (
            "mark 12.1 complete",
            "What is the evidence that 12.1 is complete, against its success measure (Subgroup to BMG)?",
        ),
        ("mark 12.1 complete: done", "Blue (complete) needs evidence against the success measure: Subgroup to BMG."),
        ("4.2 green: " + "x" * 1001, "That note is 1001 characters; please keep it to 1000"),
    ],
)
async def test_notes_the_rules_refuse(bot: Harness, demo_db: Database, message: str, problem: str) -> None:
    ref = message.split()[0] if message[0].isdigit() else message.split()[1]
    before = await ids(demo_db, ref)
    who = FIONA if ref != "12.1" else PRIYA
    reply = await bot.one(message, who)
    await bot.one("cancel", who)
    assert any(problem in t for t in card_texts(card_of(reply))), card_texts(card_of(reply))
    assert await ids(demo_db, ref) == before


async def test_only_those_who_lead_may_update(bot: Harness, demo_db: Database) -> None:
    before = await ids(demo_db, "4.2")
    refused = await bot.one("4.2 green: all sorted now", LIAM)
    assert refused["text"] == (
        "Only the chair and members of Children's QA subgroup, or the business unit can update 4.2; nothing was saved."
    )
    viewer = await bot.one("13.1 green: DSL network met in October", EMMA)
    assert viewer["text"].startswith("Only Priya Shah (Partnerships Manager) or the business unit can update 13.1")
    assert await ids(demo_db, "4.2") == before
    admin = await bot.one("5.3 green: plan on track, returns in", PRIYA)
    assert admin["text"].startswith("Saved: 5.3 is now Green.")


async def test_an_unknown_action_is_asked_for_keeping_the_rest(bot: Harness, demo_db: Database) -> None:
    ask = card_texts(card_of(await bot.one("99.9 green: returns received from all agencies", FIONA)))
    assert ask[0].startswith("I can't find action 99.9")
    assert ask[1] == "Which action? Choose one of yours, or type its reference (e.g. 4.2)."
    saved = await bot.one("7.3", FIONA)
    assert saved["text"].startswith("Saved: 7.3 is now Green.")
    assert (await history(demo_db, "7.3"))[-1].comment == "returns received from all agencies"


async def test_a_revised_date_is_a_proposal_beside_the_milestone(bot: Harness, demo_db: Database) -> None:
    reply = await bot.one("8.1 amber: panel report late (revised date: March 2027)", RACHEL)
    assert reply["text"] == (
        "Saved: 8.1 is now Amber. The revised date March 2027 is recorded as a proposal for the BMG. "
        "(Say undo within 10 minutes to withdraw it.)"
    )
    latest = (await history(demo_db, "8.1"))[-1]
    assert (latest.revised_due_on, latest.revised_precision) == (date(2027, 3, 31), Precision.MONTH)
    assert latest.comment == "panel report late"
    shown = card_texts(card_of(await bot.one("show 8.1", RACHEL)))
    assert any(t.startswith("Milestones: July 2026, March 2027") for t in shown), "the milestones themselves stand"
    assert "Proposed new date: March 2027 (for the BMG to agree)" in shown
    await bot.one("undo", RACHEL)
    assert not any(t.startswith("Proposed new date") for t in card_texts(card_of(await bot.one("show 8.1", RACHEL))))


async def test_undo_withdraws_by_adding_to_the_history(bot: Harness, demo_db: Database) -> None:
    await bot.one("5.1 red: partner funding withdrawn, escalating to BMG", LIAM)
    before = await history(demo_db, "5.1")
    reply = await bot.one("undo", LIAM)
    assert (
        reply["text"] == "Withdrawn: your last update to 5.1 no longer counts (it stays in the history as withdrawn)."
    )
    after = await history(demo_db, "5.1")
    assert [u.id for u in after[:-1]] == [u.id for u in before], "nothing deleted"
    assert after[-1].withdraws_id == before[-1].id
    shown = card_texts(card_of(await bot.one("show 5.1", LIAM)))
    assert "Amber" in shown, "the rating before the withdrawn update is current again"
    assert "partner funding withdrawn, escalating to BMG" not in shown


async def test_undo_only_within_ten_minutes(bot: Harness) -> None:
    await bot.one("5.3 green: returns all in for this quarter", LIAM)
    bot.clock.instant = NOW + timedelta(minutes=11)
    assert (await bot.one("undo", LIAM))["text"] == "There is no update of yours from the last 10 minutes to withdraw."


async def test_a_note_that_may_identify_a_child_is_confirmed_first(bot: Harness, demo_db: Database) -> None:
    before = await ids(demo_db, "8.1")
    warned = card_of(await bot.one("8.1 amber: family at NG7 2RD did not attend, dob 01/02/2015", RACHEL))
    texts = card_texts(warned)
    assert any("seems to contain a date of birth and a postcode" in t for t in texts)
    assert "family at NG7 2RD did not attend, dob 01/02/2015" in texts, "shown back as written"
    assert await ids(demo_db, "8.1") == before
    edit = await bot.one("", RACHEL, value={"dialog_input": "edit"})
    assert any("Why is 8.1 Amber" in t for t in card_texts(card_of(edit)))
    done = await bot.one("One family did not attend; the panel is following up with health", RACHEL)
    assert done["text"].startswith("Saved: 8.1 is now Amber.")
    assert (await history(demo_db, "8.1"))[
        -1
    ].comment == "One family did not attend; the panel is following up with health"


async def test_editing_after_keeping_a_note_checks_the_new_note(bot: Harness, demo_db: Database) -> None:
    before = await ids(demo_db, "8.1")
    await bot.one("update 8.1", RACHEL)
    await bot.one("amber", RACHEL)
    await bot.one("Panel delayed; call 07700 900123 for details", RACHEL)
    await bot.one("skip", RACHEL)  # no revised date
    kept = card_texts(card_of(await bot.one("save", RACHEL)))
    assert any(t.startswith("Save this update?") for t in kept), "kept as written, then the last look"
    await bot.one("edit", RACHEL)
    warned = card_texts(card_of(await bot.one("Panel delayed; the child's NHS number is 943 476 5919", RACHEL)))
    assert any("seems to contain an NHS number" in t for t in warned), "the edited note is checked again"
    await bot.one("cancel", RACHEL)
    assert await ids(demo_db, "8.1") == before


async def test_a_sensitive_note_can_be_kept_on_purpose(bot: Harness, demo_db: Database) -> None:
    await bot.one("8.1 amber: call 07700 900123 for the panel minutes", RACHEL)
    saved = await bot.one("save", RACHEL)
    assert saved["text"].startswith("Saved: 8.1 is now Amber.")
    assert (await history(demo_db, "8.1"))[-1].comment == "call 07700 900123 for the panel minutes"
    await bot.one("undo", RACHEL)


async def test_the_guided_dialog_with_back(bot: Harness, demo_db: Database) -> None:
    before = len(await history(demo_db, "8.1"))
    choose = card_of(await bot.one("update", RACHEL))
    assert "Which action? Choose one of yours, or type its reference (e.g. 4.2)." in card_texts(choose)
    assert next(t for t in card_texts(choose) if t.startswith("[")).startswith("[8.1 ("), "her action, as a button"
    rating = card_of(await bot.one("", RACHEL, value={"dialog_input": "8.1"}))
    assert "How is 8.1 going? Red, Amber, Green, or Blue (complete)." in card_texts(rating)
    again = card_of(await bot.one("back", RACHEL))
    assert "Which action? Choose one of yours, or type its reference (e.g. 4.2)." in card_texts(again)
    await bot.one("8.1", RACHEL)
    note = card_of(await bot.one("amber", RACHEL))
    assert "Why is 8.1 Amber, and what is being done about it?" in card_texts(note)
    revised = card_of(await bot.one("Two reviews delayed by late agency reports", RACHEL))
    assert "Is there a revised date for 8.1's next milestone? e.g. March 2027 (or skip)." in card_texts(revised)
    bad = card_of(await bot.one("soonish", RACHEL))
    assert any("I couldn't read 'soonish' as a date" in t for t in card_texts(bad))
    confirm = card_of(await bot.one("April 2027", RACHEL))
    texts = card_texts(confirm)
    assert "Save this update? 8.1: Amber; proposed new date April 2027." in texts
    assert "Two reviews delayed by late agency reports" in texts
    assert len(await history(demo_db, "8.1")) == before, "nothing stored before the last step"
    saved = await bot.one("", RACHEL, value={"dialog_input": "save"})
    assert saved["text"].startswith("Saved: 8.1 is now Amber. The revised date April 2027")
    latest = (await history(demo_db, "8.1"))[-1]
    assert (latest.source, latest.revised_due_on, latest.comment) == (
        Source.DIALOG,
        date(2027, 4, 30),
        "Two reviews delayed by late agency reports",
    )
    await bot.one("undo", RACHEL)


async def test_cancel_at_any_step(bot: Harness, demo_db: Database) -> None:
    before = await ids(demo_db, "8.1")
    await bot.one("update 8.1", RACHEL)
    await bot.one("red", RACHEL)
    assert (await bot.one("cancel", RACHEL))["text"] == "Cancelled; nothing was saved."
    assert await ids(demo_db, "8.1") == before
    assert (await bot.one("red", RACHEL))["text"] == "Nothing rated Red for you.", "the dialog has ended"


async def test_a_dialog_left_too_long_expires_and_says_so(bot: Harness, demo_db: Database) -> None:
    before = await ids(demo_db, "8.1")
    await bot.one("update 8.1", RACHEL)
    bot.clock.instant = NOW + timedelta(minutes=31)
    reply = await bot.one("amber", RACHEL)
    assert reply["text"] == (
        "Sorry, your update of 8.1 expired after 30 minutes without a reply; nothing was saved. "
        "Say update to start again."
    )
    assert await ids(demo_db, "8.1") == before


async def test_a_new_question_puts_an_unfinished_update_aside_and_says_so(bot: Harness) -> None:
    await bot.one("update 8.1", RACHEL)
    notice, listing = await bot.say("my actions", RACHEL)
    assert (
        notice["text"]
        == "(I've set aside your unfinished update to 8.1; nothing was saved. Say update to start again.)"
    )
    assert "Actions you lead, Rachel" in card_texts(card_of(listing))


async def test_the_card_update_replaces_the_card(bot: Harness, demo_db: Database) -> None:
    shown = card_of(await bot.one("show 7.3", FIONA))
    update_button = next(a for a in shown["actions"] if a["title"] == "Update")
    assert update_button["type"] == "Action.Execute"
    assert update_button["fallback"]["type"] == "Action.Submit"
    form = await bot.invoke(FIONA, "update_form", update_button["data"])
    assert form["type"] == "application/vnd.microsoft.card.adaptive"
    inputs = {e["id"]: e for e in form["value"]["body"] if e["type"].startswith("Input.")}
    assert set(inputs) == {"rag", "note", "revised"}
    assert inputs["note"]["maxLength"] == 1000

    again = await bot.invoke(FIONA, "save_update", {"verb": "save_update", "ref": "7.3", "rag": "red", "note": "x"})
    assert "Red needs a note saying why, and what is being done about it." in card_texts(again["value"])
    assert {e["id"]: e.get("value") for e in again["value"]["body"] if e.get("id")}["rag"] == "red", "typed values kept"

    before = len(await history(demo_db, "7.3"))
    data = {"verb": "save_update", "ref": "7.3", "rag": "amber", "note": "Audit of SOS consistency moved to March"}
    done = await bot.invoke(FIONA, "save_update", data)
    texts = card_texts(done["value"])
    assert "Action 7.3" in texts
    assert "Updated by Fiona McLeod at 10:00 on 23 Nov 2026" in texts
    assert "Amber" in texts and "Audit of SOS consistency moved to March" in texts
    latest = (await history(demo_db, "7.3"))[-1]
    assert len(await history(demo_db, "7.3")) == before + 1
    assert (latest.source, latest.rag) == (Source.CARD, Rag.AMBER)
    assert bot.connector.take() == [], "replaced through the invoke response"


async def test_a_card_press_is_read_without_a_warning_in_the_log(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Teams sends `trigger` with every Action.Execute; the press must not leave a warning each time."""
    data = {"verb": "save_update", "ref": "7.3", "rag": "amber", "note": "Audit of SOS consistency moved to April"}
    with caplog.at_level(logging.WARNING):
        done = await bot.invoke(FIONA, "save_update", data)
    assert "Updated by Fiona McLeod" in " ".join(card_texts(done["value"]))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_the_card_asks_before_storing_a_sensitive_note(bot: Harness, demo_db: Database) -> None:
    before = len(await history(demo_db, "7.3"))
    data = {"verb": "save_update", "ref": "7.3", "rag": "green", "note": "Email jo.bloggs@example.org for the audit"}
    warned = await bot.invoke(FIONA, "save_update", data)
    assert any("seems to contain an email address" in t for t in card_texts(warned["value"]))
    assert "[Save anyway]" in card_texts(warned["value"])
    assert len(await history(demo_db, "7.3")) == before
    save_anyway = next(a for a in warned["value"]["actions"] if a["title"] == "Save anyway")
    saved = await bot.invoke(FIONA, "save_update", {**save_anyway["data"], "rag": "green", "note": data["note"]})
    assert "Updated by Fiona McLeod" in " ".join(card_texts(saved["value"]))
    assert len(await history(demo_db, "7.3")) == before + 1
    await bot.one("undo", FIONA)


async def test_the_card_s_save_anyway_holds_only_for_the_note_it_warned_about(bot: Harness, demo_db: Database) -> None:
    before = len(await history(demo_db, "7.3"))
    data = {"verb": "save_update", "ref": "7.3", "rag": "green", "note": "Call 07700 900123 about the audit"}
    warned = await bot.invoke(FIONA, "save_update", data)
    save_anyway = next(a for a in warned["value"]["actions"] if a["title"] == "Save anyway")
    edited = {**save_anyway["data"], "rag": "green", "note": "Call 07700 900123; NHS number 943 476 5919"}
    again = await bot.invoke(FIONA, "save_update", edited)
    assert any("seems to contain" in t for t in card_texts(again["value"])), "the edited note is checked again"
    assert len(await history(demo_db, "7.3")) == before
    forged = await bot.invoke(FIONA, "save_update", {**data, "confirmed": "yes"})
    assert any("seems to contain" in t for t in card_texts(forged["value"])), "a first submission is checked too"
    assert len(await history(demo_db, "7.3")) == before


async def test_the_submit_fallback_updates_the_card_in_place(bot: Harness, demo_db: Database) -> None:
    data = {"verb": "save_update", "ref": "7.3", "rag": "green", "note": "Back on track after the March audit"}
    activity = make_message("", FIONA, bot.tenant, bot.connector.url, value=data)
    activity["replyToId"] = "reply-7"
    assert (await bot.post(activity)).status in {200, 201}
    [replaced] = bot.connector.take()
    assert replaced["id"] == "reply-7", "the card that was clicked is updated (PUT), not a new message"
    assert "Updated by Fiona McLeod at 10:00 on 23 Nov 2026" in card_texts(card_of(replaced))


async def test_text_people_write_is_stored_and_shown_as_text(bot: Harness, demo_db: Database) -> None:
    note = 'Report **late** see [link](https://evil.example) {"type": "Action.OpenUrl"} <at>Priya</at>'
    await bot.one(f"7.2 amber: {note}", PRIYA)
    assert (await history(demo_db, "7.2"))[-1].comment == note
    shown = card_of(await bot.one("show 7.2", PRIYA))
    runs = [t for t in card_texts(shown) if t == note]
    assert runs, "the note is one piece of text on the card"
    assert not any(a.get("type") == "Action.OpenUrl" for a in shown.get("actions", []))


@pytest.mark.parametrize(
    ("note", "kinds"),
    [
        ("Child at NG7 2RD not seen", ["a postcode"]),
        ("NHS 943 476 5919 on file", ["an NHS number"]),
        ("ring 07700 900123", ["a phone number"]),
        ("DOB 01/02/2015", ["a date of birth"]),
        ("write to jo@example.org", ["an email address"]),
        ("120 staff trained in 2019-20; report due 2026-11-30", []),
    ],
)
def test_what_looks_like_it_identifies_a_child_or_family(note: str, kinds: list[str]) -> None:
    from bot.privacy import kinds as sensitive

    assert sensitive(note) == kinds


async def test_an_update_written_as_people_write_it_is_stored(bot: Harness, demo_db: Database) -> None:
    before = len(await history(demo_db, "7.3"))
    reply = await bot.one("7.3 - red - trainer left, cohorts cancelled", FIONA)
    assert text_of(reply).startswith("Saved: 7.3 is now Red.")
    latest = (await history(demo_db, "7.3"))[-1]
    assert len(await history(demo_db, "7.3")) == before + 1
    assert (latest.rag, latest.comment) == (Rag.RED, "trainer left, cohorts cancelled")
    green = await bot.one("progress on 7.3: audit done, on track", FIONA)
    assert text_of(green).startswith("Saved: 7.3 is now Green.")
    assert (await history(demo_db, "7.3"))[-1].comment == "audit done"
    await bot.one("undo", FIONA)
    await bot.one("undo", FIONA)


async def test_a_message_that_may_be_an_update_is_asked_about_and_stored_if_the_lead_says(
    bot: Harness, demo_db: Database
) -> None:
    before = await ids(demo_db, "4.2")
    asked = card_of(await bot.one("is 4.2 red?", FIONA))
    texts = card_texts(asked)
    assert texts[0] == "Post this as an update to 4.2, Red?"
    assert {"[Post it]", "[Don't post]", "[Show 4.2]"} <= set(texts)
    assert await ids(demo_db, "4.2") == before, "nothing stored before the lead says"
    why = card_of(await bot.one("yes", FIONA))
    assert "Why is 4.2 Red, and what is being done about it?" in card_texts(why)
    saved = await bot.one("Analyst post vacant since October; interim cover from the ICB agreed", FIONA)
    assert text_of(saved).startswith("Saved: 4.2 is now Red.")
    latest = (await history(demo_db, "4.2"))[-1]
    assert (latest.rag, latest.comment) == (
        Rag.RED,
        "Analyst post vacant since October; interim cover from the ICB agreed",
    )
    await bot.one("undo", FIONA)


async def test_declining_the_question_stores_nothing(bot: Harness, demo_db: Database) -> None:
    before = await ids(demo_db, "4.2")
    await bot.one("is 4.2 amber?", FIONA)
    assert (await bot.one("no", FIONA))["text"] == "Not posted; nothing was saved."
    assert await ids(demo_db, "4.2") == before
    shown = card_of(await bot.one("", FIONA, value={"verb": "show", "ref": "4.2"}))
    assert "Action 4.2" in card_texts(shown)


async def test_a_note_without_a_rating_is_kept_while_the_rating_is_asked(bot: Harness, demo_db: Database) -> None:
    asked = card_of(await bot.one("4.2 report delayed until March, waiting on health data", FIONA))
    assert "How is 4.2 going? Red, Amber, Green, or Blue (complete)." in card_texts(asked)
    saved = await bot.one("amber", FIONA)
    assert text_of(saved).startswith("Saved: 4.2 is now Amber.")
    latest = (await history(demo_db, "4.2"))[-1]
    assert (latest.rag, latest.comment) == (Rag.AMBER, "report delayed until March, waiting on health data")
    await bot.one("undo", FIONA)


async def test_a_rating_and_note_without_a_reference_asks_which_action(bot: Harness, demo_db: Database) -> None:
    asked = card_of(await bot.one("amber: analysis delayed to November", FIONA))
    assert "Which action? Choose one of yours, or type its reference (e.g. 4.2)." in card_texts(asked)
    saved = await bot.one("4.1", FIONA)
    assert text_of(saved).startswith("Saved: 4.1 is now Amber.")
    assert (await history(demo_db, "4.1"))[-1].comment == "analysis delayed to November"
    await bot.one("undo", FIONA)


async def test_someone_who_cannot_post_asking_about_an_action_gets_it_shown(bot: Harness, demo_db: Database) -> None:
    before = await ids(demo_db, "4.2")
    reply = await bot.one("is 4.2 red?", EMMA)
    assert "Action 4.2" in card_texts(card_of(reply))
    assert await ids(demo_db, "4.2") == before

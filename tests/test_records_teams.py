"""Records in Teams: redacting a note (author and business unit; refused for others), and every
command a person can repeat changing things once when Teams delivers its activity twice."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.rules import Rag
from storage.db import Database
from storage.models import (
    REDACTED_NOTE,
    AuditEvent,
    AuditKind,
    Dispatch,
    Meeting,
    MilestoneRevision,
    NoteReview,
    ReviewKind,
    SubGroup,
    Update,
)
from tests.harness import NOW, Harness, ncscp_plan, teams_user
from tests.teams import Channel, TeamsUser, card_of, card_texts, make_invoke, make_message
from tests.test_updates import history, text_of

PLAN = ncscp_plan()
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")  # the business unit
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)
LIAM = teams_user(PLAN, "liam.foster@ncscp.example.org")  # Missing work group (5.3), CSECAG (5.1)
FIONA = teams_user(PLAN, "fiona.mcleod@ncscp.example.org")  # chair of the Children's QA subgroup
EMMA = teams_user(PLAN, "emma.clarke@ncscp.example.org")  # a viewer
CDOP_CHANNEL = Channel("19:cdop-records@thread.tacv2", "CDOP")


@pytest.fixture(autouse=True)
def reset_clock(bot: Harness) -> None:
    bot.clock.instant = NOW


async def twice(bot: Harness, text: str, user: TeamsUser, channel: Channel | None = None) -> list[dict[str, Any]]:
    """One activity, delivered twice (as Teams does when a reply is slow); both replies."""
    activity = make_message(text, user, bot.tenant, bot.connector.url, channel)
    for _ in range(2):
        assert (await bot.post(activity)).status in {200, 201}
    return bot.connector.take()


async def pressed_twice(bot: Harness, value: dict[str, Any], user: TeamsUser) -> list[dict[str, Any]]:
    """One button press (an Action.Submit), delivered twice; both replies."""
    activity = make_message("", user, bot.tenant, bot.connector.url, value=value)
    for _ in range(2):
        assert (await bot.post(activity)).status in {200, 201}
    return bot.connector.take()


async def audit(db: Database, kind: AuditKind) -> list[AuditEvent]:
    async with db.transaction() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)))


async def reviews(db: Database, update_id: int) -> list[NoteReview]:
    async with db.transaction() as session:
        return list(await session.scalars(select(NoteReview).where(NoteReview.update_id == update_id)))


async def test_the_author_redacts_their_note_and_the_record_stays(bot: Harness, demo_db: Database) -> None:
    note = "Child A at NG7 2RD went missing twice; police informed"
    await bot.one(f"5.3 amber: {note}", LIAM)
    assert text_of(await bot.one("save", LIAM)).startswith("Saved: 5.3 is now Amber.")
    posted = (await history(demo_db, "5.3"))[-1]
    assert posted.comment == note

    ask = await bot.one("redact my last update on 5.3", LIAM)
    texts = card_texts(card_of(ask))
    assert texts[0].startswith("Why should the note of 23 Nov 2026 10:00 on 5.3 be redacted?")
    assert note in texts, "the note is shown back, so the author knows which"
    replies = await twice(bot, "it names a child", LIAM)
    assert [text_of(r) for r in replies] == [
        'Redacted: the note of 23 Nov 2026 10:00 on 5.3 now reads "[note redacted]". The update, its rating, '
        "who posted it, who redacted it, when and why stay on record.",
        f"That was already done (redacted the note of update {posted.id} on 5.3: it names a child); nothing changed.",
    ]
    stored = next(u for u in await history(demo_db, "5.3") if u.id == posted.id)
    assert stored.comment == REDACTED_NOTE
    assert (stored.rag, stored.author_name, stored.created_at) == (posted.rag, "Liam Foster", posted.created_at)
    [review] = await reviews(demo_db, posted.id)
    assert (review.kind, review.by_name, review.reason, review.at) == (
        ReviewKind.REDACTED,
        "Liam Foster",
        "it names a child",
        NOW,
    )
    assert [e.summary for e in await audit(demo_db, AuditKind.NOTE_REDACTED)] == [
        f"redacted the note of update {posted.id} on 5.3: it names a child"
    ]
    shown = card_texts(card_of(await bot.one("history 5.3", LIAM)))
    assert not any("NG7 2RD" in t for t in shown)


async def test_only_the_author_or_the_business_unit_may_redact(bot: Harness, demo_db: Database) -> None:
    await bot.one("5.1 amber: partner funding reduced, plan being revised", LIAM)
    before = [(u.id, u.comment) for u in await history(demo_db, "5.1")]
    for who in (EMMA, FIONA):
        refused = await bot.one("redact 5.1", who)
        assert text_of(refused) == (
            "Only the business unit, or the person who wrote a note, can redact it; you have no notes on 5.1 to "
            "redact. Please ask Gareth Lloyd or Priya Shah."
        )
    assert [(u.id, u.comment) for u in await history(demo_db, "5.1")] == before


async def test_the_business_unit_chooses_which_note(bot: Harness, demo_db: Database) -> None:
    ref = next(a.ref for o in PLAN.objectives for a in o.actions if sum(1 for u in a.updates if u.comment) >= 3)
    notes = [u for u in await history(demo_db, ref) if u.comment and u.withdraws_id is None]
    assert len(notes) >= 2
    asked = await twice(bot, f"redact {ref}", PRIYA)
    assert len(asked) == 2, "the same activity again asks again; it is not taken as an answer"
    for reply in asked:
        texts = card_texts(card_of(reply))
        assert texts[0] == f"{ref} has {len(notes)} notes you can redact. Which one? Choose it, or type its number."
        assert texts[1].startswith(f"1. {notes[-1].created_at.astimezone(NOW.tzinfo):%-d %b %Y}")
    why = card_texts(card_of(await bot.one("", PRIYA, value={"dialog_input": "1"})))
    assert why[0].startswith("Why should the note of ")
    done = await bot.one("a family's details, reported by the chair", PRIYA)
    assert text_of(done).startswith("Redacted: the note of ")
    after = {u.id: u.comment for u in await history(demo_db, ref)}
    assert after[notes[-1].id] == REDACTED_NOTE, "the newest note, the first listed"
    assert all(after[u.id] == u.comment for u in notes[:-1]), "the others as they were"
    assert (await reviews(demo_db, notes[-1].id))[0].by_name == "Priya Shah"


async def test_undo_delivered_twice_withdraws_one_update(bot: Harness, demo_db: Database) -> None:
    await bot.one("5.1 green: partner funding confirmed for next year", LIAM)
    await bot.one("5.3 green: return interviews all done this month", LIAM)
    earlier = (await history(demo_db, "5.1"))[-1]
    latest = (await history(demo_db, "5.3"))[-1]
    first, second = await twice(bot, "undo", LIAM)
    assert first["text"] == (
        "Withdrawn: your last update to 5.3 no longer counts (it stays in the history as withdrawn)."
    )
    assert second["text"] == "Already withdrawn: your last update to 5.3 no longer counts; nothing more was withdrawn."
    withdrawals = [u for u in await history(demo_db, "5.3") if u.withdraws_id == latest.id]
    assert len(withdrawals) == 1 and withdrawals[0].activity_id
    assert not any(u.withdraws_id == earlier.id for u in await history(demo_db, "5.1")), "5.1 still counts"


async def test_set_bmg_delivered_twice_adds_one_meeting(bot: Harness, demo_db: Database) -> None:
    first, second = await twice(bot, "set BMG 2027-02-10", PRIYA)
    assert first["text"].startswith("Added: a BMG on Wednesday 10 February 2027.")
    assert second["text"] == "That was already done (added a BMG on 2027-02-10); nothing changed."
    async with demo_db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(Meeting).where(Meeting.meets_on == "2027-02-10"))
    assert count == 1
    added = [e for e in await audit(demo_db, AuditKind.MEETING_ADDED) if e.summary == "added a BMG on 2027-02-10"]
    assert [(e.actor_name, e.at) for e in added] == [("Priya Shah", NOW)]


async def test_linking_a_channel_delivered_twice_links_it_once(bot: Harness, demo_db: Database) -> None:
    bot.connector.channels = [CDOP_CHANNEL]
    first, second = await twice(bot, "link this channel to CDOP", PRIYA, CDOP_CHANNEL)
    assert first["text"].startswith("Linked: this channel (CDOP) is now CDOP's channel.")
    assert second["text"].startswith("That was already done (linked the channel CDOP to CDOP")
    [linked] = [e for e in await audit(demo_db, AuditKind.CHANNEL_LINKED) if e.detail["channel"] == CDOP_CHANNEL.id]
    assert (linked.actor_name, linked.detail["subgroup"]) == ("Priya Shah", "CDOP")
    again = await bot.one("link this channel to CDOP", PRIYA, CDOP_CHANNEL)
    assert again["text"] == "This channel (CDOP) is already CDOP's channel; nothing changed."
    assert (
        len([e for e in await audit(demo_db, AuditKind.CHANNEL_LINKED) if e.detail["channel"] == CDOP_CHANNEL.id]) == 1
    )
    async with demo_db.transaction() as session:
        cdop = await session.scalar(select(SubGroup).where(SubGroup.name == "CDOP"))
        assert cdop is not None and cdop.channel_id is not None


async def test_accepting_a_date_delivered_twice_accepts_it_once(bot: Harness, demo_db: Database) -> None:
    await bot.one("8.1 amber: panel report late (revised date: March 2027)", RACHEL)
    proposal = (await history(demo_db, "8.1"))[-1]
    first, second = await twice(bot, "accept the new date for 8.1", PRIYA)
    assert first["text"].startswith("Accepted: 8.1's ")
    assert second["text"].startswith("That was already done (accepted 8.1's proposed date March 2027")
    async with demo_db.transaction() as session:
        rows = list(
            await session.scalars(select(MilestoneRevision).where(MilestoneRevision.proposal_id == proposal.id))
        )
    assert len(rows) == 1
    [event] = [e for e in await audit(demo_db, AuditKind.DATE_ACCEPTED) if e.detail["proposal_id"] == proposal.id]
    assert event.actor_name == "Priya Shah"


async def test_an_update_activity_never_counts_as_done_by_the_audit_log(bot: Harness, demo_db: Database) -> None:
    """Only changes the audit log records answer "already done"; an update delivered twice says so itself."""
    first, second = await twice(bot, "7.3 green: audit booked for January", FIONA)
    assert first["text"].startswith("Saved: 7.3 is now Green.")
    assert second["text"] == "That update to 7.3 was already saved."
    async with demo_db.transaction() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Update).where(Update.comment == "audit booked for January")
            )
            == 1
        )


async def test_a_card_save_delivered_twice_stores_one_update(bot: Harness, demo_db: Database) -> None:
    before = len(await history(demo_db, "7.3"))
    note = "Dip-sample of SOS plans moved to March"
    data = {"verb": "save_update", "ref": "7.3", "rag": "amber", "note": note}
    activity = make_invoke("save_update", data, FIONA, bot.tenant, bot.connector.url)
    cards = []
    for _ in range(2):
        response = await bot.post(activity)
        assert response.status == 200
        cards.append(card_texts((await response.json())["value"]))
    assert len(await history(demo_db, "7.3")) == before + 1
    for texts in cards:
        assert "Updated by Fiona McLeod at 10:00 on 23 Nov 2026" in texts
    assert cards[1] == cards[0], "the second delivery shows the same card, the update listed once"
    assert cards[1].count(note) == 1
    await bot.one("undo", FIONA)


async def test_the_business_unit_s_redaction_reason_delivered_twice_redacts_once(
    bot: Harness, demo_db: Database
) -> None:
    await bot.one("8.1 amber: panel chased the coroner; dad on 07700 900 777", RACHEL)
    await bot.one("save", RACHEL)
    posted = (await history(demo_db, "8.1"))[-1]
    assert "07700" in posted.comment
    asked = card_texts(card_of(await bot.one("redact 8.1", PRIYA)))
    if not asked[0].startswith("Why should"):  # more than one note to choose from: the newest is first
        await bot.one("", PRIYA, value={"dialog_input": "1"})
    first, second = await twice(bot, "a parent's phone number", PRIYA)
    assert text_of(first).startswith("Redacted: the note of ")
    assert text_of(second).startswith("That was already done (redacted the note of update")
    assert [r.kind for r in await reviews(demo_db, posted.id)] == [ReviewKind.REDACTED]
    summaries = [e.summary for e in await audit(demo_db, AuditKind.NOTE_REDACTED)]
    assert summaries.count(f"redacted the note of update {posted.id} on 8.1: a parent's phone number") == 1


async def test_snooze_delivered_twice_snoozes_once(bot: Harness, demo_db: Database) -> None:
    async def snoozes() -> list[tuple[str, str]]:
        async with demo_db.transaction() as session:
            rows = await session.scalars(select(Dispatch).where(Dispatch.claimed_by == "snooze"))
            return sorted((str(r.kind), r.target) for r in rows)

    before = await snoozes()
    first, second = await twice(bot, "snooze", LIAM)
    assert first["text"].startswith("Snoozed: no more reminders before the BMG on Monday 30 November 2026.")
    assert second["text"] == "You had already snoozed, or been reminded, for the BMG on Monday 30 November 2026."
    after = await snoozes()
    assert len(after) > len(before) and len(set(after)) == len(after), "claimed once each"
    assert await snoozes() == after


async def test_post_it_delivered_twice_is_taken_once(bot: Harness, demo_db: Database) -> None:
    """The question asked when the bot is unsure a message is an update: its "Post it" button resent
    must not be taken as the answer to the next question (the note)."""
    before = len(await history(demo_db, "4.2"))
    asked = card_texts(card_of(await bot.one("is 4.2 green?", FIONA)))
    assert asked[0] == "Post this as an update to 4.2, Green?"
    first, second = await pressed_twice(bot, {"dialog_input": "yes"}, FIONA)
    assert card_texts(card_of(first))[0] == "A short note on progress for 4.2 (or skip)."
    assert text_of(second) == "I already have that answer; nothing changed."
    assert len(await history(demo_db, "4.2")) == before, "nothing stored yet"

    # The note, delivered twice too: stored once, and the second says so.
    saved, again = await twice(bot, "Analyst in post from January", FIONA)
    assert text_of(saved).startswith("Saved: 4.2 is now Green.")
    assert text_of(again) == "That update to 4.2 was already saved."
    stored = (await history(demo_db, "4.2"))[before:]
    assert [(u.rag, u.comment) for u in stored] == [(Rag.GREEN, "Analyst in post from January")]
    await bot.one("undo", FIONA)

"""Whole conversations: Teams-shaped activities through the real adapter and handler, on the demo
plans with the clock at Monday 23 November 2026 (the demo's next BMG is then Monday 30 November)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot import queries
from bot.language import IntentName
from storage.db import Database
from storage.models import Conversation, Person, SubGroup
from storage.planfile import lead_key
from tests.harness import Harness, ncscp_plan, teams_user
from tests.teams import Channel, TeamsUser, card_of, card_texts, make_channel_event, make_installation, refs_on

PLAN = ncscp_plan()
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")  # admin, the Partnerships Manager
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")  # chair of CDOP, which leads 8.1
LIAM = teams_user(PLAN, "liam.foster@ncscp.example.org")  # chair of the Missing work group, in CSECAG
FIONA = teams_user(PLAN, "fiona.mcleod@ncscp.example.org")  # chair of the Children's QA subgroup


def _current(plan: Any, rag: str) -> list[Any]:
    """The plan file's actions whose latest demo update has this rating."""
    return [a for o in plan.objectives for a in o.actions if a.updates and a.updates[-1].rag.value == rag]


QA_REFS = [a.ref for o in PLAN.objectives for a in o.actions if a.lead == "Children's QA subgroup"]


async def test_my_actions_lists_what_the_person_leads_through_their_sub_groups(bot: Harness) -> None:
    reply = await bot.one("my actions", LIAM)
    card = card_of(reply)
    assert refs_on(card) == ["5.1", "5.3"]
    texts = card_texts(card)
    assert "Actions you lead, Liam" in texts
    assert "Amber" in texts and "Green" in texts, "5.1's latest rating is Amber, 5.3's Green"
    assert "Lead: CSECAG group" in texts and "Lead: Missing work group" in texts
    assert reply["summary"].startswith("Actions you lead, Liam")


async def test_what_am_i_leading_is_the_same_question(bot: Harness) -> None:
    assert refs_on(card_of(await bot.one("What am I leading?", RACHEL))) == ["8.1"]


async def test_a_lead_s_overdue_and_a_sub_group_s_overdue(bot: Harness) -> None:
    # 8.1's first milestone (June 2019, moved to July 2026 by the demo) was a reporting point and CDOP
    # reported on 1 July; its last milestone (February 2020, now March 2027) is still to come.
    mine = await bot.one("what's overdue?", RACHEL)
    assert mine["text"] == "Nothing overdue for you."
    shown = card_texts(card_of(await bot.one("show 8.1", RACHEL)))
    assert "Attention: No update since the last BMG" in shown, "not overdue, but owed an update"
    # The QA subgroup's passed milestones are reporting points with later ones to come, or its actions are Blue.
    theirs = await bot.one("anything overdue for the QA subgroup", PRIYA)
    assert theirs["text"] == "Nothing overdue for Children's QA subgroup."


async def test_overdue_means_the_last_milestone_passed_and_says_since_when(bot: Harness) -> None:
    # By hand: 10.1's only milestone (June 2019, now July 2026) and 13.5's (July 2019, now August 2026)
    # have passed and both are Amber; 2.3, 11.3 and 13.4 passed theirs but are Blue (complete).
    reply = await bot.one("what's overdue?", PRIYA)
    card = card_of(reply)
    assert refs_on(card) == ["10.1", "13.5"]
    # From the end of July to 23 November is 16 weeks (about 4 months); from the end of August, 12 weeks.
    assert "10.1 Amber (overdue since July 2026, 4 months)" in reply["summary"]
    assert "13.5 Amber (overdue since August 2026, 3 months)" in reply["summary"]
    assert "Attention: Overdue since August 2026, 3 months" in card_texts(card)


async def test_admins_see_the_whole_plan_by_rag(bot: Harness) -> None:
    card = card_of(await bot.one("reds", PRIYA))
    assert refs_on(card) == ["3.1", "10.2"]
    assert card_texts(card).count("Red") == 2
    assert "Red actions for the whole of Business Plan 2019-22" in card_texts(card)


async def test_a_lead_asking_for_the_whole_plan_gets_their_own(bot: Harness) -> None:
    reply = await bot.one("all amber", LIAM)
    assert refs_on(card_of(reply)) == ["5.1"]
    assert reply["summary"].startswith("Only the business unit sees the whole plan at once; here are yours.")


async def test_reds_for_a_sub_group_by_alias(bot: Harness) -> None:
    reply = await bot.one("reds for CDOP", PRIYA)
    assert reply["text"] == "Nothing rated Red for CDOP."


async def test_no_update_since_the_last_bmg(bot: Harness) -> None:
    card = card_of(await bot.one("no update", RACHEL))
    assert refs_on(card) == ["8.1"], "8.1's only update is from before the last BMG"
    updated = await bot.one("missing updates for the missing group", PRIYA)
    assert updated["text"] == "Nothing missing an update since the last BMG for Missing work group."


async def test_due_before_the_next_bmg(bot: Harness) -> None:
    # The BMG is a week away, so "due soon" looks the 30 days ahead instead: to 23 December.
    card = card_of(await bot.one("due before the next BMG", FIONA))
    assert "Due in the next 30 days for you" in card_texts(card)
    # October 2019 milestones moved to November 2026: they fall due in that window.
    assert {"2.1", "2.2"} <= set(refs_on(card))
    assert "2.3" not in refs_on(card), "2.3's only milestone has passed"


async def test_show_one_action(bot: Harness) -> None:
    reply = await bot.one("show 4.2", FIONA)
    texts = card_texts(card_of(reply))
    assert "Action 4.2" in texts
    assert (
        "Scrutinise local practice to ensure that national indicator targets are met in relation to assessments "
        "and visiting timescales." in texts
    )
    assert "Lead: Children's QA subgroup" in texts
    assert "No update" in texts and "No updates yet" in texts
    assert any(t.startswith("Success measure: Report received by Children's QA subgroup;") for t in texts)


async def test_show_an_action_with_updates_and_its_history(bot: Harness) -> None:
    history = next(a.updates for o in PLAN.objectives for a in o.actions if a.ref == "11.2")
    shown = card_texts(card_of(await bot.one("show 11.2", FIONA)))
    assert history[-1].comment in shown, "the latest comment"
    assert "Green" in shown
    full = card_texts(card_of(await bot.one("history 11.2", FIONA)))
    assert f"{len(history)} update(s), newest first" in full
    assert [t for t in full if t in {u.comment for u in history}] == [u.comment for u in reversed(history)]


async def test_an_unknown_action(bot: Harness) -> None:
    reply = await bot.one("show 42.7", FIONA)
    assert reply["text"] == (
        "I can't find action 42.7 in NCSCP's Business Plan 2019-22. References look like 4.2; try 'my actions'."
    )


async def test_a_sub_group_s_actions_a_page_at_a_time(bot: Harness) -> None:
    first = card_of(await bot.one("actions for children's qa", FIONA))
    assert refs_on(first) == QA_REFS[:8]
    assert "[Show more]" in card_texts(first)
    rest = card_of(await bot.one("more", FIONA))
    assert refs_on(rest) == QA_REFS[8:]
    assert "[Show more]" not in card_texts(rest)
    done = await bot.one("more", FIONA)
    assert done["text"].startswith("There is nothing more to show")


async def test_card_buttons_arrive_as_submitted_values(bot: Harness) -> None:
    reply = await bot.one("", FIONA, value={"verb": "show", "ref": "2.3"})
    assert "Action 2.3" in card_texts(card_of(reply))
    assert "Blue (complete)" in card_texts(card_of(reply))


async def test_next_bmg(bot: Harness) -> None:
    reply = await bot.one("when is the next BMG?", RACHEL)
    texts = card_texts(card_of(reply))
    assert "The next BMG is on Monday 30 November 2026, in 7 days." in texts[1]
    assert "1 of your actions have no update since the last BMG: 8.1." in texts


async def test_help_uses_the_person_s_own_actions(bot: Harness) -> None:
    texts = card_texts(card_of(await bot.one("help", RACHEL)))
    assert "What I can do for you, Rachel" in texts
    assert "show 8.1, history 8.1 - one action in full, or all its updates" in texts
    assert "actions for CDOP, overdue for CDOP - a sub-group's actions (abbreviations such as L&I work)" in texts
    assert not any("link this channel" in t for t in texts), "linking is for admins"
    assert any("link this channel" in t for t in card_texts(card_of(await bot.one("help", PRIYA))))


async def test_something_it_does_not_understand_offers_the_nearest_things_to_do(bot: Harness) -> None:
    reply = await bot.one("bananas", RACHEL)
    assert reply["summary"].startswith('Sorry, I did not understand "bananas". Did you mean: ')
    buttons = card_of(reply)["actions"]
    assert 2 <= len(buttons) <= 3
    assert all(b["data"]["verb"] == "ask" for b in buttons)
    pressed = await bot.one("", RACHEL, value=buttons[0]["data"])
    assert "did not understand" not in str(pressed), f"the button {buttons[0]['title']!r} asks what it offers"


async def test_small_talk_gets_a_short_friendly_answer(bot: Harness) -> None:
    assert (await bot.one("cheers", RACHEL))["text"] == "You're welcome, Rachel."
    assert (await bot.one("bye", RACHEL))["text"] == "Bye for now, Rachel."


async def test_several_ratings_combine(bot: Harness) -> None:
    card = card_of(await bot.one("show reds and ambers", PRIYA))
    reds, ambers = ["3.1", "10.2"], [a.ref for a in _current(PLAN, "amber")]
    assert sorted(refs_on(card)) == sorted([*reds, *ambers][:8]) or set(refs_on(card)) <= {*reds, *ambers}
    assert "Red or Amber actions for the whole of Business Plan 2019-22" in card_texts(card)


async def test_a_sub_group_by_its_abbreviation(bot: Harness) -> None:
    reply = await bot.one("actions for L&I", PRIYA)
    group = next(g for g in PLAN.subgroups if g.name == "Learning and Improvement subgroup")
    names = {lead_key(n) for n in (group.name, *group.aliases)}
    li = [a.ref for o in PLAN.objectives for a in o.actions if a.lead and lead_key(a.lead) in names]
    assert li and refs_on(card_of(reply)) == li[:8]


async def test_an_unknown_person_is_told_who_to_ask(bot: Harness) -> None:
    stranger = TeamsUser("Sam Stranger", "0d0d0d0d-1111-4222-8333-444455556666", "sam@elsewhere.example.org")
    reply = await bot.one("my actions", stranger)
    assert reply["text"] == (
        "Hello! I don't know you yet, so I can't show you NCSCP's plan. Please ask Gareth Lloyd or Priya Shah "
        "to add you (with the email address you use in Teams)."
    )
    assert bot.connector.member_lookups == [stranger.user_id]


async def test_a_person_found_by_email_is_remembered(bot: Harness, demo_db: Database) -> None:
    emma = teams_user(PLAN, "emma.clarke@ncscp.example.org")
    new_device = TeamsUser(emma.name, "9e9e9e9e-aaaa-4bbb-8ccc-dddddddddddd", emma.email)
    bot.connector.members[new_device.user_id] = new_device.member()
    assert (await bot.one("help", new_device))["attachments"], "answered as Emma"
    assert (await bot.one("help", new_device))["attachments"]
    assert bot.connector.member_lookups == [new_device.user_id], "looked up once, then known by object id"
    async with demo_db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.email == emma.email))
        assert person is not None
        assert person.aad_object_id == new_device.aad_object_id


async def test_a_tenant_we_do_not_serve_gets_nothing(bot: Harness, demo_db: Database) -> None:
    bot.tenant = "00000000-0000-4000-8000-000000000000"
    assert await bot.say("my actions", PRIYA) == []
    async with demo_db.transaction() as session:
        found = await session.scalar(select(Conversation).where(Conversation.tenant_id == bot.tenant))
    assert found is None


QA_CHANNEL = Channel("19:qa-channel@thread.tacv2", "Children's QA")
CDOP_CHANNEL = Channel("19:cdop-channel@thread.tacv2", "CDOP")


async def test_linking_a_channel_makes_it_the_sub_group_s(bot: Harness, demo_db: Database) -> None:
    bot.connector.channels = [QA_CHANNEL, CDOP_CHANNEL]
    refused = await bot.one("link this channel to CDOP", RACHEL, CDOP_CHANNEL)
    assert refused["text"] == "Only the business unit can link channels; please ask Gareth Lloyd or Priya Shah."
    linked = await bot.one("link this channel to CDOP", PRIYA, CDOP_CHANNEL)
    assert linked["text"].startswith("Linked: this channel (CDOP) is now CDOP's channel.")
    assert linked["_conversation"].startswith(CDOP_CHANNEL.id), "replied in the channel thread"
    async with demo_db.transaction() as session:
        cdop = await session.scalar(select(SubGroup).where(SubGroup.name == "CDOP"))
        assert cdop is not None and cdop.channel_id is not None
        channel = await session.get_one(Conversation, cdop.channel_id)
        assert (channel.conversation_id, channel.channel_name) == (CDOP_CHANNEL.id, "CDOP")
    # In the linked channel, questions are about the sub-group, whoever asks.
    assert (await bot.one("overdue", PRIYA, CDOP_CHANNEL))["text"] == "Nothing overdue for CDOP."
    assert refs_on(card_of(await bot.one("actions", LIAM, CDOP_CHANNEL))) == ["8.1"]
    # ...unless they name another.
    assert refs_on(card_of(await bot.one("actions for the missing group", LIAM, CDOP_CHANNEL))) == ["5.3"]


async def test_linking_needs_a_channel(bot: Harness) -> None:
    reply = await bot.one("link this channel to CDOP", PRIYA)
    assert reply["text"] == "Say this in the sub-group's channel (with @Plan Tracker) to link that channel to it."


async def test_installing_and_removing_keeps_addresses(bot: Harness, demo_db: Database) -> None:
    added = await bot.post(make_installation("add", RACHEL, bot.tenant, bot.connector.url))
    assert added.status in {200, 201}
    [welcome] = bot.connector.take()
    assert welcome["text"].startswith("Hello! I keep track of Nottingham City Safeguarding Children Partnership")
    async with demo_db.transaction() as session:
        row = await session.scalar(
            select(Conversation).where(Conversation.conversation_id == f"a:1personal-{RACHEL.aad_object_id}")
        )
        assert row is not None
        assert (row.kind, row.service_url, row.removed_at) == ("personal", bot.connector.url, None)
        rachel = await session.scalar(select(Person).where(Person.email == RACHEL.email))
        assert rachel is not None and row.person_id == rachel.id
    await bot.post(make_installation("remove", RACHEL, bot.tenant, bot.connector.url))
    async with demo_db.transaction() as session:
        row = await session.scalar(
            select(Conversation).where(Conversation.conversation_id == f"a:1personal-{RACHEL.aad_object_id}")
        )
        assert row is not None and row.removed_at is not None


async def test_team_install_and_channel_events(bot: Harness, demo_db: Database) -> None:
    team = Channel("19:new-channel@thread.tacv2", "Training", team_id="19:team-training@thread.tacv2")
    await bot.post(make_installation("add", PRIYA, bot.tenant, bot.connector.url, team))
    [hello] = bot.connector.take()
    assert hello["_conversation"] == team.team_id, "said in the team's General channel"
    assert "link this channel to <sub-group>" in hello["text"]
    await bot.post(make_channel_event("channelCreated", team, PRIYA, bot.tenant, bot.connector.url))
    renamed = Channel(team.id, "Training and workforce", team_id=team.team_id)
    await bot.post(make_channel_event("channelRenamed", renamed, PRIYA, bot.tenant, bot.connector.url))
    assert bot.connector.take() == [], "channel events are recorded quietly"
    async with demo_db.transaction() as session:
        rows = {
            c.conversation_id: c
            for c in await session.scalars(select(Conversation).where(Conversation.team_id == team.team_id))
        }
    assert set(rows) == {team.team_id, team.id}, "the General channel and the new one"
    assert rows[team.id].channel_name == "Training and workforce"
    await bot.post(make_channel_event("channelDeleted", renamed, PRIYA, bot.tenant, bot.connector.url))
    await bot.post(make_installation("remove", PRIYA, bot.tenant, bot.connector.url, team))
    async with demo_db.transaction() as session:
        gone = list(await session.scalars(select(Conversation).where(Conversation.team_id == team.team_id)))
    assert all(c.removed_at is not None for c in gone)


async def test_a_failure_is_logged_and_the_person_gets_an_apology(
    bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ask: Any) -> Any:
        raise RuntimeError("the plan fell over")

    monkeypatch.setitem(queries.HANDLERS, IntentName.HELP, broken)
    with caplog.at_level(logging.ERROR):
        reply = await bot.one("help", RACHEL)
    assert (
        reply["text"]
        == "Sorry, something went wrong on my side and I couldn't finish that. Please try again in a minute."
    )
    assert "the plan fell over" not in str(reply)
    failure = next(r for r in caplog.records if r.name == "bot.adapter")
    assert failure.exc_info is not None and "the plan fell over" in str(failure.exc_info[1])


async def test_the_plan_at_a_glance(bot: Harness) -> None:
    reply = await bot.one("give me the big picture", PRIYA)
    card = card_of(reply)
    texts = card_texts(card)
    assert texts[0] == "Where Business Plan 2019-22 stands"
    donut = next(e for e in card["body"] if e["type"] == "Chart.Donut")
    assert sum(d["value"] for d in donut["data"]) == sum(len(o.actions) for o in PLAN.objectives)
    assert donut["fallback"]["type"] == "FactSet", "the numbers, for clients without charts"
    assert "By sub-group" in texts
    assert any(t.startswith("CDOP: ") for t in texts), "a row per sub-group"
    assert reply["summary"].startswith("Where Business Plan 2019-22 stands: 30 actions: ")


async def test_the_plan_at_a_glance_in_a_sub_group_s_channel_is_the_sub_group_s(bot: Harness) -> None:
    bot.connector.channels = [CDOP_CHANNEL]
    await bot.one("link this channel to CDOP", PRIYA, CDOP_CHANNEL)
    texts = card_texts(card_of(await bot.one("plan status", RACHEL, CDOP_CHANNEL)))
    assert texts[0] == "CDOP at a glance"
    assert "By sub-group" not in texts


async def test_missed_reports(bot: Harness) -> None:
    listing = card_of(await bot.one("missed reports", PRIYA))
    assert "Missed reports for the whole of Business Plan 2019-22" in card_texts(listing)
    listed = refs_on(listing)
    assert listed, "the demo has reporting points that passed with no update"
    for ref in listed:
        attention = next(
            t for t in card_texts(card_of(await bot.one(f"show {ref}", PRIYA))) if t.startswith("Attention")
        )
        assert "report missing" in attention or "reports missing" in attention, (ref, attention)


@pytest.mark.parametrize(
    ("text", "again"),
    [
        ("overdue for the choir", "overdue for "),
        ("any reds for the choir", "reds for "),
        ("what's due soon for the choir", "due soon for "),
        ("no update for the choir", "no update for "),
        ("missed reports for the choir", "missed reports for "),
        ("actions for the choir", "actions for "),
        ("plan status for the choir", "plan status for "),
    ],
)
async def test_a_sub_group_it_does_not_know_is_said_so_never_answered_for_someone_else(
    bot: Harness, text: str, again: str
) -> None:
    reply = await bot.one(text, RACHEL)
    assert reply["summary"].startswith('I don\'t know a sub-group called "choir". Did you mean '), reply["summary"]
    card = card_of(reply)
    assert refs_on(card) == [], "not Rachel's own actions, nor the whole plan"
    buttons = card["actions"]
    names = {g.name for g in PLAN.subgroups}
    offered = [b["data"]["text"] for b in buttons]
    assert 1 <= len(buttons) <= 3 and all(b["data"]["verb"] == "ask" for b in buttons)
    assert all(o.startswith(again) and o.removeprefix(again) in names for o in offered), offered
    pressed = await bot.one("", RACHEL, value=buttons[0]["data"])
    asked_of = offered[0].removeprefix(again)
    assert asked_of in str(pressed) and "don't know a sub-group" not in str(pressed), "the same question, of it"

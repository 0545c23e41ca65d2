"""Cards: RAG as a word in a colour, people's text shown as written, and lists kept under Teams' size limit."""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import date, datetime
from unittest import mock

from bot import cards
from bot.queries import PAGE_SIZE, listing_reply
from bot.rules import Due, Precision, Rag
from bot.views import ActionView, UpdateView
from tests.conftest import london
from tests.teams import card_texts

TRICKY = 'Report **not** received; see [this](https://evil.example) "}], {"type": "Action.OpenUrl"} <b>now</b>'


def action(ref: str = "4.2", rag: Rag | None = Rag.AMBER, comment: str = "Analysis delayed to November") -> ActionView:
    update = UpdateView(rag=rag, comment=comment, author="Fiona McLeod", at=london(2026, 11, 2, 9))
    return ActionView(
        id=1,
        ref=ref,
        description="Scrutinise local practice to ensure that national indicator targets are met.",
        objective="The needs of children who are privately fostered are recognised",
        lead="Children's QA subgroup",
        lead_subgroup_id=1,
        lead_person_id=None,
        measure="Report received by Children's QA subgroup\nChildren's QA subgroup report to BMG",
        dues=(Due.month(2026, 11), Due(date(2027, 3, 15), Precision.DAY)),
        rag=rag,
        latest=update if rag else None,
        history=(update,) if rag else (),
        next_due=Due.month(2026, 11),
        overdue=False,
        missing=rag is None,
    )


def test_every_rating_is_a_word_as_well_as_a_colour() -> None:
    for rag, word, colour in [
        (Rag.RED, "Red", "attention"),
        (Rag.AMBER, "Amber", "warning"),
        (Rag.GREEN, "Green", "good"),
        (Rag.BLUE, "Blue (complete)", "accent"),
    ]:
        label = cards.rag_label(rag)
        assert (label["text"], label["color"]) == (word, colour)
    assert cards.rag_label(None)["text"] == "No update"


def test_text_people_wrote_is_shown_as_written_never_as_markup_or_card_json() -> None:
    card = cards.action_detail(action(comment=TRICKY))
    runs = [n for n in _nodes(card) if n.get("type") == "TextRun"]
    assert TRICKY in [r["text"] for r in runs], "the comment is one TextRun, unchanged"
    assert not any(n.get("type") == "Action.OpenUrl" for n in _nodes(card)), "no action was injected"
    assert json.loads(json.dumps(card)) == card
    textblocks = [n["text"] for n in _nodes(card) if n.get("type") == "TextBlock"]
    assert TRICKY not in textblocks, "TextBlocks (which read Markdown) carry only the bot's own words"


def test_an_action_in_full() -> None:
    texts = card_texts(cards.action_detail(action()))
    assert "Action 4.2" in texts
    assert "Milestones: November 2026, 15 March 2027" in texts
    assert "Success measure: Report received by Children's QA subgroup; Children's QA subgroup report to BMG" in texts
    assert "2 Nov 2026 by Fiona McLeod" in texts
    assert "Amber" in texts


def test_a_long_list_is_paged_and_each_page_stays_well_under_the_limit() -> None:
    many = [action(ref=f"{n}.1", comment="x" * 2000) for n in range(1, 31)]
    reply = listing_reply("Overdue actions for you", "Business Plan 2019-22", many, "Nothing")
    assert reply.card is not None and reply.listing is not None
    assert len(json.dumps(reply.card).encode()) < 80_000
    assert reply.listing.shown == PAGE_SIZE
    assert "(1-8 of 30)" in reply.text
    assert "[Show more]" in card_texts(reply.card)


def test_the_plain_text_fallback_says_the_same() -> None:
    reply = listing_reply("Red actions for you", "Business Plan 2019-22", [action(rag=Rag.RED)], "Nothing")
    assert reply.text == "Red actions for you - Business Plan 2019-22 (1): 4.2 Red"


def _nodes(node: object) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_nodes(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_nodes(item))
    return found


def test_a_reply_reaches_the_connector_as_msrest_would_write_it() -> None:
    """Replies are written without msrest walking each value; what Teams receives is the same, for
    text, cards and a reply addressed as botbuilder addresses it (and msrest still writes the unusual)."""
    from botbuilder.core import MessageFactory, TurnContext
    from botbuilder.schema import Activity, CardAction, SuggestedActions

    from bot.adapter import wire, written
    from bot.handler import to_activity
    from bot.queries import Reply
    from tests.harness import ncscp_plan, teams_user
    from tests.teams import Channel, make_message

    lead = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")
    channel = Channel(id="19:channel@thread.tacv2", name="CDOP")
    listing = listing_reply("Your actions", "led by you", [action(f"4.{n}") for n in range(1, 12)], "none")
    notice = Reply("Saved.", cards.notice("Saved", ["4.2 is now Amber", "‘quotes’ & <b>tags</b>", "", "x" * 500]))
    suggested = MessageFactory.text("Did you mean?")
    suggested.suggested_actions = SuggestedActions(actions=[CardAction(type="imBack", title="Show 4.2", value="4.2")])
    dated = MessageFactory.text("at a time")
    dated.timestamp = datetime(2026, 11, 23, 10, 0, tzinfo=london(2026, 11, 23, 10).tzinfo)
    for incoming in (
        make_message("my actions", lead, "tenant", "https://smba.example.org/"),
        make_message("overdue", lead, "tenant", "https://smba.example.org/", channel=channel),
    ):
        reference = TurnContext.get_conversation_reference(Activity().deserialize(incoming))
        for reply in (to_activity(Reply("Nothing rated Red.")), to_activity(listing), to_activity(notice), suggested):
            for activity in (reply, TurnContext.apply_conversation_reference(deepcopy(reply), reference)):
                expected = activity.serialize()
                assert json.loads(json.dumps(wire(activity))) == expected
                assert activity.serialize() == expected, "the activity itself is left as it was"
    assert wire(dated) == dated.serialize()
    with_card = to_activity(listing)
    with mock.patch.object(Activity, "serialize", side_effect=AssertionError("msrest walked the card")):
        wire(with_card)  # an ordinary reply is written directly
    assert wire(with_card)["attachments"][0]["content"]["type"] == "AdaptiveCard"
    copied = deepcopy(with_card)  # as botbuilder copies every activity it sends
    assert copied.serialize() == with_card.serialize() and copied is not with_card
    assert json.loads(written(with_card)) == with_card.serialize()
    odd = to_activity(Reply("odd", {**cards.notice("Saved"), "when": london(2026, 11, 23, 10)}))
    assert json.loads(written(odd)) == json.loads(json.dumps(odd.serialize())), "a value JSON cannot hold: msrest's"


def test_a_reply_addressed_from_a_teams_message_is_written_directly() -> None:
    """Teams sends conversation.tenantId, which msrest keeps aside when it reads the message and leaves
    out when it writes the reply: the reply is written as msrest would, without msrest walking the card."""
    from botbuilder.core import TurnContext
    from botbuilder.schema import Activity

    from bot.adapter import wire
    from bot.handler import to_activity
    from tests.harness import ncscp_plan, teams_user
    from tests.teams import make_message

    lead = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")
    incoming = Activity().deserialize(make_message("my actions", lead, "tenant", "https://smba.example.org/"))
    incoming.conversation.additional_properties = {"tenantId": "tenant"}  # as msrest reads Teams' message
    listing = listing_reply("Your actions", "led by you", [action(f"4.{n}") for n in range(1, 12)], "none")
    reply = TurnContext.apply_conversation_reference(
        to_activity(listing), TurnContext.get_conversation_reference(incoming)
    )
    expected = reply.serialize()
    assert "tenantId" not in json.dumps(expected["conversation"])
    with mock.patch.object(Activity, "serialize", side_effect=AssertionError("msrest walked the card")):
        written = wire(reply)
    assert json.loads(json.dumps(written)) == expected

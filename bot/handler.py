"""The activity handler: who is asking, what they mean, one handler per intent, one reply.

`on_message_activity` only delegates: the recogniser turns text (or a card's submit data) into an
intent, `bot.queries.HANDLERS` answers it. Teams events keep the conversation addresses current.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.dialogs import DialogContext, DialogSet
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    Attachment,
)
from botbuilder.schema.teams import ChannelInfo, TeamInfo
from sqlalchemy.ext.asyncio import AsyncSession

from bot import addresses, cards, messages, posting
from bot.adapter import ReplyNotDelivered
from bot.cards import CARD_CONTENT_TYPE, Card
from bot.clock import Clock
from bot.desk import PRIVATELY, Desk
from bot.identity import find_person, tenant_of
from bot.language import Intent, IntentName, recognise
from bot.language.slots import normal, rags_asked, refs
from bot.language.subgroups import SubgroupIndex
from bot.links import PaperLinks
from bot.privacy import Checked
from bot.queries import Ask, Asker, Listing, Reply, answer
from bot.refusals import refused
from bot.settings import Settings
from bot.updates import Draft, rag_of
from bot.views import Expected, Snapshot, SnapshotCache, SubgroupView, entry_of, for_channel, load_snapshot
from dialogs.redact_note import RedactNoteDialog
from dialogs.turn import TURN, Turn
from dialogs.update_action import UpdateActionDialog, draft_data
from storage.audit import Actor, AuditRepository
from storage.bot_state import EtagConflictError, TurnConversationState
from storage.db import Database
from storage.models import Action, AuditKind, Conversation, ConversationKind, Partnership, Person, Role, Source
from storage.repositories import PartnershipRepository, PeopleRepository, UpdateRepository
from storage.versions import DataStamp, data_stamp

log = logging.getLogger(__name__)

PARTNERSHIP = "plan_tracker.partnership_id"
TENANT = "plan_tracker.tenant_id"
PERSON = "plan_tracker.person_id"
GLANCE = "plan_tracker.glance"
REMEMBERED = "plan_tracker.remembered"
SEEN = "plan_tracker.seen"  # the partnership, stamp, Entra object id and Teams id of a person found
ADVANCED = "plan_tracker.advanced"
RECOGNISED = "plan_tracker.recognised"
FORESEEN = "plan_tracker.foreseen"
CHECKED = "plan_tracker.checked"
VERBS = {"show": IntentName.SHOW, "history": IntentName.HISTORY, "more": IntentName.MORE}
MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"
CARD_VERBS = {"update_form", "save_update"}
# What a question may be answered with from the plan as this process keeps it, without a write: all
# but the intents that change something (through the desk, or by linking a channel).
CHANGES = frozenset(
    {
        IntentName.UPDATE,
        IntentName.UNDO,
        IntentName.SET_BMG,
        IntentName.PAPER,
        IntentName.ACCEPT_DATE,
        IntentName.SNOOZE,
        IntentName.REDACT,
        IntentName.LINK_CHANNEL,
    }
)
STEP_TEXT = {"note", "reason"}  # at these dialog steps anything typed is the answer, never a new question
STEERING = {
    "cancel",
    "stop",
    "quit",
    "back",
    "go back",
    "previous",
    "skip",
    "yes",
    "y",
    "no",
    "n",
    "save",
    "edit",
    "ok",
    "confirm",
    "post",
    "post it",
    "none",
    "n/a",
    "-",
    "never mind",
    "nevermind",
    "save it",
    "save as it is",
    "edit the note",
    "don't post",
    "dont post",
}


@dataclass(frozen=True)
class Glance:
    """What the start of a turn read: the tenant's partnership (a row to read, never change) and the
    data stamp it was read at."""

    partnership: Partnership
    stamp: DataStamp | None


@dataclass(frozen=True)
class CardAction:
    """A card's Update form (or its button), by Action.Execute or by its Action.Submit fallback."""

    verb: str
    data: dict[str, Any]


def dialog_takes(dc: DialogContext, said: Intent | str, intent: Intent) -> bool:
    """Does this message answer the dialog in progress, or is it a new question (which drops it)?

    Typed text at the note step, the dialog's own words (cancel, back, skip, yes, save...), a
    reference when it asks which action and a rating when it asks which: all answers. A button
    from another card (show, more) is a new question.
    """
    if isinstance(said, Intent):
        return said.name is IntentName.UNKNOWN
    if intent.name is IntentName.UNKNOWN:
        return True
    step = dc.active_dialog.state.get("step")
    text = normal(said).rstrip("!")
    if step in STEP_TEXT or text in STEERING:
        return True
    if step == "action" and refs(text) and len(text.split()) <= 3:
        return True
    if step == "which" and len(text.split()) <= 3:  # which note to redact: a number
        return True
    if step == "rating" and rags_asked(text) and len(text.split()) <= 3:
        return True
    return step == "revised" and len(text.split()) <= 4 and any(ch.isdigit() for ch in text)


def private_update(draft: Draft, guided: bool) -> dict[str, Any]:
    """The guided dialog's options for an update carried from a channel to the lead's 1:1 chat."""
    source = Source.DIALOG if guided else Source.CARD
    return {"draft": draft_data(draft), "guided": guided, "source": source.value, "problem": None}


class CardAttachment(Attachment):  # type: ignore[misc]
    """A card on its way out. botbuilder deep-copies every activity it sends, card and all; a card is
    never changed once built, so the copy shares it rather than copying every value."""

    def __deepcopy__(self, memo: dict[int, Any]) -> CardAttachment:
        return CardAttachment(
            content_type=self.content_type,
            content=self.content,
            content_url=self.content_url,
            name=self.name,
            thumbnail_url=self.thumbnail_url,
        )


def card_activity(card: Card) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        attachments=[CardAttachment(content_type=CARD_CONTENT_TYPE, content=card)],
    )


class Outbox:
    """Holds a turn's replies until its state is saved, so that a quick answer to a question
    (a person, or a client, replying at once) finds the dialog at the step the question asked."""

    def __init__(self, turn_context: TurnContext) -> None:
        self.turn_context = turn_context
        self.held: list[Activity] = []
        self.holding = True

    async def hold(
        self, turn_context: TurnContext, activities: list[Activity], send: Callable[[], Awaitable[Any]]
    ) -> Any:
        # botbuilder sends whatever is left in the list once the handlers return, and refuses an
        # empty list: each held activity is swapped for a trace, which Teams is never sent.
        if self.holding:
            for index, activity in enumerate(activities):
                self.held.append(activity)
                activities[index] = Activity(type=ActivityTypes.trace, name="held until the turn's state is saved")
        return await send()

    async def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        if held:
            try:
                await self.turn_context.adapter.send_activities(self.turn_context, held)
            except Exception as exc:  # a timeout or dropped connection is not the database going away
                raise ReplyNotDelivered(f"{len(held)} replies held until the turn was done") from exc


class PlanBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, database: Database, clock: Clock, settings: Settings, state: TurnConversationState) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings
        self.state = state
        self.listing = state.create_property("listing")
        # The last activity a dialog took as an answer: Teams may deliver it again, and the second
        # must not be taken as the answer to the next question ("Post it" twice, then "Post it" as the note).
        self.answered = state.create_property("answered")
        self.snapshots = SnapshotCache()
        self.remembered = addresses.Remembered()
        self.links = PaperLinks(settings.link_key(), settings.base_url(), clock)
        self.dialogs = DialogSet(state.create_property("dialogs"))
        self.dialogs.add(UpdateActionDialog())
        self.dialogs.add(RedactNoteDialog())

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Serve only the tenants of known partnerships; anything else is not processed at all."""
        tenant = tenant_of(turn_context.activity)
        glance = await self._glance(turn_context, tenant)
        if glance is None:
            log.warning(
                "ignored a %s activity from tenant %s, which no partnership uses", turn_context.activity.type, tenant
            )
            return
        turn_context.turn_state[PARTNERSHIP] = glance.partnership.id
        turn_context.turn_state[GLANCE] = glance
        turn_context.turn_state[TENANT] = tenant
        outbox = Outbox(turn_context)
        turn_context.on_send_activities(outbox.hold)
        try:
            await super().on_turn(turn_context)
            try:
                await self.state.save_changes(turn_context)
            except EtagConflictError:
                # Another turn of this conversation saved first (a resent activity, two quick
                # clicks); its state is as good as ours: nothing to tell the person.
                log.info("conversation state was saved by a concurrent turn; keeping that one")
        finally:
            await outbox.release()

    async def _glance(self, turn_context: TurnContext, tenant: str | None) -> Glance | None:
        """The conversation's state and the data stamp, read together before any handler opens its
        transaction (on SQLite a second connection inside that transaction would wait for the lock the
        first one holds); and the tenant's partnership, kept in this process while the stamp is the same."""
        if not tenant or (self.settings.allowed_tenants and tenant not in self.settings.allowed_tenants):
            return None
        kept = self.snapshots.partnership_of(tenant)
        if kept is None or not self.database.remote:
            stamp = await self.state.glance(turn_context, kept)
        else:  # the database is another process: read the message while it answers
            reading = asyncio.ensure_future(self.state.glance(turn_context, kept))
            try:
                await asyncio.sleep(0)  # the glance's query on its way
                self._foresee(turn_context, kept)
            finally:
                stamp = await reading

        async def by_tenant() -> Partnership | None:
            async with self.database.reading() as session:
                return await PartnershipRepository(session).by_tenant(tenant)

        partnership = await self.snapshots.partnership(tenant, stamp, by_tenant)
        if partnership is None:
            return None
        # The stamp read is of the plan of the partnership the tenant last had; of no use if that changed.
        return Glance(partnership, stamp.of(partnership.id) if stamp is not None else None)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        said = self._intent_of(turn_context)
        reply = await self.respond(turn_context, said)
        if isinstance(reply, Reply):
            await turn_context.send_activity(to_activity(reply))
        elif reply is not None:  # a card's form sent by Action.Submit: replace that card if we can
            activity = card_activity(reply)
            if turn_context.activity.reply_to_id:
                activity.id = turn_context.activity.reply_to_id
                await turn_context.update_activity(activity)
            else:
                await turn_context.send_activity(activity)

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue
    ) -> AdaptiveCardInvokeResponse:
        """Action.Execute: answer with a card that replaces the one clicked."""
        action: Any = invoke_value.action
        data = (action.get("data") if isinstance(action, dict) else getattr(action, "data", None)) or {}
        verb = str(action.get("verb") if isinstance(action, dict) else getattr(action, "verb", None))
        if verb not in CARD_VERBS and verb not in VERBS:
            refused("a card verb this bot never sends", activity=turn_context.activity.id)
        said: Intent | CardAction = (
            CardAction(verb, dict(data))
            if verb in CARD_VERBS
            else Intent(VERBS.get(verb, IntentName.UNKNOWN), ref=data.get("ref"), rest=verb)
        )
        reply = await self.respond(turn_context, said)
        if isinstance(reply, dict):
            return AdaptiveCardInvokeResponse(status_code=200, type=CARD_CONTENT_TYPE, value=reply)
        if reply is None or reply.card is None:  # as a card: botbuilder cannot send a bare string as the value
            text = reply.text if reply else messages.apology()
            return AdaptiveCardInvokeResponse(status_code=200, type=CARD_CONTENT_TYPE, value=cards.notice(text))
        return AdaptiveCardInvokeResponse(status_code=200, type=CARD_CONTENT_TYPE, value=reply.card)

    def _get_adaptive_card_invoke_value(self, activity: Activity) -> AdaptiveCardInvokeValue:
        """botbuilder's reading of an Action.Execute, given only the fields its model has: Teams also
        sends `trigger`, which msrest would log a warning about on every press of a card's button."""
        value = activity.value
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k in AdaptiveCardInvokeValue._attribute_map}
        return super()._get_adaptive_card_invoke_value(SimpleNamespace(value=value))  # it reads only `value`

    def _intent_of(self, turn_context: TurnContext) -> Intent | CardAction | str:
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else None
        if value and value.get("verb") in CARD_VERBS:
            return CardAction(str(value["verb"]), value)
        if value and value.get("verb") in VERBS:
            return Intent(VERBS[value["verb"]], ref=value.get("ref"))
        if value and value.get("verb") == "ask":  # a suggestion's button: as if the person had typed it
            return str(value.get("text") or "")
        if value and "dialog_input" in value:
            return str(value["dialog_input"])
        text = TurnContext.remove_recipient_mention(activity) if activity.entities else activity.text
        return (text or "").strip()

    async def respond(self, turn_context: TurnContext, said: Intent | CardAction | str) -> Reply | Card | None:
        """Answer, then (for an update typed in a channel that needs a question) go on in the 1:1 chat."""
        reply = await self._respond(turn_context, said)
        if PRIVATELY in turn_context.turn_state and not await self._continue_privately(turn_context):
            return Reply(messages.private_chat_needed())
        return reply

    async def _respond(self, turn_context: TurnContext, said: Intent | CardAction | str) -> Reply | Card | None:
        quick = await self._quickly(turn_context, said)
        if quick is not None:
            return quick
        try:
            reply = await self._fully(turn_context, said)
        except BaseException:
            if (advanced := turn_context.turn_state.pop(ADVANCED, None)) is not None:
                partnership_id, expected = advanced
                self.snapshots.settle(partnership_id, expected, committed=False)
            raise
        stored = turn_context.turn_state.pop(REMEMBERED, None)
        if stored is not None:  # committed: later turns in this conversation need not store it again
            self.remembered.add(*stored)
        seen = turn_context.turn_state.pop(SEEN, None)
        if seen is not None:  # committed: this person's Teams id is stored, their next turn need not
            self.snapshots.seen(*seen)
        advanced = turn_context.turn_state.pop(ADVANCED, None)
        if advanced is not None:  # committed: the kept plan, with this turn's update in it
            partnership_id, expected = advanced
            self.snapshots.settle(partnership_id, expected, committed=True)
            self.remembered.advance(expected.before, expected.after)  # an update changes no address
        return reply

    async def _quickly(self, turn_context: TurnContext, said: Intent | CardAction | str) -> Reply | None:
        """A question in a 1:1 chat from someone already known, with no dialog under way, answered from
        the plan as this process keeps it, with no write and no wait for one; None if the turn must be
        taken fully (a change, a card, a dialog, a channel, a person or address not yet stored)."""
        glance: Glance | None = turn_context.turn_state.get(GLANCE)
        activity = turn_context.activity
        if isinstance(said, CardAction) or glance is None or glance.stamp is None:
            return None
        if addresses.kind_of(activity) is not ConversationKind.PERSONAL:
            return None
        dc = await self.dialogs.create_context(turn_context)
        if dc.active_dialog is not None:
            return None
        latest = self.snapshots.latest(glance.partnership.id)
        if latest is not None and self._recognise(turn_context, said, latest.snapshot).name in CHANGES:
            return None  # a change (read against the sub-groups as last kept): no need to read the plan here
        now = self.clock.now()
        known = self.snapshots.kept_at(glance.partnership.id, glance.stamp, now, since=True)
        if known is None:
            async with self.database.reading() as session:
                known = await self.snapshots.known(session, glance.partnership, now, glance.stamp, since=True)
        sender = activity.from_property
        person = known.person(getattr(sender, "aad_object_id", None), getattr(sender, "id", None))
        if person is None:
            return None
        address = addresses.address_of(activity, glance.partnership, turn_context.turn_state[TENANT], person)
        if not self.remembered.holds(address, glance.stamp):
            return None
        intent = self._recognise(turn_context, said, known.snapshot)
        if intent.name in CHANGES:
            return None
        turn_context.turn_state[PERSON] = person.id
        stored = await self.listing.get(turn_context)
        reply = await answer(
            Ask(
                intent=intent,
                snapshot=known.snapshot,
                asker=Asker(person.id, person.name.split()[0], person.role is Role.ADMIN),
                listing=Listing.from_stored(stored) if stored else None,
            )
        )
        await self._keep_listing(turn_context, reply)
        return reply

    def _recognise(self, turn_context: TurnContext, said: Intent | str, snapshot: Snapshot) -> Intent:
        """The intent, read once a turn (a turn that cannot be answered quickly reads it again only if
        the plan's sub-groups changed in between)."""
        if isinstance(said, Intent):
            return said
        groups = snapshot.vocabulary
        for key in (RECOGNISED, FORESEEN):
            seen: tuple[str, SubgroupIndex, Intent] | None = turn_context.turn_state.get(key)
            if seen is not None and seen[0] == said and seen[1] is groups:
                turn_context.turn_state[RECOGNISED] = seen
                return seen[2]
        intent = recognise(said, groups)
        turn_context.turn_state[RECOGNISED] = (said, groups, intent)
        return intent

    def _foresee(self, turn_context: TurnContext, partnership_id: int) -> None:
        """A message read while the turn's first query is answered by another process (PostgreSQL),
        against the plan as last kept, as the turn will read it once the state is known: its intent
        (taken only by a turn that recognises the same text against the same sub-groups) and, for a 1:1
        chat's update, whether its note holds identifying details (kept for this turn only)."""
        latest = self.snapshots.latest(partnership_id)
        if latest is None or turn_context.activity.type != ActivityTypes.message:
            return
        said = self._intent_of(turn_context)
        if not isinstance(said, str):
            return
        groups = latest.snapshot.vocabulary
        intent = recognise(said, groups)
        turn_context.turn_state[FORESEEN] = (said, groups, intent)
        personal = addresses.kind_of(turn_context.activity) is ConversationKind.PERSONAL
        if intent.name is IntentName.UPDATE and intent.draft is not None and intent.draft.note and personal:
            self._checked(turn_context).kinds(intent.draft.note, latest.snapshot.case_patterns)

    @staticmethod
    def _checked(turn_context: TurnContext) -> Checked:
        """The notes this turn has checked for identifying details."""
        checked: Checked = turn_context.turn_state.setdefault(CHECKED, Checked())
        return checked

    async def _keep_listing(self, turn_context: TurnContext, reply: Reply | Card | None) -> None:
        """A list with more to show is kept for "more"; a list shown whole replaces any kept (so "more"
        says there is no more) without a write when none was kept."""
        if not isinstance(reply, Reply) or reply.listing is None:
            return
        if reply.listing.shown < len(reply.listing.refs):
            await self.listing.set(turn_context, reply.listing.stored())
        elif await self.listing.get(turn_context) is not None:
            await self.listing.delete(turn_context)

    async def _answered_before(self, session: AsyncSession, conversation_id: str, activity_id: str) -> Reply:
        """An answer delivered again: the first delivery already took it (and perhaps saved the update)."""
        saved = await UpdateRepository(session).delivered(conversation_id, activity_id)
        if saved is not None:
            action = await session.get_one(Action, saved.action_id)
            return Reply(messages.already_saved(action.ref))
        return Reply(messages.already_answered())

    async def _fully(self, turn_context: TurnContext, said: Intent | CardAction | str) -> Reply | Card | None:
        """Identify the asker, read the plan, answer. Writes (addresses, links, updates) commit with the answer."""
        activity = turn_context.activity
        glance: Glance = turn_context.turn_state[GLANCE]
        checked = self._check_note(turn_context, said, glance)
        # For what is already known to be an update, held from here on (PostgreSQL locks the row as the
        # update's first write would), so that the plan the turn reads is the one its update is stored into.
        early = self._updating(turn_context, said) and not self.database.serialised
        async with self.database.transaction(holding=glance.partnership.id if early else None) as session:
            partnership, person, stamp = await self._asker(turn_context, session, glance, early)
            # The time of the turn, and of its update: once the plan is held (on SQLite, once this is
            # the process's one writing transaction), so that updates are stored in the order they
            # are timed, and the kept plan takes a new one as the last.
            now = self.clock.now()
            address = addresses.address_of(activity, partnership, turn_context.turn_state[TENANT], person)
            conversation: Conversation | None = None  # a 1:1 chat whose address this process stored
            if address.kind is not ConversationKind.PERSONAL or not self.remembered.holds(address, stamp):
                conversation = await addresses.store(session, address, now)
            snapshot = await self.snapshots.snapshot(session, partnership, now, stamp)
            if stamp is not None and person is not None:
                turn_context.turn_state[REMEMBERED] = (address, stamp)
                teams_user_id = getattr(activity.from_property, "id", None)
                if person.aad_object_id and teams_user_id:
                    turn_context.turn_state[SEEN] = (partnership.id, stamp, person.aad_object_id, teams_user_id)
            if person is None:
                refused("unknown in this partnership", partnership=partnership.id, activity=activity.id)
                return Reply(messages.unknown_person(snapshot.admins, partnership.short_name))
            turn_context.turn_state[PERSON] = person.id
            conversation_id = addresses.base_conversation_id(activity.conversation.id)
            before = await AuditRepository(session).made_before(conversation_id, activity.id)
            if before.event is not None:  # this activity, delivered before, already made its change
                return Reply(messages.already_done(before.event.summary))
            if activity.id and await self.answered.get(turn_context) == activity.id:
                return await self._answered_before(session, conversation_id, activity.id)
            turn = Turn(session, snapshot, person, now, conversation_id, activity.id, new=before.update is None)
            turn_context.turn_state[TURN] = turn
            dc = await self.dialogs.create_context(turn_context)
            shared = address.kind is not ConversationKind.PERSONAL
            desk = Desk(dc, turn, self.links, shared=shared, checked=checked)
            if isinstance(said, CardAction):
                held = await self._hold(session, stamp, said.verb == "save_update", early)
                card = await self._card(desk, said)
                await self._advance(turn_context, session, partnership, held, str(said.data.get("ref") or ""), now)
                return card
            intent = self._recognise(turn_context, said, snapshot)
            if dc.active_dialog is not None:
                if dialog_takes(dc, said, intent):
                    if activity.id:
                        await self.answered.set(turn_context, activity.id)
                    await dc.continue_dialog()
                    return None
                set_aside = dc.active_dialog.state.get("draft", {}).get("ref")
                await dc.cancel_all_dialogs()
                await turn_context.send_activity(messages.dropped(set_aside))
            linked = await PeopleRepository(session).subgroup_for_channel(conversation) if conversation else None
            channel_subgroup = next((g for g in snapshot.subgroups if linked and g.id == linked.id), None)

            async def link(group: SubgroupView) -> str:
                """Make this channel the sub-group's (a channel serves one sub-group at a time); recorded."""
                assert conversation is not None  # offered only in a channel, whose address is always stored
                name = await addresses.channel_name(turn_context, conversation)
                subgroups = await PeopleRepository(session).subgroups(partnership)
                if any(g.id == group.id and g.channel_id == conversation.id for g in subgroups):
                    return messages.already_linked(name or "this channel", group.name)
                unlinked = []
                for other in subgroups:
                    if other.id == group.id:
                        other.channel_id = conversation.id
                    elif other.channel_id == conversation.id:
                        other.channel_id = None
                        unlinked.append(other.name)
                await session.flush()
                await AuditRepository(session).record(
                    partnership.id,
                    AuditKind.CHANNEL_LINKED,
                    Actor.of(person, conversation_id, activity.id),
                    f"linked the channel {name or conversation.conversation_id} to {group.name}"
                    + (f" (it was {', '.join(unlinked)}'s)" if unlinked else ""),
                    {"subgroup": group.name, "channel": conversation.conversation_id, "unlinked": unlinked},
                    now,
                )
                return messages.linked(name or "this channel", group.name)

            stored = await self.listing.get(turn_context)
            ask = Ask(
                intent=intent,
                snapshot=for_channel(snapshot) if shared else snapshot,
                asker=Asker(person.id, person.name.split()[0], person.role is Role.ADMIN),
                channel_subgroup=channel_subgroup,
                listing=Listing.from_stored(stored) if stored else None,
                link_channel=link if conversation and conversation.kind is ConversationKind.CHANNEL else None,
                desk=desk,
            )
            updating = intent.name is IntentName.UPDATE and dc.active_dialog is None
            held = await self._hold(session, stamp, updating, early)
            reply = await answer(ask)
            await self._advance(turn_context, session, partnership, held, intent.ref or "", now)
        await self._keep_listing(turn_context, reply)
        return reply

    def _check_note(self, turn_context: TurnContext, said: Intent | CardAction | str, glance: Glance) -> Checked:
        """The note of what is already known to be an update, checked for identifying details against the
        partnership's patterns as last kept, before the turn holds the plan (the check is the costliest
        step of storing an update, and every other update to the plan would wait for it)."""
        checked = self._checked(turn_context)
        latest = self.snapshots.latest(glance.partnership.id)
        if latest is None or not self._updating(turn_context, said):
            return checked
        note: str | None = None
        if isinstance(said, CardAction):
            note = str(said.data.get("note") or "").strip()
        elif (draft := turn_context.turn_state[RECOGNISED][2].draft) is not None:
            note = draft.note
        if note:
            checked.kinds(note, latest.snapshot.case_patterns)
        return checked

    async def _asker(
        self, turn_context: TurnContext, session: AsyncSession, glance: Glance, hold: bool
    ) -> tuple[Partnership, Person | None, DataStamp | None]:
        """The partnership and the person asking, as rows of this transaction, and the data stamp with
        this turn's writes so far (held, given `hold`): taken from the plan as kept for that stamp when
        the person is in it, otherwise read (and the person's Teams ids remembered)."""
        sender = turn_context.activity.from_property
        ids = getattr(sender, "aad_object_id", None), getattr(sender, "id", None)
        latest = self.snapshots.latest(glance.partnership.id)
        if glance.stamp is not None and latest is not None and latest.person(*ids) is not None:
            # Kept for this turn's stamp (which other turns' updates may have moved since the glance),
            # with the partnership's row as the glance found it: no row to read.
            stamp = await data_stamp(session, glance.partnership.id, hold=hold)
            known = await self.snapshots.kept_as_of(session, glance.partnership.id, stamp)
            kept = known.person(*ids) if known is not None else None
            if stamp is not None and kept is not None and stamp.shared == glance.stamp.shared:
                partnership = await session.merge(glance.partnership, load=False)
                return partnership, await session.merge(kept, load=False), stamp
            # Read as below, then the stamp again, with what finding the person may have written (a
            # plan held here is held while Teams is asked about the person: only if their Entra object
            # id, kept a moment ago, has since gone).
        partnership = await session.get_one(Partnership, glance.partnership.id)
        person = await find_person(turn_context, session, partnership)
        return partnership, person, await data_stamp(session, partnership.id, hold=hold)

    def _updating(self, turn_context: TurnContext, said: Intent | CardAction | str) -> bool:
        """Is this turn, before its transaction, already known to store an update (a card's save, or
        text read as an update when the turn was tried quickly)?"""
        if isinstance(said, CardAction):
            return said.verb == "save_update"
        seen: tuple[str, SubgroupIndex, Intent] | None = turn_context.turn_state.get(RECOGNISED)
        return seen is not None and seen[0] == said and seen[2].name is IntentName.UPDATE

    async def _hold(
        self, session: AsyncSession, stamp: DataStamp | None, updating: bool, held: bool
    ) -> DataStamp | None:
        """Before a turn stores an update: the data stamp, held so that no one else changes the plan
        before this turn ends, if it is still the stamp the turn's snapshot was read at. `held`: the
        stamp was read holding it already."""
        if not updating or stamp is None:
            return None
        if held or self.database.serialised:  # read under a lock this transaction holds
            return stamp
        now_held = await data_stamp(session, stamp.partnership, hold=True)
        return now_held if now_held == stamp else None

    async def _advance(
        self,
        turn_context: TurnContext,
        session: AsyncSession,
        partnership: Partnership,
        held: DataStamp | None,
        ref: str,
        now: datetime,
    ) -> None:
        """After this turn's update: the kept snapshot with that action read again, to be kept for the
        new stamp once the turn commits, rather than the whole plan read again by the next turn."""
        if held is None or not ref:
            return
        after = await data_stamp(session, partnership.id)
        known = self.snapshots.kept_at(partnership.id, held)  # as the turn's snapshot was taken
        if after is None or after == held or after.shared != held.shared or known is None:
            return  # no change, or the partnerships changed too (not by this turn, which writes only to its plan)
        # One update stored and the plan's version moved by one: that row is the only change, so it
        # need not be read back (any other write to the plan would have moved the version too).
        turn: Turn | None = turn_context.turn_state.get(TURN)
        stored = turn.stored if turn is not None else []
        alone = stored[0] if len(stored) == 1 and after == replace(held, plan=held.plan + 1) else None
        reread = await self.snapshots.reread(session, known, [ref], now, alone)
        expected = Expected(held, after, reread, entry_of(alone) if alone is not None else None)
        self.snapshots.expect(partnership.id, expected)
        turn_context.turn_state[ADVANCED] = (partnership.id, expected)

    async def _continue_privately(self, turn_context: TurnContext) -> bool:
        """A dialog begun in a channel that would show a note (an update that needs a question, a
        redaction): it starts in the person's 1:1 chat instead. False if the bot cannot write there."""
        dialog, options = turn_context.turn_state.pop(PRIVATELY)
        person_id: int = turn_context.turn_state[PERSON]
        partnership_id: int = turn_context.turn_state[PARTNERSHIP]
        async with self.database.transaction() as session:
            chat = await addresses.personal_chat(session, partnership_id, person_id)
        if chat is None:
            return False

        async def in_private(private: TurnContext) -> None:
            private.turn_state[PARTNERSHIP] = partnership_id
            outbox = Outbox(private)
            private.on_send_activities(outbox.hold)
            try:
                await self.state.load(private)
                now = self.clock.now()
                async with self.database.transaction() as session:
                    partnership = await session.get_one(Partnership, partnership_id)
                    person = await session.get_one(Person, person_id)
                    snapshot = await load_snapshot(session, partnership, now)
                    private.turn_state[TURN] = Turn(session, snapshot, person, now, chat.conversation_id, None)
                    dc = await self.dialogs.create_context(private)
                    await dc.cancel_all_dialogs()
                    await dc.begin_dialog(dialog, options)
                await self.state.save_changes(private)
            finally:
                await outbox.release()

        try:
            await turn_context.adapter.continue_conversation(
                addresses.reference_of(chat), in_private, self.settings.app_id
            )
        except Exception:  # the chat is gone or Teams refused: say so in the channel, without the note
            log.warning("could not continue a dialog in a 1:1 chat", exc_info=True)
            return False
        return True

    async def _card(self, desk: Desk, action: CardAction) -> Card:
        ref = str(action.data.get("ref") or "")
        found = desk.turn.snapshot.action(ref)
        if found is None:
            snap = desk.turn.snapshot
            refused("a card for an action not in the plan", partnership=desk.turn.person.partnership_id)
            return cards.notice(messages.unknown_action(ref, snap.partnership, snap.plan))
        if action.verb == "update_form":
            if not posting.may_update(desk.turn.snapshot, desk.turn.person, ref):
                return cards.notice(posting.not_yours(desk.turn.snapshot, desk.turn.person, ref))
            if desk.shared:  # a form typed into in a channel would be seen there: it is asked privately
                return cards.notice(desk.privately(private_update(Draft(ref=ref), guided=True)))
            return cards.update_form(found, {})
        if desk.shared:
            typed = Draft(ref=ref, rag=rag_of(str(action.data.get("rag") or "")), note=action.data.get("note") or None)
            return cards.notice(desk.privately(private_update(typed, guided=False)))
        return await desk.form(ref, action.data)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        """Installed in a personal chat or a team: keep the address and say hello there."""
        await self._remember(turn_context)
        async with self.database.transaction() as session:
            partnership = await session.get_one(Partnership, turn_context.turn_state[PARTNERSHIP])
            name = partnership.name
        personal = addresses.kind_of(turn_context.activity) is ConversationKind.PERSONAL
        await turn_context.send_activity(messages.welcome(name) if personal else messages.welcome_team(name))

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        self.remembered.forget()
        async with self.database.transaction() as session:
            await addresses.forget(session, turn_context.activity, self.clock.now())

    async def on_teams_members_added_dispatch(
        self, members_added: list[Any], team_info: TeamInfo, turn_context: TurnContext
    ) -> None:
        """Only the bot's own arrival matters here; other members are not looked up one by one."""
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(m.id == bot_id for m in members_added):
            await self._remember(turn_context)

    async def on_teams_members_removed_dispatch(
        self, members_removed: list[Any], team_info: TeamInfo, turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(m.id == bot_id for m in members_removed):
            self.remembered.forget()
            async with self.database.transaction() as session:
                await addresses.forget(session, turn_context.activity, self.clock.now())

    async def on_teams_channel_created(
        self, channel_info: ChannelInfo, team_info: TeamInfo, turn_context: TurnContext
    ) -> None:
        """A channel appeared, was renamed or came back: keep its address and current name."""
        await self._remember(turn_context, {"id": channel_info.id, "name": channel_info.name})

    on_teams_channel_renamed = on_teams_channel_created
    on_teams_channel_restored = on_teams_channel_created

    async def on_teams_channel_deleted(
        self, channel_info: ChannelInfo, team_info: TeamInfo, turn_context: TurnContext
    ) -> None:
        self.remembered.forget()
        async with self.database.transaction() as session:
            await addresses.channel_gone(session, channel_info.id, self.clock.now())

    async def on_teams_team_renamed(self, team_info: TeamInfo, turn_context: TurnContext) -> None:
        self.remembered.forget()
        async with self.database.transaction() as session:
            await addresses.team_renamed(session, team_info.id, team_info.name)

    async def _remember(self, turn_context: TurnContext, channel: dict[str, Any] | None = None) -> None:
        async with self.database.transaction() as session:
            partnership = await session.get_one(Partnership, turn_context.turn_state[PARTNERSHIP])
            person = await find_person(turn_context, session, partnership)
            await addresses.remember(
                session,
                turn_context.activity,
                partnership,
                turn_context.turn_state[TENANT],
                self.clock.now(),
                person,
                channel,
            )


def to_activity(reply: Reply) -> Activity:
    """A card with its plain-text summary for clients and notifications that do not show cards."""
    if reply.card is None:
        return MessageFactory.text(reply.text)
    return Activity(
        type=ActivityTypes.message,
        summary=reply.text,
        attachments=[CardAttachment(content_type=CARD_CONTENT_TYPE, content=reply.card)],
    )

"""Remembering where the bot can write later (proactive messages), in the database.

Stored on install, on channel events and on every message, so that a missed event is made good;
marked removed (never deleted) when the bot is uninstalled or a channel deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount, ConversationReference
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, ConversationKind, Partnership, Person
from storage.repositories import ConversationRepository

log = logging.getLogger(__name__)


def reference_of(conversation: Conversation) -> ConversationReference:
    """Where to write to a stored conversation later."""
    return ConversationReference(
        channel_id="msteams",
        service_url=conversation.service_url,
        conversation=ConversationAccount(id=conversation.conversation_id, tenant_id=conversation.tenant_id),
        bot=ChannelAccount(id=conversation.bot_id),
    )


async def personal_chat(session: AsyncSession, partnership_id: int, person_id: int) -> Conversation | None:
    """The person's 1:1 chat with the bot, if the bot is installed there."""
    chats = await ConversationRepository(session).active_for(partnership_id, ConversationKind.PERSONAL, person_id)
    return chats[0] if chats else None


def base_conversation_id(conversation_id: str) -> str:
    """A channel thread's id carries ";messageid=..."; the channel's own address is the part before."""
    return conversation_id.split(";", 1)[0]


def _data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def team_of(activity: Activity) -> dict[str, Any]:
    team = _data(activity).get("team")
    return team if isinstance(team, dict) else {}


def channel_of(activity: Activity) -> dict[str, Any]:
    channel = _data(activity).get("channel")
    return channel if isinstance(channel, dict) else {}


def kind_of(activity: Activity) -> ConversationKind:
    conversation_type = getattr(activity.conversation, "conversation_type", None)
    if conversation_type == "channel" or team_of(activity):
        return ConversationKind.CHANNEL
    if conversation_type == "groupChat":
        return ConversationKind.GROUP_CHAT
    return ConversationKind.PERSONAL


@dataclass(frozen=True)
class Address:
    """Where a conversation is, as an activity says it: what `remember` stores."""

    conversation_id: str
    kind: ConversationKind
    fields: tuple[tuple[str, object], ...]


def address_of(
    activity: Activity,
    partnership: Partnership,
    tenant_id: str,
    person: Person | None = None,
    channel: dict[str, Any] | None = None,
) -> Address:
    """This activity's conversation (or `channel`, for channel events) as an address."""
    kind = kind_of(activity)
    team = team_of(activity)
    channel = channel if channel is not None else channel_of(activity)
    if kind is ConversationKind.CHANNEL:
        conversation_id = channel.get("id") or base_conversation_id(activity.conversation.id)
    else:
        conversation_id = base_conversation_id(activity.conversation.id)
    personal = kind is ConversationKind.PERSONAL
    fields = (
        ("partnership_id", partnership.id),
        ("tenant_id", tenant_id),
        ("service_url", activity.service_url),
        ("bot_id", activity.recipient.id if activity.recipient else None),
        ("team_id", team.get("id")),
        ("team_aad_group_id", team.get("aadGroupId")),
        ("team_name", team.get("name")),
        ("channel_id", channel.get("id")),
        ("channel_name", channel.get("name")),
        ("person_id", person.id if person and personal else None),
        ("user_id", activity.from_property.id if activity.from_property and personal else None),
    )
    return Address(conversation_id, kind, fields)


class Remembered:
    """The addresses this process has stored, each with the data stamp it was stored at: a message
    whose address is the same, at the same stamp, need not store it again. A write to the plan (a
    person erased, say) changes the stamp; the bot's own removals (uninstalled, a channel deleted)
    forget them all. The `size` most recent are kept."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.stored: OrderedDict[str, tuple[Address, object]] = OrderedDict()
        # Stamps reached from another by this process's own writes that changed no address (updates):
        # an address stored at the first holds at each of them. The most recent `size` are kept.
        self.same: OrderedDict[object, object] = OrderedDict()

    def holds(self, address: Address, stamp: object) -> bool:
        return self.stored.get(address.conversation_id) == (address, self.same.get(stamp, stamp))

    def add(self, address: Address, stamp: object) -> None:
        self.stored[address.conversation_id] = (address, self.same.get(stamp, stamp))
        self.stored.move_to_end(address.conversation_id)
        while len(self.stored) > self.size:
            self.stored.popitem(last=False)

    def advance(self, before: object, after: object) -> None:
        """A committed write of this process took the plan from `before` to `after` and changed no
        address but perhaps its own conversation's, which the turn that made it adds again."""
        self.same[after] = self.same.get(before, before)
        while len(self.same) > self.size:
            self.same.popitem(last=False)

    def forget(self) -> None:
        self.stored.clear()
        self.same.clear()


async def remember(
    session: AsyncSession,
    activity: Activity,
    partnership: Partnership,
    tenant_id: str,
    now: datetime,
    person: Person | None = None,
    channel: dict[str, Any] | None = None,
) -> Conversation:
    """Upsert this activity's conversation (or `channel`, for channel events) as an address."""
    return await store(session, address_of(activity, partnership, tenant_id, person, channel), now)


async def store(session: AsyncSession, address: Address, now: datetime) -> Conversation:
    """Upsert an address already read from an activity."""
    return await ConversationRepository(session).upsert(
        address.conversation_id, address.kind, **dict(address.fields), installed_at=now
    )


async def channel_name(turn_context: TurnContext, conversation: Conversation) -> str | None:
    """A channel's name. Teams sends names only with channel events, not with messages, so when we
    have none it is asked for once (one call for the team's channel list) and kept."""
    if conversation.channel_name or not conversation.team_id:
        return conversation.channel_name
    try:
        # TeamsInfo.get_team_channels (4.17.1) makes a blocking HTTP call from async code, which
        # would stall every other turn; the same call is made here on a worker thread.
        client = await TeamsInfo.get_teams_connector_client(turn_context)
        channels = (await asyncio.to_thread(client.teams.get_teams_channels, conversation.team_id)).conversations
    except Exception:  # a name is a nicety: without one, "this channel" does
        log.warning("could not list the channels of team %s", conversation.team_id, exc_info=True)
        return None
    for channel in channels:
        if channel.id == conversation.conversation_id:
            conversation.channel_name = channel.name or ("General" if channel.id == conversation.team_id else None)
    return conversation.channel_name


async def forget(session: AsyncSession, activity: Activity, now: datetime) -> int:
    """The bot was removed: mark this conversation (or, for a team, all its channels) as gone."""
    repo = ConversationRepository(session)
    team_id = team_of(activity).get("id")
    targets = await repo.in_team(team_id) if team_id else []
    single = await repo.get(base_conversation_id(activity.conversation.id))
    if single is not None and single not in targets:
        targets.append(single)
    for conversation in targets:
        conversation.removed_at = now
    await session.flush()
    return len(targets)


async def channel_gone(session: AsyncSession, channel_id: str, now: datetime) -> None:
    found = await ConversationRepository(session).get(channel_id)
    if found is not None:
        found.removed_at = now
        await session.flush()


async def team_renamed(session: AsyncSession, team_id: str, name: str) -> None:
    for conversation in await ConversationRepository(session).in_team(team_id):
        conversation.team_name = name
    await session.flush()

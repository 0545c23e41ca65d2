"""Proactive messages: a 1:1 message to a person, a new thread in a channel. Paced under Teams'
limits, retried on 429/412/502/503/504 with exponential backoff and jitter (honouring Retry-After),
and never repeated when a send may already have arrived."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
)

from bot.addresses import reference_of
from bot.cards import CARD_CONTENT_TYPE, Card
from bot.retries import CALLER_RETRIES, Retries, retried
from storage.models import Conversation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pacing(Retries):
    """Proactive sends: Teams' own retry statuses, never again after a send that may have arrived (a
    summary posted twice in a channel is worse than one reported), and a gap between sends."""

    gap: float = 0.15  # between sends: well under 7 a second per conversation, 50 per tenant


async def with_retries(send: Callable[[], Awaitable[None]], pacing: Pacing) -> int:
    """Run `send`, retrying the statuses Teams asks to retry; returns the attempts made."""
    _, attempts = await retried(send, pacing)
    return attempts


def card_activity(card: Card, summary: str) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        summary=summary,
        attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)],
    )


class Messenger:
    """Sends through the real Bot Framework adapter, as replies are sent."""

    def __init__(self, adapter: CloudAdapter, bot_app_id: str, pacing: Pacing | None = None) -> None:
        self.adapter = adapter
        self.bot_app_id = bot_app_id
        self.pacing = pacing or Pacing()

    async def to_person(self, conversation: Conversation, activity: Activity) -> int:
        reference = reference_of(conversation)

        async def send() -> None:
            failure: list[BaseException] = []

            async def deliver(turn_context: TurnContext) -> None:
                turn_context.turn_state[CALLER_RETRIES] = True  # retried here, paced, not by the adapter too
                try:
                    await turn_context.send_activity(activity)
                except Exception as exc:  # kept and raised below: the adapter would apologise in the chat
                    failure.append(exc)

            await self.adapter.continue_conversation(reference, deliver, self.bot_app_id)
            if failure:
                raise failure[0]

        return await self._paced(send)

    async def new_thread(self, channel: Conversation, activity: Activity) -> int:
        parameters = ConversationParameters(
            is_group=True,
            bot=ChannelAccount(id=channel.bot_id),
            channel_data={"channel": {"id": channel.conversation_id}, "tenant": {"id": channel.tenant_id}},
            activity=activity,
            tenant_id=channel.tenant_id,
        )

        async def send() -> None:
            async def created(turn_context: TurnContext) -> None:
                return None

            await self.adapter.create_conversation(self.bot_app_id, created, parameters, "msteams", channel.service_url)

        return await self._paced(send)

    async def _paced(self, send: Callable[[], Awaitable[None]]) -> int:
        attempts = await with_retries(send, self.pacing)
        await asyncio.sleep(self.pacing.gap)
        return attempts

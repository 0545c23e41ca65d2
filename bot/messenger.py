"""Proactive messages: a 1:1 message to a person, a new thread in a channel. Paced under Teams'
limits, retried on 429/412/502/503/504 with exponential backoff and jitter (honouring Retry-After),
and never repeated when a send may already have arrived."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
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
from storage.models import Conversation

log = logging.getLogger(__name__)

RETRY = frozenset({412, 429, 502, 503, 504})


class SendFailed(Exception):
    """The message did not arrive (Teams refused it, or kept answering 'try later')."""


class SendUnknown(Exception):
    """The message may have arrived (the request timed out or the connection dropped mid-way)."""


@dataclass(frozen=True)
class Pacing:
    attempts: int = 5
    base: float = 1.0  # seconds, doubled each retry
    cap: float = 60.0
    gap: float = 0.15  # between sends: well under 7 a second per conversation, 50 per tenant

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.cap)
        return float(min(self.cap, self.base * 2.0**attempt)) * random.uniform(0.5, 1.0)  # jitter


def status_of(error: BaseException) -> tuple[int | None, float | None]:
    """The HTTP status and Retry-After of a connector error, if it carries them."""
    response: Any = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    headers = getattr(response, "headers", None) or {}
    after = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        retry_after = float(after) if after is not None else None
    except ValueError:
        retry_after = None
    return (int(status) if status else None), retry_after


async def with_retries(send: Callable[[], Awaitable[None]], pacing: Pacing) -> int:
    """Run `send`, retrying the statuses Teams asks to retry; returns the attempts made."""
    for attempt in range(1, pacing.attempts + 1):
        try:
            await send()
            return attempt
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise SendUnknown(f"no answer from Teams ({exc.__class__.__name__}); it may have been delivered") from exc
        except Exception as exc:
            status, retry_after = status_of(exc)
            if status not in RETRY:
                raise SendFailed(f"Teams refused the message ({status or exc.__class__.__name__}): {exc}") from exc
            if attempt == pacing.attempts:
                raise SendFailed(f"Teams kept answering {status} after {attempt} attempts") from exc
            wait = pacing.backoff(attempt, retry_after)
            log.info("Teams answered %s; retrying in %.1fs (attempt %d)", status, wait, attempt)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


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

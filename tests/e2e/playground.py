"""Driving the real Microsoft 365 Agents Playground through its HTTP and WebSocket API, with our
server running as its own process: what a person at the playground would see."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot import playground
from bot.playground import PlaygroundSetup

REPLY_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_playground(setup: PlaygroundSetup, bot_port: int, port: int, folder: Path) -> subprocess.Popen[bytes]:
    setup.write(folder)
    log = folder / "playground.log"
    process = playground.start(f"http://127.0.0.1:{bot_port}/api/messages", port, folder, log)
    playground.wait_until_ready(port, process, log)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class Playground:
    """The playground's own API: post as a user, trigger installation, read the bot's messages."""

    base: str
    setup: PlaygroundSetup
    session: aiohttp.ClientSession
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, base: str, setup: PlaygroundSetup) -> AsyncIterator[Playground]:
        async with aiohttp.ClientSession() as session:
            client = cls(base, setup, session)
            ws = await session.ws_connect(f"{base}/_ws_conversation/v1/conversations/stream")
            client._reader = asyncio.create_task(client._read(ws))
            try:
                yield client
            finally:
                client._reader.cancel()
                await ws.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                await self.events.put(json.loads(message.data))

    async def say(self, conversation: str, text: str, user: str | None = None, mention: bool = False) -> dict[str, Any]:
        """Post a message as Teams' client does (in a channel, @mentioning the bot) and wait for the answer."""
        body: dict[str, Any] = {"from": {"id": user or self.setup.current_user}, "text": text, "textFormat": "plain"}
        if mention:
            tag = f"<at>{playground.BOT_NAME}</at>"
            body["text"] = f"{tag} {text}"
            body["mentions"] = [{"mentioned": {"id": playground.BOT_ID, "name": playground.BOT_NAME}, "text": tag}]
        async with self.session.post(
            f"{self.base}/_conversation/v1/conversations/{conversation}/messages", json=body
        ) as r:
            assert r.status == 200, await r.text()
        return await self.reply(conversation)

    async def execute(self, conversation: str, card_message: str, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        """Press an Action.Execute button on the card with id `card_message`. The playground answers with the
        bot's invoke response, as Teams does; its client then shows the card in place of the one pressed."""
        body = {
            "name": "adaptiveCard/action",
            "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
            "from": {"id": self.setup.current_user},
            "conversation": {"id": conversation},
            "replyToId": card_message,
        }
        async with self.session.post(f"{self.base}/_conversation/v1/invoke", json=body) as r:
            assert r.status == 200, await r.text()
            answer = await r.json(content_type=None)
        return dict(answer) if isinstance(answer, dict) else {"raw": answer}

    async def submit(self, conversation: str, card_message: str, data: dict[str, Any]) -> dict[str, Any]:
        """Press an Action.Submit button on the card with id `card_message`: Teams' client sends its data to the
        bot as a message with a value, and the bot answers in the conversation."""
        body = {
            "value": data,
            "from": {"id": self.setup.current_user},
            "conversation": {"id": conversation},
            "replyToId": card_message,
        }
        async with self.session.post(f"{self.base}/_conversation/v1/submit", json=body) as r:
            assert r.status == 200, await r.text()
        return await self.reply(conversation)

    async def install(self, conversation: str) -> dict[str, Any]:
        async with self.session.post(f"{self.base}/_debug/conversation/{conversation}/installation", json={}) as r:
            assert r.status == 200, await r.text()
        return await self.reply(conversation)

    async def reply(self, conversation: str) -> dict[str, Any]:
        """The next message the bot posts in `conversation` (or in a thread of it)."""
        deadline = asyncio.get_running_loop().time() + REPLY_TIMEOUT
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            event = await asyncio.wait_for(self.events.get(), timeout=max(remaining, 0.01))
            message = event.get("message") or {}
            if (
                event.get("action") == "createMessage"
                and str(event.get("actionConversationId", "")).startswith(conversation)
                and message.get("from", {}).get("id") == playground.BOT_ID
            ):
                return dict(message)


def card(message: dict[str, Any]) -> dict[str, Any]:
    attachments = message.get("attachments") or []
    assert attachments, f"expected a card, got: {message.get('text')}"
    content: dict[str, Any] = attachments[0]["content"]
    return content

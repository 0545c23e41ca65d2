"""The bot running for real in-process: our aiohttp app with the real adapter, a migrated SQLite
database with the demo plans, a fixed clock, and the recording connector as Microsoft's service."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import ADAPTER, create_app
from bot.clock import FixedClock
from bot.demo import demo_files, load_demo
from bot.settings import Settings
from storage.db import Database
from storage.migrate import upgrade
from storage.planfile import PlanFile, load_plan_file
from tests.conftest import london
from tests.teams import Channel, Connector, TeamsUser, make_invoke, make_message

NOW = london(2026, 11, 23, 10)
NCSCP_TENANT = "6f1c2a4e-0c1d-4e7a-9b1a-2d3c4e5f6a01"


async def demo_database(folder: Path) -> Database:
    url = f"sqlite+aiosqlite:///{folder / 'bot.db'}"
    await upgrade(url)
    database = Database(url)
    async with database.transaction() as session:
        await load_demo(session, NOW.date())
    return database


def ncscp_plan() -> PlanFile:
    return load_plan_file(next(p for p in demo_files() if p.name.startswith("ncscp")))


def teams_user(plan: PlanFile, email: str) -> TeamsUser:
    person = next(p for p in plan.people if p.email == email)
    assert person.aad_object_id and person.email
    return TeamsUser(person.name, person.aad_object_id, person.email)


@dataclass
class Harness:
    client: TestClient[Any, Any]
    connector: Connector
    database: Database
    clock: FixedClock
    tenant: str = NCSCP_TENANT

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return await self.client.post("/api/messages", json=activity, headers=headers or {})

    async def say(
        self, text: str, user: TeamsUser, channel: Channel | None = None, value: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send a message as Teams would and return what the bot sent back."""
        response = await self.post(make_message(text, user, self.tenant, self.connector.url, channel, value))
        assert response.status in {200, 201}, await response.text()
        return self.connector.take()

    async def invoke(self, user: TeamsUser, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        """An Action.Execute from a card; returns the invoke response's body."""
        response = await self.post(make_invoke(verb, data, user, self.tenant, self.connector.url))
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def one(self, text: str, user: TeamsUser, channel: Channel | None = None, **kw: Any) -> dict[str, Any]:
        replies = await self.say(text, user, channel, **kw)
        assert len(replies) == 1, replies
        return replies[0]


async def start_harness(database: Database, settings: Settings | None = None) -> AsyncIterator[Harness]:
    connector = Connector()
    await connector.start()
    clock = FixedClock(NOW)
    app = create_app(settings or Settings(database_url=database.url, scheduler=False), clock, database)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Harness(client, connector, database, clock)
    finally:
        await client.close()
        await connector.close()


class InstantWaits:
    """The adapter's waits between attempts at a reply, passing at once: each is recorded, and the
    adapter's clock moves on by it (so its time budget is spent as if it had waited)."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.skipped = 0.0

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.skipped += seconds

    def clock(self) -> float:
        return time.monotonic() + self.skipped

    def install(self, harness: Harness) -> InstantWaits:
        adapter = harness.client.app[ADAPTER]
        adapter.sleep, adapter.clock = self.sleep, self.clock
        return self

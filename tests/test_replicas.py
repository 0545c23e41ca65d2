"""Two `planbot serve` processes on one PostgreSQL, behind a round-robin, as in production: a guided
update goes on whichever replica takes the next message, updates to one action arriving together
are both stored in order, and each BMG summary is posted once though both replicas run the
scheduler. Needs PostgreSQL (TEST_DATABASE_URL); each test uses a database of its own."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.playground import wait_for
from storage.db import Database
from storage.models import Action, Update
from tests.conftest import postgres_demo
from tests.e2e.playground import free_port
from tests.harness import NCSCP_TENANT, ncscp_plan, teams_user
from tests.teams import Channel, Connector, make_message

PLAN = ncscp_plan()
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")  # the business unit
CDOP = Channel("19:cdop-replicas@thread.tacv2", "CDOP")
DATABASE = "plantracker_replicas"


@pytest.fixture(scope="module")
async def replica_url() -> str:
    """A database of this module's own on the test server, migrated and loaded with the demo plans."""
    # the servers read the real clock
    return await postgres_demo(DATABASE, date.today(), "the replica tests")  # noqa: DTZ011


def serve(url: str, port: int, folder: Path, connector_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PLANBOT_SCHEDULER": "true",
        "PLANBOT_SCHEDULER_INTERVAL": "0.5",
        "PLANBOT_SUMMARY_DAYS": "8",  # the demo's next BMG is a week away: summaries are due now
        "PLANBOT_NUDGE_DAYS": "0",
        "PLANBOT_FINAL_NUDGE_DAYS": "0",
    }
    log = folder / f"replica-{port}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=folder, env=env, stdout=out, stderr=out
        )
    wait_for(f"http://127.0.0.1:{port}/readyz", process, log)
    return process


class RoundRobin:
    """Each request to the next replica in turn, as a simple load balancer does."""

    def __init__(self, ports: list[int], session: aiohttp.ClientSession, connector: Connector) -> None:
        self.ports = itertools.cycle(ports)
        self.session = session
        self.connector = connector

    async def post(self, activity: dict[str, Any]) -> int:
        port = next(self.ports)
        async with self.session.post(f"http://127.0.0.1:{port}/api/messages", json=activity) as response:
            return response.status

    async def say(self, said: str, user: Any, channel: Channel | None = None) -> list[dict[str, Any]]:
        status = await self.post(make_message(said, user, NCSCP_TENANT, self.connector.url, channel))
        assert status in {200, 201}, status
        return self.connector.take()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replicas")


@pytest.fixture(scope="module")
async def connector() -> AsyncIterator[Connector]:
    fake = Connector(channels=[CDOP])
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture(scope="module")
def replicas(replica_url: str, folder: Path, connector: Connector) -> Iterator[list[int]]:
    ports = [free_port(), free_port()]
    processes = [serve(replica_url, port, folder, connector.url) for port in ports]
    try:
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
async def balancer(replicas: list[int], connector: Connector) -> AsyncIterator[RoundRobin]:
    async with aiohttp.ClientSession() as session:
        yield RoundRobin(replicas, session, connector)


async def notes_of(url: str, ref: str) -> list[str]:
    database = Database(url)
    try:
        async with database.transaction() as session:
            action = await session.scalar(select(Action).where(Action.ref == ref, Action.plan_id == 1))
            assert action is not None
            rows = await session.scalars(
                select(Update).where(Update.action_id == action.id).order_by(Update.created_at, Update.id)
            )
            return [u.comment for u in rows]
    finally:
        await database.dispose()


async def test_a_guided_update_goes_on_whichever_replica_takes_the_next_message(
    balancer: RoundRobin, replica_url: str
) -> None:
    steps = ["update", "8.1", "amber", "Two reviews delayed by late agency returns; chased this week", "skip"]
    for said in steps:
        replies = await balancer.say(said, RACHEL)
        assert len(replies) == 1, (said, replies)
    saved = await balancer.say("save", RACHEL)
    assert saved[0]["text"].startswith("Saved: 8.1 is now Amber.")
    assert (await notes_of(replica_url, "8.1")).count(steps[3]) == 1


async def test_updates_to_one_action_arriving_together_are_both_stored_in_order(
    balancer: RoundRobin, replica_url: str
) -> None:
    first = make_message(
        "8.1 green: panel met on Monday, workplan on track", RACHEL, NCSCP_TENANT, balancer.connector.url
    )
    second = make_message("8.1 amber: one review now slipping, chased", RACHEL, NCSCP_TENANT, balancer.connector.url)
    statuses = await asyncio.gather(balancer.post(first), balancer.post(second))
    assert all(s in {200, 201} for s in statuses)
    replies = balancer.connector.take()
    assert sorted(r["text"].split(".")[0] for r in replies) == ["Saved: 8", "Saved: 8"]
    notes = await notes_of(replica_url, "8.1")
    assert "panel met on Monday, workplan on track" in notes and "one review now slipping, chased" in notes


async def test_each_summary_is_posted_once_by_two_replicas(balancer: RoundRobin, connector: Connector) -> None:
    linked = await balancer.say("link this channel to CDOP", PRIYA, CDOP)
    assert linked[0]["text"].startswith("Linked: this channel (CDOP) is now CDOP's channel.")
    for _ in range(100):  # up to 20 s for a replica's scheduler to post it
        if connector.threads:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)  # several more scheduler runs on both replicas
    cdop = [t for t in connector.threads if t["channelData"]["channel"]["id"] == CDOP.id]
    assert len(cdop) == 1, f"posted {len(cdop)} times"

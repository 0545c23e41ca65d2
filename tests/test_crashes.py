"""Processes killed mid-work (SIGKILL, no chance to tidy up): on restart nothing acknowledged is lost
and nothing is posted twice. Real `planbot` processes on a SQLite file; the Bot Connector stands in
for Teams and holds the bot's sends until the process has been killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.demo import load_demo
from bot.playground import wait_for
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Action, Dispatch, DispatchStatus, Update
from tests.e2e.playground import free_port
from tests.harness import NCSCP_TENANT, ncscp_plan, teams_user
from tests.teams import Channel, Connector, make_message

RACHEL = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")  # chair of CDOP (8.1)
CDOP = Channel("19:cdop-crashes@thread.tacv2", "CDOP")
NOTE = "panel met; two reviews moved to January after late agency returns"


class HeldConnector(Connector):
    """Answers like Teams, but holds every send while `hold` is set (the process is killed meanwhile)."""

    def __init__(self) -> None:
        super().__init__(channels=[CDOP])
        self.open = asyncio.Event()  # sends are answered while this is set
        self.open.set()
        self.arrived = asyncio.Event()

    def hold(self) -> None:
        self.arrived.clear()
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    async def _wait(self) -> None:
        self.arrived.set()
        await self.open.wait()

    async def _send(self, request: web.Request) -> web.Response:
        await self._wait()
        return await super()._send(request)

    async def _create(self, request: web.Request) -> web.Response:
        await self._wait()
        return await super()._create(request)


@pytest.fixture
async def connector() -> AsyncIterator[HeldConnector]:
    held = HeldConnector()
    await held.start()
    yield held
    held.release()
    await held.close()


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}"
    await upgrade(url)
    database = Database(url)
    async with database.transaction() as session:
        await load_demo(session, date.today())  # noqa: DTZ011 - the processes read the real clock
    await database.dispose()
    return url


def environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "PLANBOT_SCHEDULER": "false",
        "PLANBOT_SUMMARY_DAYS": "8",  # the demo's next BMG is a week away: the summary is due now
        "PLANBOT_NUDGE_DAYS": "0",
        "PLANBOT_FINAL_NUDGE_DAYS": "0",
    }


def serve(url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    log = folder / "serve.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            cwd=folder,
            env=environment(url),
            stdout=out,
            stderr=out,
        )
    wait_for(f"http://127.0.0.1:{port}/readyz", process, log)
    return process


async def count(url: str, query: Any) -> int:
    database = Database(url)
    try:
        async with database.transaction() as session:
            return int(await session.scalar(query) or 0)
    finally:
        await database.dispose()


def updates_with(note: str) -> Any:
    return select(func.count()).select_from(Update).join(Action).where(Update.comment == note, Action.ref == "8.1")


async def test_killed_mid_turn_an_update_is_stored_once_when_teams_delivers_it_again(
    connector: HeldConnector, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    process = serve(database_url, port, tmp_path)
    activity = make_message(f"8.1 amber: {NOTE}", RACHEL, NCSCP_TENANT, connector.url)
    connector.hold()
    async with aiohttp.ClientSession() as session:
        delivery = asyncio.ensure_future(session.post(f"http://127.0.0.1:{port}/api/messages", json=activity))
        await asyncio.wait_for(connector.arrived.wait(), 20)  # the reply is on its way: the turn is mid-flight
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        with pytest.raises(aiohttp.ClientError):
            await delivery  # Teams got no answer, so it will deliver the activity again
        connector.release()
        stored = await count(database_url, updates_with(NOTE))
        assert stored <= 1
        restarted = serve(database_url, port, tmp_path)
        try:
            async with session.post(f"http://127.0.0.1:{port}/api/messages", json=activity) as again:
                assert again.status in {200, 201}
        finally:
            restarted.terminate()
            restarted.wait(timeout=10)
    assert await count(database_url, updates_with(NOTE)) == 1, "stored exactly once"
    answer = connector.take()[-1]["text"]
    assert answer.startswith(("Saved: 8.1 is now Amber.", "That update to 8.1 was already saved.")), answer


async def test_killed_mid_summary_run_nothing_is_posted_twice(
    connector: HeldConnector, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    server = serve(database_url, port, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            priya = teams_user(ncscp_plan(), "priya.shah@ncscp.example.org")
            link = make_message("link this channel to CDOP", priya, NCSCP_TENANT, connector.url, CDOP)
            async with session.post(f"http://127.0.0.1:{port}/api/messages", json=link) as linked:
                assert linked.status in {200, 201}
    finally:
        server.terminate()
        server.wait(timeout=10)
    connector.take()
    connector.hold()
    command = [sys.executable, "-m", "bot.cli", "summaries", "run"]
    env = environment(database_url)
    run = await asyncio.create_subprocess_exec(*command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL)
    await asyncio.wait_for(connector.arrived.wait(), 30)  # the summary's send has started
    run.send_signal(signal.SIGKILL)
    await run.wait()
    connector.release()
    await asyncio.sleep(0.5)
    posted_before = len([t for t in connector.threads if t["channelData"]["channel"]["id"] == CDOP.id])
    assert posted_before <= 1
    sending = select(func.count()).select_from(Dispatch).where(Dispatch.status == DispatchStatus.SENDING)
    assert await count(database_url, sending) >= 1, "the killed run left its send marked as started"
    again = await asyncio.create_subprocess_exec(*command, cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
    _, errors = await asyncio.wait_for(again.communicate(), 120)
    assert b"Traceback" not in errors, errors  # it may exit 1: leads without the bot installed are reported
    posted = [t for t in connector.threads if t["channelData"]["channel"]["id"] == CDOP.id]
    assert len(posted) == posted_before, "a send that may have arrived is never repeated blindly"
    assert await count(database_url, sending) >= 1, "within its lease the started send is left alone"

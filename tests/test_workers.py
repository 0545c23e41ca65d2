"""`planbot serve --workers 2` as a real process on a SQLite file: both workers answer Teams, updates
arriving together at both (and delivered twice, as Teams may) are each stored once with no "database is
locked" reaching anyone, SIGTERM stops every worker, and a worker that dies takes the server down with it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.demo import load_demo
from bot.playground import wait_for
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Action, Update
from tests.e2e.playground import free_port
from tests.harness import NCSCP_TENANT, ncscp_plan, teams_user
from tests.teams import Connector, make_message

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork (Linux, macOS)")

PLAN = ncscp_plan()
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")  # chair of CDOP, which leads 8.1
FIONA = teams_user(PLAN, "fiona.mcleod@ncscp.example.org")  # lead of 4.2
SERVING = re.compile(r"\[(\d+)\] bot\.workers: worker (\d) of 2 is serving")
ANSWERED = re.compile(r"\[(\d+)\] aiohttp\.access: .*\"POST /api/messages HTTP/1\.1\" 20[01]")


class Server:
    """`planbot serve --workers 2` in a folder of its own, its log read for which worker did what."""

    def __init__(self, url: str, folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "serve.log"
        env = {**os.environ, "DATABASE_URL": url, "PLANBOT_SCHEDULER": "false"}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port), "--workers", "2"],
                cwd=folder,
                env=env,
                stdout=out,
                stderr=out,
            )
        wait_for(f"{self.url}/readyz", self.process, self.log)
        deadline = time.monotonic() + 30
        while len(self.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.workers()) == 2, self.text()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def workers(self) -> set[int]:
        return {int(m.group(1)) for m in SERVING.finditer(self.text())}

    def answered_by(self) -> list[int]:
        return [int(m.group(1)) for m in ANSWERED.finditer(self.text())]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in self.workers():
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)  # never left behind, whatever the test found


def gone(pid: int, seconds: float = 10.0) -> bool:
    """Has the process stopped (within `seconds`)? A zombie awaiting its reaper has."""
    deadline = time.monotonic() + seconds
    while True:
        status = Path(f"/proc/{pid}/status")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if status.exists() and "State:\tZ" in status.read_text():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}"
    await upgrade(url)
    database = Database(url)
    async with database.transaction() as session:
        await load_demo(session, date.today())  # noqa: DTZ011 - the server reads the real clock
    await database.dispose()
    return url


@pytest.fixture
async def connector() -> AsyncIterator[Connector]:
    fake = Connector()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = Server(database_url, tmp_path)
    try:
        yield running
    finally:
        running.stop()


async def post(url: str, activity: dict[str, Any]) -> int:
    """One request on a connection of its own, as Teams' many front ends send them."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        session.post(f"{url}/api/messages", json=activity) as response,
    ):
        return response.status


async def test_both_workers_answer_on_one_port(server: Server, connector: Connector) -> None:
    statuses = [
        await post(server.url, make_message("my actions", FIONA, NCSCP_TENANT, connector.url)) for _ in range(16)
    ]
    assert statuses == [201] * 16
    replies = connector.take()
    assert len(replies) == 16
    assert all("4.2" in (r.get("text") or "") + str(r.get("attachments")) for r in replies)
    answered = server.answered_by()
    for _ in range(50):  # the access log line is written as the response goes out: wait for the last
        if len(answered) >= 16:
            break
        await asyncio.sleep(0.1)
        answered = server.answered_by()
    assert len(answered) == 16
    assert set(answered) == server.workers(), "each worker answered some of the sixteen"
    assert server.process.pid not in answered, "the parent only supervises"


def notes_stored(url: str, notes: list[str]) -> Any:
    async def count() -> dict[str, int]:
        database = Database(url)
        try:
            async with database.transaction() as session:
                rows = await session.execute(
                    select(Update.comment, func.count())
                    .join(Action)
                    .where(Update.comment.in_(notes))
                    .group_by(Update.comment)
                )
                return {comment: n for comment, n in rows}
        finally:
            await database.dispose()

    return count()


async def test_updates_arriving_together_at_both_workers_are_each_stored_once(
    server: Server, connector: Connector, database_url: str
) -> None:
    notes, sends = [], []
    for round_ in range(4):
        for user, ref in ((RACHEL, "8.1"), (FIONA, "4.2")):
            note = f"round {round_}: agency returns chased and reviewed at the sub-group"
            notes.append(f"{ref} {note}")
            activity = make_message(f"{ref} amber: {ref} {note}", user, NCSCP_TENANT, connector.url)
            sends += [activity, activity]  # Teams may deliver an activity twice
    statuses = await asyncio.gather(*(post(server.url, a) for a in sends))
    assert sorted(set(statuses)) == [201], "no turn failed or was refused (a locked database answers 503)"
    assert await notes_stored(database_url, notes) == dict.fromkeys(notes, 1)
    texts = [r["text"] for r in connector.take()]
    assert len(texts) == len(sends)
    assert sum(t.startswith("Saved: ") for t in texts) == len(notes), texts
    assert all(t.startswith(("Saved: ", "That update to")) for t in texts), texts
    assert "locked" not in server.text()
    assert len(set(server.answered_by())) == 2


async def test_sigterm_stops_every_worker(server: Server) -> None:
    workers = server.workers()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=20) == 0
    for pid in workers:
        assert gone(pid), f"worker {pid} outlived the server"


async def test_a_worker_that_dies_stops_the_server_with_an_error(server: Server) -> None:
    first, second = sorted(server.workers())
    os.kill(first, signal.SIGKILL)
    assert server.process.wait(timeout=20) == 1
    assert gone(second), "the other worker was stopped too"
    assert f"(pid {first}) was killed by signal 9; stopping the others" in server.text()
    assert "a worker stopped unexpectedly, so the server has stopped" in server.text()

"""Writing transactions on SQLite run on the event loop: while another process holds the write lock
(a second worker, the command line) they wait without stopping the server's other turns, then store
what they were given; one that cannot get the lock in time stores nothing and says why."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import sqlite_on_loop
from storage.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "plan.db"
    with sqlite3.connect(path) as made:
        made.execute("PRAGMA journal_mode=WAL")
        made.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


def other_process(db: Database) -> sqlite3.Connection:
    """A connection of another process's kind: its own, holding the write lock once it has begun."""
    path = db.url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO note (body) VALUES ('written by the other process')")
    return other


async def notes(db: Database) -> list[str]:
    async with db.reading() as session:
        return list(await session.scalars(text("SELECT body FROM note ORDER BY id")))


async def test_a_write_waits_for_another_process_without_stopping_the_loop(db: Database) -> None:
    other = other_process(db)

    async def write() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO note (body) VALUES ('4.2 amber: returns reviewed')"))

    writing = asyncio.create_task(write())
    ticks, answered = 0, []
    for _ in range(20):  # 0.2 s in which other turns go on: the loop ticks and a reader is answered
        await asyncio.sleep(0.01)
        ticks += 1
        answered.append(await notes(db))
    assert not writing.done(), "the write did not wait for the lock the other process holds"
    assert ticks == 20 and answered[-1] == []
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writing, timeout=5)
    assert await notes(db) == ["written by the other process", "4.2 amber: returns reviewed"]


async def test_a_write_that_cannot_get_the_lock_in_time_stores_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_on_loop, "BUSY_SECONDS", 0.2)
    other = other_process(db)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO note (body) VALUES ('never stored')"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await notes(db) == []
    async with db.transaction() as session:  # the connection is usable again once the lock is free
        await session.execute(text("INSERT INTO note (body) VALUES ('stored')"))
    assert await notes(db) == ["stored"]


async def test_a_failed_statement_rolls_the_whole_transaction_back(db: Database) -> None:
    async def first_then_nothing() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO note (body) VALUES ('first')"))
            await session.execute(text("INSERT INTO note (body) VALUES (NULL)"))

    with pytest.raises(Exception, match="NOT NULL"):
        await first_then_nothing()
    assert await notes(db) == []


async def test_writes_are_made_on_the_event_loops_thread(db: Database) -> None:
    """No hand-over to a driver thread for each step (which cost more than the statements themselves)."""
    seen: list[int] = []
    async with db.transaction() as session:
        raw = await (await session.connection()).get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, sqlite_on_loop.Connection)

        def whose_thread() -> int:
            seen.append(threading.get_ident())
            return 1

        driver._conn.create_function("whose_thread", 0, whose_thread)
        await session.execute(text("INSERT INTO note (body) VALUES ('x') RETURNING whose_thread()"))
    assert seen == [threading.get_ident()]

"""A SQLite connection that works on the event loop, for the transactions that may write.

aiosqlite runs every step of a query (making a cursor, executing, fetching, closing) on a thread of
its own, and each hand-over there and back costs more than the step itself: an update's transaction of
ten statements made about forty of them. Statements on a SQLite file that this process alone writes to
(the `Database` lets one writing transaction run at a time) take microseconds, so this connection makes
them where the turn runs, in the shape SQLAlchemy's aiosqlite dialect expects of an aiosqlite
connection (`create_async_engine(..., async_creator=...)`). Only the commit, which waits for the disk,
is made on a thread.

The one thing that may take long is waiting for another process's write lock (`planbot serve
--workers`, the command line beside the server). That wait is not made in the driver, which would
stop the event loop and every other turn with it: the driver's busy timeout is zero, and a statement
SQLite refuses as busy is tried again after an asynchronous sleep, until `BUSY_SECONDS` have passed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

BUSY_SECONDS = 10.0  # as long as the aiosqlite connections' busy timeout
FIRST_WAIT, LONGEST_WAIT = 0.001, 0.02

T = TypeVar("T")


async def _patiently(step: Callable[[], T], elsewhere: bool = False) -> T:
    """The step, tried again while SQLite says another connection holds the lock it needs; `elsewhere`:
    made on a thread, for a step that waits for the disk."""
    loop = asyncio.get_running_loop()
    deadline, wait = loop.time() + BUSY_SECONDS, FIRST_WAIT
    while True:
        try:
            return await asyncio.to_thread(step) if elsewhere else step()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or loop.time() + wait > deadline:
                raise
        await asyncio.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT)


class Cursor:
    """aiosqlite's cursor, as SQLAlchemy uses it, over a sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        await _patiently(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]) -> Cursor:
        rows = list(parameters)  # tried again whole if SQLite is busy
        await _patiently(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _AtOnce:
    """aiosqlite's queue of work for its thread, which SQLAlchemy's adapter uses directly to set
    `isolation_level`: here the work is done when it is put."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to whoever awaits the future, as aiosqlite's thread would
            future.set_exception(error)


class Connection:
    """aiosqlite's connection, as SQLAlchemy's aiosqlite dialect uses it, over a sqlite3 connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection  # the dialect checks it before commit
        self._tx = _AtOnce()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def cursor(self) -> Cursor:
        return Cursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        return await self.cursor().execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        # A durable commit waits for the disk to sync, a few tenths of a millisecond in which the loop
        # could be serving other turns: the one step made on a thread.
        await _patiently(self._conn.commit, elsewhere=True)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        """Closing, when SQLAlchemy gives up on the connection: nothing runs elsewhere to be stopped."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def connector(path: str) -> Callable[[], Any]:
    """For `create_async_engine(async_creator=...)`: a new connection to the SQLite file at `path`."""

    async def connect() -> Connection:
        # The driver never waits for a lock itself (see the module's note); this connection is used only
        # from the event loop's thread, but SQLAlchemy may close it from the garbage collector's.
        return Connection(sqlite3.connect(path, timeout=0, check_same_thread=False))

    return connect

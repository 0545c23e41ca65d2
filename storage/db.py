"""Engines and sessions. SQLite (a file in the working directory) by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import sqlite_on_loop

DEFAULT_URL = "sqlite+aiosqlite:///plantracker.db"


def async_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and name the async driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    driver = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


# Loggers that, at DEBUG, would write the data itself (a note, an email address) into the log: SQLAlchemy
# logs each row it fetches, aiosqlite each call with its SQL parameters.
DATA_LOGGERS = ("sqlalchemy.engine.Engine", "aiosqlite")


class NoDataAtDebug(logging.Filter):
    """Drops a data logger's DEBUG records, which carry rows and parameters; keeps its warnings and errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _keep_data_out_of_logs() -> None:
    for name in DATA_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, NoDataAtDebug) for f in logger.filters):
            logger.addFilter(NoDataAtDebug())


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine that never writes SQL parameters (a note, an email address) into a log or an error message."""
    _keep_data_out_of_logs()
    engine = create_async_engine(async_url(url), **kwargs, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_file(url: str) -> str | None:
    """The path of the SQLite file the URL names; None for PostgreSQL and for a database held in memory
    (which a second connection would not see)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def _writer_engine(url: str) -> AsyncEngine | None:
    """On a SQLite file, the engine of the transactions that may write: one connection, used on the event
    loop (`storage.sqlite_on_loop`), since this process runs one such transaction at a time."""
    path = _sqlite_file(url)
    if path is None:
        return None
    _keep_data_out_of_logs()
    engine = create_async_engine(
        url,
        async_creator=sqlite_on_loop.connector(path),
        pool_size=1,
        max_overflow=0,
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_connect_on_loop)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any, busy_ms: int = 10000) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that savepoints
    # and transactional DDL work as they do on PostgreSQL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


def _sqlite_connect_on_loop(dbapi_connection: Any, record: Any) -> None:
    # The driver must not wait for a lock on the event loop: the connection waits by itself, asynchronously.
    _sqlite_connect(dbapi_connection, record, busy_ms=0)


WRITES = "plan_tracker_writes"
"""Execution option of a SQLite connection whose transaction may write: it begins IMMEDIATE."""


def _sqlite_begin(connection: Any) -> None:
    # A transaction that may write takes SQLite's write lock when it begins, waiting for it (the busy
    # timeout) while another process holds it. Begun DEFERRED, it would read first and then, on its
    # first write, fail at once with "database is locked" if another process had written meanwhile:
    # waiting cannot help a transaction whose reads are out of date. Readers begin DEFERRED and never wait.
    immediate = connection.get_execution_options().get(WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


QUICK_BUSY_MS = 50  # the most a quick read may wait for SQLite (a WAL reader waits only in rare moments)


def _quick_engine(url: str) -> Engine | None:
    """On a SQLite file, a synchronous engine for the few reads small enough to make on the event loop.

    aiosqlite runs every step of a query (begin, execute, fetch, roll back) on a thread of its own,
    and each hand-over costs more than reading one row by its key: the turn's first read (the data
    stamp and the conversation's state) is made here instead, read-only, with a short busy timeout.
    None for PostgreSQL (asyncpg is asynchronous itself) and for a database held in memory.
    """
    if _sqlite_file(url) is None:
        return None
    engine = create_sync_engine(
        make_url(url).set(drivername="sqlite"), hide_parameters=True, pool_size=1, max_overflow=0
    )

    def connected(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # one statement, its own transaction
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={QUICK_BUSY_MS}")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    event.listen(engine, "connect", connected)
    return engine


POOL_SIZE = 10
"""PostgreSQL connections a process keeps open (and as many again at a peak, each closed after its turn).
A turn holds one for a statement or a transaction; beyond what the pool keeps, SQLAlchemy opens a
connection for the turn and closes it after, which costs several times the turn itself: with its
default of five, at sixteen turns at once every turn beyond the fifth did. Each kept connection holds
memory of its own: with twenty, the soak's memory rose 13% over the run rather than 10%, for 3% more
messages a second."""


class Database:
    """One engine and its session factory, made by the app or the CLI from settings."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE, **engine_kwargs: Any) -> None:
        self.url = async_url(url)
        postgres = make_url(self.url).get_backend_name() == "postgresql"
        if postgres:
            engine_kwargs = {"pool_size": pool_size, "max_overflow": pool_size, **engine_kwargs}
        self.engine = create_engine(self.url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time, and two transactions that both read and then write fail
        # at once ("database is locked") rather than wait: in this process they take turns, and with
        # other processes (`planbot serve --workers`, the command line beside the server) each begins
        # IMMEDIATE, so it waits for the write lock before it reads.
        self._one_writer = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        # PostgreSQL: by partnership, the transactions of this process that will hold its plan, in the
        # order they began (`transaction(holding=...)`).
        self._holding: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self.quick = _quick_engine(self.url)
        # A read of one statement is consistent by itself: on PostgreSQL it is made without the BEGIN
        # and ROLLBACK that SQLAlchemy wraps around every use of a connection (two round trips of three).
        self.one_statement = self.engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else self.engine
        writer = _writer_engine(self.url) if not engine_kwargs else None
        self.writer = writer or self.engine
        self._writes = async_sessionmaker(self.writer, expire_on_commit=False) if writer else self.sessions

    @asynccontextmanager
    async def transaction(self, holding: int | None = None) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed together, or not at all. Do not open one inside another.

        `holding`: the partnership whose plan the transaction will hold from its start (`data_stamp`
        with `hold`). On PostgreSQL the transactions of this process that will hold the same plan then
        begin one after another, in the order they asked, as on SQLite every writing transaction does.
        PostgreSQL's row lock alone is not first come, first served: a transaction that asks just as
        the holder commits can take the plan ahead of those already waiting, and under a burst of
        updates some waited two seconds while most took twenty milliseconds."""
        queue = self._plan_queue(holding) if holding is not None and self._one_writer is None else None
        async with (
            queue or self._one_writer or contextlib.nullcontext(),
            self._writes() as session,
            session.begin(),
        ):
            if self._one_writer is not None:
                await session.connection(execution_options={WRITES: True})
            yield session

    def _plan_queue(self, partnership: int) -> asyncio.Lock:
        queue = self._holding.get(partnership)
        if queue is None:  # kept while a transaction holds or waits for it
            queue = self._holding[partnership] = asyncio.Lock()
        return queue

    @property
    def remote(self) -> bool:
        """Is the database another process (PostgreSQL), so that a turn waits for each answer and may
        do work of its own meanwhile? (SQLite is read in this process, most reads on the event loop.)"""
        return self.engine.dialect.name == "postgresql"

    @property
    def serialised(self) -> bool:
        """Does a transaction hold the write lock from its beginning (SQLite: BEGIN IMMEDIATE), so that
        nothing it has read can be changed by anyone else before it ends?"""
        return self._one_writer is not None

    async def open_pool(self) -> None:
        """On PostgreSQL, open every connection the pool keeps, as a server starts: opened later, as a
        busy moment first needs each, a server's memory would go on rising for its first hour."""
        if not self.remote:
            return
        async with contextlib.AsyncExitStack() as stack:
            opened = (stack.enter_async_context(self.one_statement.connect()) for _ in range(self.engine.pool.size()))  # type: ignore[attr-defined]
            await asyncio.gather(*opened)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads: one consistent view of the database, which on SQLite does not wait
        for the writer (readers of a WAL database go on beside it). Nothing it changes is committed."""
        async with self.sessions() as session:  # begun by its first query, rolled back when closed
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.writer is not self.engine:
            await self.writer.dispose()
        if self.quick is not None:
            self.quick.dispose()

"""Bot Framework state (dialog stacks, conversation state) in the `bot_state` table, so it survives restarts
and is shared by every replica of the server.

`SqlStorage` is a `botbuilder.core.Storage`: it behaves as botbuilder's `MemoryStorage` does towards
`ConversationState` and dialogs, and passes the SDK's own contract suite (`botbuilder.testing.StorageBaseTests`).
Its e-tag check is made by the database, so two replicas writing the same conversation cannot both win.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from uuid import uuid4

from botbuilder.core import ConversationState, Storage, TurnContext
from botbuilder.core.bot_state import CachedBotState
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from bot.clock import Clock, SystemClock
from storage.db import Database
from storage.models import BotState
from storage.state_codec import TAG, Json, StateCodec
from storage.versions import STAMP, DataStamp

E_TAG = "e_tag"
"""Where botbuilder items carry their e-tag: a dict key or an attribute."""

KEY_LENGTH = 1024
"""The length of `bot_state.key`; longer keys are stored under a hash of themselves."""


class EtagConflictError(KeyError):
    """Another writer changed the item since it was read. A KeyError, with MemoryStorage's message, so code written
    for botbuilder's storages (which catch KeyError) behaves the same."""

    def __init__(self, key: str, expected: str, current: str | None) -> None:
        super().__init__(f"Etag conflict.\nOriginal: {expected}\r\nCurrent: {current}")
        self.key, self.expected, self.current = key, expected, current


@dataclass(frozen=True)
class _Change:
    """One item of a write, encoded before any database work so a bad item stops the batch early."""

    key: str
    row_key: str
    expected_etag: str | None  # None: last write wins
    data: Json


# What every turn reads first: the data stamp and the conversation's state, in one query.
GLANCE = STAMP.add_columns(BotState.etag, BotState.data).outerjoin(BotState, BotState.key == bindparam("key"))
GLANCE_SQLITE = GLANCE.compile(dialect=sqlite.dialect())
GLANCE_POSTGRES = GLANCE.compile(dialect=postgresql.asyncpg.dialect())  # type: ignore[no-untyped-call]


class SqlStorage(Storage):  # type: ignore[misc]  # botbuilder ships no type information
    """A botbuilder `Storage` on the `bot_state` table, with e-tags checked by the database.

    As with `MemoryStorage`: an item whose e-tag (`e_tag` key or attribute) differs from the stored one is refused
    with a KeyError; "*" or no e-tag overwrites; an e-tag of "" is an error. Unlike it, every write gives the item a
    new e-tag (a random one, so replicas and restarts never reuse one), `read` always returns the current e-tag, a
    batch is written in one transaction (all or nothing), and items are copied, never shared with the caller.
    """

    def __init__(self, database: Database, *, codec: StateCodec | None = None, clock: Clock | None = None) -> None:
        super().__init__()
        self._database = database
        self._codec = codec or StateCodec()
        self._clock = clock or SystemClock()

    async def read(self, keys: Iterable[str] | None) -> dict[str, object]:
        """The stored items among `keys`, each with its current e-tag; keys with nothing stored are absent."""
        row_keys = {_row_key(key): key for key in _required(keys, "Keys are required when reading")}
        if not row_keys:
            return {}
        query = select(BotState.key, BotState.etag, BotState.data).where(BotState.key.in_(row_keys))
        async with self._database.one_statement.connect() as connection:
            rows = {row_key: (etag, data) for row_key, etag, data in await connection.execute(query)}
        return {key: self._item(*rows[row_key]) for row_key, key in row_keys.items() if row_key in rows}

    async def glance(self, key: str, partnership: int | None) -> tuple[DataStamp | None, object | None]:
        """The data stamp of `partnership`'s plan (None: of none) and the item stored under `key` (None
        if nothing is), in one query: what every turn reads first."""
        row_key = _row_key(key)
        values: dict[str, Any] = {"key": row_key, "partnership": -1 if partnership is None else partnership}
        row: Any = self._quickly(values)
        if row is False:
            row = await self._through_asyncpg(values)
        if row is False:
            async with self._database.one_statement.connect() as connection:
                row = (await connection.execute(GLANCE, values)).first()
        if row is None:
            return None, None
        epoch, version, plan, etag, data = row
        stamp = DataStamp(epoch, version, values["partnership"], plan or 0)
        return stamp, (self._item(etag, data) if etag is not None else None)

    async def _through_asyncpg(
        self, values: dict[str, object]
    ) -> tuple[str, int, int | None, str | None, Json] | Literal[False] | None:
        """On PostgreSQL, the glance's row read through asyncpg itself, on a connection of the pool,
        with the statement compiled once (asyncpg prepares it once a connection): SQLAlchemy's handling
        of the statement and its row cost more than the read (0.27 against 0.16 ms of CPU). False if
        it must be read the usual way: not PostgreSQL, or any error (the usual way then says what it is,
        as SQLAlchemy's error, which tells a database that is down from a fault)."""
        if not self._database.remote:
            return False
        values = {**GLANCE_POSTGRES.params, **values}
        async with self._database.one_statement.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                record = await raw.driver_connection.fetchrow(  # type: ignore[union-attr]
                    GLANCE_POSTGRES.string, *[values[name] for name in GLANCE_POSTGRES.positiontup or ()]
                )
            except Exception:
                await connection.invalidate()  # perhaps broken: not back into the pool
                return False
        if record is None:
            return None
        epoch, version, plan, etag, data = record
        return epoch, version, plan, etag, (json.loads(data) if isinstance(data, str | bytes) else data)

    def _quickly(
        self, values: dict[str, object]
    ) -> tuple[str, int, int | None, str | None, Json] | Literal[False] | None:
        """The glance's row, read on the event loop where the database allows it (`Database.quick`,
        through the driver with the statement compiled once); False if it must be read the usual way
        (PostgreSQL, or SQLite busy for longer than a moment)."""
        quick = self._database.quick
        if quick is None:
            return False
        values = {**GLANCE_SQLITE.params, **values}
        try:
            connection = quick.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(GLANCE_SQLITE.string, [values[name] for name in GLANCE_SQLITE.positiontup or ()])
                row = cursor.fetchone()
                cursor.close()
            finally:
                connection.close()
        except (sqlite3.Error, DBAPIError):  # busy, or not there at all: the usual way says which
            return False
        if row is None:
            return None
        epoch, version, plan, etag, data = row
        return epoch, version, plan, etag, (json.loads(data) if data is not None else None)

    async def write(self, changes: Mapping[str, object] | None) -> None:
        """Store every item or none: an e-tag conflict on one item (EtagConflictError) leaves all unwritten."""
        if changes is None:
            raise TypeError("Changes are required when writing")
        if not changes:  # botbuilder passes [] as well as {}
            return
        batch = [self._change(key, item) for key, item in changes.items()]
        async with self._database.transaction() as session:
            connection = await session.connection()
            for change in batch:
                await self._store(connection, change)

    async def delete(self, keys: Iterable[str] | None) -> None:
        """Remove the items, whatever their e-tags (as MemoryStorage does); unknown keys are ignored."""
        row_keys = {_row_key(key) for key in _required(keys, "Keys are required when deleting")}
        if row_keys:
            async with self._database.transaction() as session:
                await session.execute(delete(BotState).where(BotState.key.in_(row_keys)))

    def _change(self, key: str, item: object) -> _Change:
        etag = item.get(E_TAG) if isinstance(item, dict) else getattr(item, E_TAG, None)
        if etag == "":
            raise ValueError("SqlStorage.write(): etag missing")  # the SDK's storages refuse an empty e-tag too
        data = self._codec.encode(item)
        _strip_etag(data)  # the e-tag lives in its own column
        expected = None if etag is None or etag == "*" else str(etag)
        return _Change(key=key, row_key=_row_key(key), expected_etag=expected, data=data)

    async def _store(self, connection: AsyncConnection, change: _Change) -> None:
        values = {"etag": uuid4().hex, "data": change.data, "updated_at": self._clock.now()}
        if change.expected_etag is None:
            await connection.execute(_upsert(connection.dialect.name, {"key": change.row_key, **values}))
            return
        replaced = await connection.execute(
            update(BotState).where(BotState.key == change.row_key, BotState.etag == change.expected_etag).values(values)
        )
        if replaced.rowcount != 1:
            await self._insert_or_conflict(connection, change.key, change.row_key, change.expected_etag, values)

    async def _insert_or_conflict(
        self, connection: AsyncConnection, key: str, row_key: str, expected: str, values: dict[str, Any]
    ) -> None:
        """No row had the expected e-tag. If the key is free, write it (MemoryStorage writes an item whose stored
        copy is gone); if it is taken (changed, or created meanwhile), the primary key refuses us: a conflict."""
        try:
            async with connection.begin_nested():
                await connection.execute(insert(BotState).values(key=row_key, **values))
        except IntegrityError:
            current = await connection.scalar(select(BotState.etag).where(BotState.key == row_key))
            if current is None:
                raise  # not the key: some other constraint failed
            raise EtagConflictError(key, expected, current) from None

    def _item(self, etag: str, data: Json) -> object:
        item = self._codec.decode(data)
        if isinstance(item, dict):
            item[E_TAG] = etag
        elif hasattr(item, "__dict__"):
            setattr(item, E_TAG, etag)
        return item


def _required(keys: Iterable[str] | None, message: str) -> Iterable[str]:
    # BlobStorage's message, which StorageBaseTests expects; a lone string would be read as one key per character.
    if keys is None or isinstance(keys, str):
        raise TypeError(message)
    return keys


def _row_key(key: str) -> str:
    """The table's key for a state key: itself, unless it is too long or holds what PostgreSQL text cannot."""
    if len(key) <= KEY_LENGTH and "\x00" not in key and _encodes(key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _encodes(key: str) -> bool:
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _strip_etag(data: Json) -> None:
    attributes = data.get("value") if isinstance(data, dict) and data.get(TAG) == "object" else data
    if isinstance(attributes, dict):
        attributes.pop(E_TAG, None)


def _upsert(dialect: str, row: dict[str, Any]) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE: last write wins, atomically, in the two databases we run on."""
    dialect_insert: dict[str, Callable[..., postgresql.Insert | sqlite.Insert]] = {
        "postgresql": postgresql.insert,
        "sqlite": sqlite.insert,
    }
    if dialect not in dialect_insert:
        raise NotImplementedError(f"SqlStorage runs on PostgreSQL and SQLite, not {dialect}")
    statement = dialect_insert[dialect](BotState).values(row)
    replace = {column: statement.excluded[column] for column in ("etag", "data", "updated_at")}
    return statement.on_conflict_do_update(index_elements=[BotState.key], set_=replace)


class TurnConversationState(ConversationState):  # type: ignore[misc]
    """botbuilder's ConversationState, read from storage once a turn.

    botbuilder reads the state again whenever the turn's copy is empty (a new conversation, or one
    with nothing kept), and a property first asked for inside the turn's transaction then takes a
    second pooled connection while the first holds locks: with more concurrent turns than the pool
    has connections, every connection ends up waiting on another (issue 12's soak found this).
    """

    async def load(self, turn_context: TurnContext, force: bool = False) -> None:
        if force or self.get_cached_state(turn_context) is None:
            await super().load(turn_context, force)

    async def glance(self, turn_context: TurnContext, partnership: int | None) -> DataStamp | None:
        """Load the turn's state and read the data stamp of `partnership`'s plan with it, in one query
        (on `SqlStorage`)."""
        storage = self._storage
        if not isinstance(storage, SqlStorage):
            await self.load(turn_context)
            return None
        stamp, item = await storage.glance(self.get_storage_key(turn_context), partnership)
        turn_context.turn_state[self._context_service_key] = CachedBotState(item)
        return stamp

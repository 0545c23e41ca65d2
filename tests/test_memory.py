"""Memory that must not grow while the bot serves: what the soak of issue 12 found growing."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import NoteReview, Update
from storage.repositories import NoteRepository


def sqlite_heap() -> Callable[[], int]:
    """SQLite's own heap in bytes (its page caches and prepared statements), as SQLite counts it."""
    module = sys.modules.get("_sqlite3")
    try:
        library = ctypes.CDLL(module.__file__ if module else "libsqlite3.so.0")
        library.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError, TypeError):
        pytest.skip("SQLite's memory counter cannot be read here")
    return lambda: int(library.sqlite3_memory_used())


async def test_reading_notes_reviews_as_a_plan_grows_keeps_sqlite_memory_flat(demo_db: Database) -> None:
    """A snapshot reads its notes' reviews for every update of the plan: with one update more each
    time, a statement of a new length was prepared and kept each time (128 per connection, ~66 kB
    each), so memory grew with every update stored until each connection held 128 of them."""
    memory = sqlite_heap()
    async with demo_db.transaction() as session:
        ids = list(await session.scalars(select(Update.id).order_by(Update.id)))
        everything = {r.update_id: r.kind for r in await session.scalars(select(NoteReview))}
        notes = NoteRepository(session)
        await notes.reviews(ids[:1])
        before = memory()
        for n in range(300, 600):  # the history of a plan growing one update at a time
            wanted = [*ids, *range(10**6, 10**6 + n)][:n]
            found = await notes.reviews(wanted)
            assert found == {u: {k} for u, k in everything.items() if u in set(wanted)}
        grown = memory() - before
    assert grown < 1_000_000, f"SQLite's memory grew by {grown / 1e6:.1f} MB"

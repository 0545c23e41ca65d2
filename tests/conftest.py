"""Shared fixtures: a migrated database per backend (SQLite always, PostgreSQL when reachable),
each test in a transaction that is rolled back, and the demo plans."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo import demo_files, load_demo
from bot.rules import LONDON
from storage.db import Database, async_url, create_engine
from storage.migrate import upgrade
from storage.planfile import PlanFile, load_plan_file

if TYPE_CHECKING:
    from tests.harness import Harness

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

# Fuzzing explores new inputs on each run here; in CI it replays the same ones, so that a run's result
# does not depend on its luck (what a local run finds is fixed and becomes a test of its own).
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
PG_ENV = "TEST_DATABASE_URL"


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in the partnership's timezone."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


async def _postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set, so the PostgreSQL storage tests are skipped (.ci/run sets it)")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            # A clean schema every run, so the migrations are exercised from the first one.
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
            await connection.commit()
    except (OSError, Exception) as exc:
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable ({exc.__class__.__name__}: {exc})")
    finally:
        await engine.dispose()
    return async_url(url)


async def postgres_demo(name: str, day: date, why: str) -> str:
    """A database of a test module's own on the test server (`name`), migrated and loaded with the demo
    plans moved to `day`; skipped, saying `why` it needs one, where there is no server."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set, so {why} are skipped (.ci/run sets it)")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            await connection.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable or will not create a database ({exc})")
    finally:
        await admin.dispose()
    own = make_url(async_url(url)).set(database=name).render_as_string(hide_password=False)
    await upgrade(own)
    database = Database(own)
    async with database.transaction() as session:
        await load_demo(session, day)
    await database.dispose()
    return own


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'plan.db'}"
    else:
        url = await _postgres_url()
    await upgrade(url)
    db = Database(url)
    yield db
    await db.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test; commits become savepoints."""
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        db_session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield db_session
        finally:
            await db_session.close()
            await transaction.rollback()


@pytest.fixture(scope="module")
async def demo_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """A database of the module's own with both demo plans, moved to the tests' Monday 23 November 2026."""
    from tests.harness import demo_database

    db = await demo_database(tmp_path_factory.mktemp("demo"))
    yield db
    await db.dispose()


@pytest.fixture
async def bot(demo_db: Database) -> AsyncIterator[Harness]:
    """The bot serving the demo database, anonymous, with a recording Bot Connector."""
    from tests.harness import start_harness

    async for harness in start_harness(demo_db):
        yield harness


@pytest.fixture(scope="session")
def ncscp_file() -> Path:
    return next(p for p in demo_files() if p.name.startswith("ncscp"))


@pytest.fixture(scope="session")
def nscp_file() -> Path:
    return next(p for p in demo_files() if p.name.startswith("nscp"))


@pytest.fixture(scope="session")
def ncscp(ncscp_file: Path) -> PlanFile:
    return load_plan_file(ncscp_file)


@pytest.fixture(scope="session")
def nscp(nscp_file: Path) -> PlanFile:
    return load_plan_file(nscp_file)


@pytest.fixture(scope="session")
def ncscp_seed() -> str:
    path = SEEDS / "000_6af8067cd5911ed1.txt"
    if not path.exists():
        pytest.skip(f"the seed documents are not beside the project ({path})")
    return " ".join(path.read_text(encoding="utf-8").split())


@pytest.fixture(scope="session")
def nscp_seed() -> str:
    path = SEEDS / "004_2fe2801fa39f6d30.txt"
    if not path.exists():
        pytest.skip(f"the seed documents are not beside the project ({path})")
    return " ".join(path.read_text(encoding="utf-8").split())

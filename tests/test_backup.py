"""`planbot backup` and `planbot restore`: the demo database after a few weeks of use, written to a
file and restored into an empty database, is the same table by table, row by row, ids included."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.cli import Context, cli
from bot.clock import FixedClock
from bot.posting import undo
from bot.rules import Precision, Rag
from bot.settings import Settings
from storage.backup import FORMAT, VERSION, tables
from storage.db import Database, async_url, create_engine
from storage.models import (
    Accepted,
    BotState,
    ConversationKind,
    DispatchKind,
    DispatchStatus,
    MilestoneRevision,
    Source,
    SubGroup,
    Update,
)
from storage.repositories import ConversationRepository, DispatchKey, DispatchRepository, PartnershipRepository
from tests.conftest import PG_ENV
from tests.factories import action, add_update, person
from tests.harness import NOW, demo_database

NOTE = "Audit sample agreed with health; first findings to the QA subgroup in January."
# The tables a few weeks of use fill beyond the demo's own: each must come back.
USED = {"conversation", "dispatch", "bot_state", "milestone_revision", "progress_update", "membership"}

Run = Callable[..., Result]


def planbot(url: str) -> Run:
    context = Context(Settings(database_url=url), FixedClock(NOW))

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=context)

    return run


async def use(database: Database) -> None:
    """What weeks of Teams do: updates, a withdrawal, an accepted date, a linked channel, a dispatch, state."""
    async with database.transaction() as session:
        fiona = await person(session, "fiona.mcleod@ncscp.example.org")
        first = await add_update(session, await action(session, "NCSCP", "2.2"), Rag.AMBER, NOTE, NOW, fiona)
        await add_update(session, await action(session, "NCSCP", "4.2"), Rag.RED, "Report not received", NOW, fiona)
        await undo(session, fiona, NOW + timedelta(minutes=1), "a:personal-chat")
        proposal = Update(
            action_id=first.action_id,
            rag=Rag.AMBER,
            comment="Delayed to March",
            author_id=fiona.id,
            author_name=fiona.name,
            created_at=NOW + timedelta(minutes=2),
            source=Source.CHAT,
            activity_id="activity-1",
            conversation_id="a:personal-chat",
            revised_due_on=date(2027, 3, 31),
            revised_precision=Precision.MONTH,
        )
        session.add(proposal)
        await session.flush()
        session.add(
            MilestoneRevision(
                action_id=first.action_id,
                proposal_id=proposal.id,
                replaces_on=date(2026, 10, 31),
                due_on=date(2027, 3, 31),
                precision=Precision.MONTH,
                accepted_by_name="Priya Shah",
                accepted_at=NOW + timedelta(hours=1),
                source=Accepted.TEAMS,
            )
        )
        partnership = await PartnershipRepository(session).by_short_name("NCSCP")
        channel = await ConversationRepository(session).upsert(
            "19:qa@thread.tacv2",
            ConversationKind.CHANNEL,
            partnership_id=partnership.id,
            tenant_id="tenant",
            service_url="https://smba.example/",
            bot_id="28:bot",
            channel_name="Children's QA",
            installed_at=NOW,
        )
        group = await session.scalar(select(SubGroup).where(SubGroup.partnership_id == partnership.id))
        assert group is not None
        group.channel_id = channel.id
        key = DispatchKey(partnership.id, date(2026, 11, 30), DispatchKind.SUMMARY, f"subgroup:{group.id}")
        claimed = await DispatchRepository(session).claim(key, "test", NOW, NOW)
        assert claimed is not None
        claimed.status, claimed.finished_at, claimed.attempts = DispatchStatus.SENT, NOW, 1
        session.add(BotState(key="conv/state", etag="1", data={"dialog": {"step": 2}}, updated_at=NOW))


async def contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order, as Python values."""
    database = Database(url)
    try:
        async with database.transaction() as session:
            return {
                t.name: [tuple(r) for r in await session.execute(select(t).order_by(*t.primary_key.columns))]
                for t in tables()
            }
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The used demo database (SQLite) and its backup, written by `planbot backup`."""
    folder = tmp_path_factory.mktemp("source")

    async def prepare() -> str:
        database = await demo_database(folder)
        await use(database)
        await database.dispose()
        return database.url

    url = asyncio.run(prepare())
    out = folder / "plan.backup.jsonl"
    result = planbot(url)("backup", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote the backup to {out}:" in result.output
    return url, out


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database beside TEST_DATABASE_URL's."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set, so restoring into PostgreSQL is not tried")
    url = make_url(async_url(base))
    name = f"{url.database}_restore_{os.getpid()}"

    async def admin(statement: str) -> None:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    try:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # not reachable, or not allowed to create a database
        pytest.skip(f"cannot create a PostgreSQL database to restore into ({exc.__class__.__name__}: {exc})")
    yield url.set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))


def test_the_backup_is_documented_json_lines(backup: tuple[str, Path]) -> None:
    _, path = backup
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    header = lines[0]
    assert (header["format"], header["version"]) == (FORMAT, VERSION)
    assert header["schema"] and header["written_at"] == NOW.isoformat()
    assert header["tables"] == [t.name for t in tables()]
    assert lines[-1] == {"end": True, "tables": len(tables()), "rows": len(lines) - 2 - len(tables())}
    section = next(i for i, line in enumerate(lines) if line.get("table") == "progress_update")
    updates = lines[section + 1 : section + 1 + lines[section]["rows"]]
    note = next(row for row in updates if row["comment"] == NOTE)
    assert note["created_at"] == "2026-11-23T10:00:00+00:00"  # UTC, with its offset
    assert (note["rag"], note["source"], note["author_name"]) == ("amber", "chat", "Fiona McLeod")  # enums by value
    assert [row["withdraws_id"] for row in updates if row["withdraws_id"]] != []
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # it holds personal data


def test_restore_reproduces_every_table_row_by_row(backup: tuple[str, Path], empty_url: str) -> None:
    source, path = backup
    result = planbot(empty_url)("restore", str(path))
    assert result.exit_code == 0, result.output
    assert "NCSCP: 1 plan(s), 13 objectives, 30 actions" in result.output

    before, after = asyncio.run(contents(source)), asyncio.run(contents(empty_url))
    assert {name for name, rows in before.items() if rows} >= USED
    assert list(after) == list(before)
    for name in before:
        assert after[name] == before[name], name

    # Ids carry on after the highest restored one (PostgreSQL's sequences were moved on).
    async def one_more() -> int:
        database = Database(empty_url)
        try:
            async with database.transaction() as session:
                update = await add_update(session, await action(session, "NSCP", "1.1"), Rag.GREEN, "On track", NOW)
                return update.id
        finally:
            await database.dispose()

    assert asyncio.run(one_more()) == max(row[0] for row in before["progress_update"]) + 1


def test_restore_refuses_a_database_that_holds_anything(backup: tuple[str, Path]) -> None:
    source, path = backup
    result = planbot(source)("restore", str(path))
    assert result.exit_code == 1
    assert "a backup is restored only into an empty database, and this one holds rows:" in result.output
    assert "partnership (2)" in result.output
    assert "Point DATABASE_URL at a new database" in result.output
    assert "Traceback" not in result.output


def edited(path: Path, tmp_path: Path, change: Callable[[list[str]], list[str]]) -> Path:
    out = tmp_path / "edited.jsonl"
    out.write_text("".join(f"{line}\n" for line in change(path.read_text(encoding="utf-8").splitlines())))
    return out


def with_schema(schema: str) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        return [json.dumps({**json.loads(lines[0]), "schema": schema}), *lines[1:]]

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (with_schema("9999_from_the_future"), "newer than this Plan Tracker's"),
        (with_schema("0004"), "older than this Plan Tracker's"),
        (lambda lines: lines[:-40], "the file is cut short"),
        (lambda lines: ['{"format": "something else"}', *lines[1:]], "is not a Plan Tracker backup"),
    ],
)
def test_restore_refuses_a_backup_it_cannot_reproduce(
    backup: tuple[str, Path], tmp_path: Path, change: Callable[[list[str]], list[str]], message: str
) -> None:
    _, path = backup
    target = tmp_path / "empty.db"
    result = planbot(f"sqlite:///{target}")("restore", str(edited(path, tmp_path, change)))
    assert result.exit_code == 1, result.output
    assert message in result.output
    if "older" in message:
        assert "planbot db upgrade" in result.output

    async def partnerships() -> int:
        database = Database(f"sqlite:///{target}")
        try:
            async with database.transaction() as session:
                return int(await session.scalar(text("SELECT count(*) FROM partnership")) or 0)
        except Exception:  # a refused file leaves no database at all
            return 0
        finally:
            await database.dispose()

    assert asyncio.run(partnerships()) == 0


def test_a_table_into_an_empty_database_says_to_restore_or_import_the_plan_first(tmp_path: Path) -> None:
    source = planbot(f"sqlite:///{tmp_path / 'source.db'}")
    source("demo")
    table = tmp_path / "ncscp.xlsx"
    assert source("export", "--partnership", "NCSCP", "--format", "xlsx", "--out", str(table)).exit_code == 0

    empty = planbot(f"sqlite:///{tmp_path / 'empty.db'}")
    result = empty("import", str(table), "--partnership", "NCSCP")
    assert result.exit_code == 1
    assert "this database has no partnership called 'NCSCP' (it has: none)" in result.output
    assert "Restore a backup first (planbot restore FILE) or import NCSCP's plan file" in result.output
    assert "Traceback" not in result.output

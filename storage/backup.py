"""The whole database as one file, and back: `planbot backup` and `planbot restore`.

Every table of the schema is written, whatever it holds, by walking the SQLAlchemy metadata: a table
added later is backed up and restored with no change here. The format (JSON Lines, versioned, with
the schema revision it was written at) is described in docs/backup-format.md.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Column, Date, DateTime, Enum, Integer, Table, func, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator, TypeEngine

from storage.db import Database
from storage.errors import PlanFileError
from storage.migrate import alembic_config
from storage.models import Base

FORMAT = "plan-tracker-backup"
VERSION = 1
ALEMBIC_TABLE = "alembic_version"
BATCH = 500


class BackupError(PlanFileError):
    """A backup that cannot be written or restored, with what to do about it."""


@dataclass(frozen=True)
class BackupSummary:
    schema: str
    tables: int
    rows: int
    written_at: str

    def describe(self) -> str:
        return f"{self.tables} tables, {self.rows} rows, schema {self.schema}, written {self.written_at}"


def tables() -> list[Table]:
    """Every table of the schema, each after the tables it refers to; not those derived from the
    others (the data version), which a database keeps for itself."""
    return [t for t in Base.metadata.sorted_tables if not t.info.get("derived")]


async def write_backup(database: Database, out: Path, now: datetime) -> BackupSummary:
    """Write every row of every table to `out`, read in one transaction (one consistent moment)."""
    async with database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            await _refuse_unknown_tables(connection)
            schema = await _schema_of(connection)
            written_at = now.isoformat()
            header = {"format": FORMAT, "version": VERSION, "schema": schema, "written_at": written_at}
            lines = [_line({**header, "tables": [t.name for t in tables()]})]
            total = 0
            for table in tables():
                rows = (await connection.execute(select(table).order_by(*table.primary_key.columns))).mappings()
                encoded = [_line({c.name: _encode(table, c, row[c.name]) for c in table.columns}) for row in rows]
                lines.append(
                    _line({"table": table.name, "columns": [c.name for c in table.columns], "rows": len(encoded)})
                )
                lines.extend(encoded)
                total += len(encoded)
    lines.append(_line({"end": True, "tables": len(tables()), "rows": total}))
    partial = out.with_name(out.name + ".partial")
    # The backup holds everything the database does, personal data included: readable by its owner only.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.writelines(lines)
    partial.replace(out)
    return BackupSummary(schema, len(tables()), total, written_at)


@dataclass
class Backup:
    """A backup file read and checked: its header and each table's rows, still encoded."""

    header: dict[str, Any]
    sections: dict[str, list[dict[str, Any]]]

    @property
    def rows(self) -> int:
        return sum(len(rows) for rows in self.sections.values())


def read_backup(path: Path) -> Backup:
    """Read a backup file; raises BackupError saying what is wrong with it."""
    try:
        lines = iter(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    try:
        header = json.loads(next(lines, "null"))
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BackupError(f"{path}: is not a Plan Tracker backup (it has no '{FORMAT}' header)")
        if header.get("version") != VERSION:
            raise BackupError(
                f"{path}: is a backup in format version {header.get('version')}; this Plan Tracker reads version "
                f"{VERSION}. Restore it with the Plan Tracker release that wrote it."
            )
        sections = _sections(path, lines)
    except json.JSONDecodeError as exc:
        raise BackupError(f"{path}: line {exc.lineno} is not JSON; the file is damaged") from None
    return Backup(header, sections)


def _sections(path: Path, lines: Iterator[str]) -> dict[str, list[dict[str, Any]]]:
    sections: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        section = json.loads(line)
        if section.get("end"):
            if section.get("rows") != sum(len(rows) for rows in sections.values()):
                raise BackupError(f"{path}: the row count at its end does not match its rows; the file is damaged")
            return sections
        rows = [json.loads(next(lines, "null")) for _ in range(int(section["rows"]))]
        if any(not isinstance(row, dict) for row in rows):
            raise BackupError(f"{path}: table {section['table']} ends early; the file is cut short")
        sections[section["table"]] = rows
    raise BackupError(f"{path}: has no end line; the file is cut short (was the backup interrupted?)")


async def restore_backup(database: Database, backup: Backup) -> BackupSummary:
    """Write `backup` into `database`, which must be migrated to this code's schema and hold no rows.

    Rows are inserted as they were, ids included, in one transaction; on PostgreSQL each table's id
    sequence then continues after the highest id restored.
    """
    _check_schema(database, backup.header["schema"])
    known = {t.name: t for t in tables()}
    unknown = sorted(set(backup.sections) - set(known))
    if unknown:
        raise BackupError(f"the backup holds tables this Plan Tracker does not know: {', '.join(unknown)}")
    async with database.transaction() as session:
        connection = await session.connection()
        await _refuse_rows(connection)
        for table in tables():
            rows = [_decoded(table, row) for row in backup.sections.get(table.name, [])]
            for start in range(0, len(rows), BATCH):
                await connection.execute(insert(table), rows[start : start + BATCH])
        if connection.dialect.name == "postgresql":
            await _continue_sequences(connection)
    return BackupSummary(backup.header["schema"], len(backup.sections), backup.rows, backup.header["written_at"])


def _check_schema(database: Database, schema: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(database.url))
    head = scripts.get_current_head()
    if schema == head:
        return
    try:
        known = scripts.get_revision(schema) is not None
    except Exception:  # alembic raises several kinds for a revision it does not have
        known = False
    if known:
        raise BackupError(
            f"the backup is of schema {schema}, older than this Plan Tracker's ({head}). Restore it with the "
            f"Plan Tracker release that wrote it, into an empty database; then install this release and run "
            f"`planbot db upgrade`, which brings the restored database to {head}."
        )
    raise BackupError(
        f"the backup is of schema {schema}, newer than this Plan Tracker's ({head}): it was written by a later "
        "release. Upgrade Plan Tracker to that release (or later), then restore it."
    )


async def _schema_of(connection: AsyncConnection) -> str:
    revision = await connection.scalar(text(f"SELECT version_num FROM {ALEMBIC_TABLE}"))
    if revision is None:
        raise BackupError("the database has no schema revision; run `planbot db upgrade` first")
    return str(revision)


async def _refuse_unknown_tables(connection: AsyncConnection) -> None:
    names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    unknown = sorted(set(names) - {t.name for t in Base.metadata.sorted_tables} - {ALEMBIC_TABLE})
    if unknown:
        raise BackupError(
            f"the database has tables this Plan Tracker does not know ({', '.join(unknown)}), so a backup "
            "would leave them out; back it up with the Plan Tracker release that made them"
        )


async def _refuse_rows(connection: AsyncConnection) -> None:
    held = [f"{t.name} ({n})" for t in tables() if (n := await connection.scalar(select(func.count()).select_from(t)))]
    if held:
        raise BackupError(
            "a backup is restored only into an empty database, and this one holds rows: "
            + ", ".join(held)
            + ". Point DATABASE_URL at a new database (or a new SQLite file) and restore into that."
        )


async def _continue_sequences(connection: AsyncConnection) -> None:
    quote = connection.dialect.identifier_preparer.quote
    for table in tables():
        [*key] = table.primary_key.columns
        if len(key) != 1 or not isinstance(key[0].type, Integer) or key[0].autoincrement is False:
            continue
        name, column = quote(table.name), quote(key[0].name)
        await connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX({column}), 0) + 1, false) "
                f"FROM {name}"
            ),
            {"table": name, "column": key[0].name},
        )


def _line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def _kind(column: Column[Any]) -> TypeEngine[Any]:
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def _encode(table: Table, column: Column[Any], value: Any) -> Any:
    """A value as JSON: dates ISO 8601, instants ISO 8601 with their offset, enums by value."""
    if isinstance(value, enum.Enum):  # before str: the enums here are StrEnums
        return value.value
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise BackupError(f"{table.name}.{column.name} holds a time without a timezone; cannot back it up")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise BackupError(f"{table.name}.{column.name} holds a {type(value).__name__}, which a backup cannot hold")


def _decoded(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    columns = {c.name: c for c in table.columns}
    unknown = sorted(set(row) - set(columns))
    if unknown:
        raise BackupError(f"the backup's {table.name} rows have columns this Plan Tracker does not know: {unknown}")
    return {name: _decode(columns[name], value) for name, value in row.items()}


def _decode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    kind = _kind(column)
    if isinstance(kind, Enum) and kind.enum_class is not None:
        return kind.enum_class(value)
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    return value

"""A whole cycle with a note that identifies a child, end to end: posted (and kept on purpose) in
Teams, kept out of the channel's summary and out of every export, shown as written only once the
business unit clears it, redacted by its author, its author erased, and the lot backed up and
restored into an empty database, row for row."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import docx
import openpyxl
from click.testing import Result
from sqlalchemy import String, Text, select

from bot.privacy import REDACTED
from storage.backup import tables
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Action, Update
from tests.harness import Harness, ncscp_plan, teams_user
from tests.teams import Channel, card_of, card_texts
from tests.test_backup import contents, planbot

PLAN = ncscp_plan()
LIAM = teams_user(PLAN, "liam.foster@ncscp.example.org")  # chair of the Missing work group (5.3)
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")  # the business unit
MISSING = Channel("19:missing-cycle@thread.tacv2", "Missing")
NAME, PHONE = "Kayden Marsh", "07946 113 208"
NOTE = f"{NAME} (Year 8) missing twice in October; mum on {PHONE}; police return interviews done"


async def run(url: str, *args: str) -> Result:
    """`planbot ...` as the business unit runs it (the CLI runs its own event loop: in a thread here)."""
    return await asyncio.to_thread(planbot(url), *args)


async def backed_up_and_restored(url: str, folder: Path) -> str:
    """`planbot backup` of the database at `url`, then `planbot restore` into a new SQLite database
    in `folder`; that database's URL."""
    backup = folder / "plan.backup"
    written = await run(url, "backup", "--out", str(backup))
    assert written.exit_code == 0, written.output
    fresh = f"sqlite+aiosqlite:///{folder / 'restored.db'}"
    await upgrade(fresh)
    restored = await run(fresh, "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    return fresh


async def exported(folder: Path, url: str, fmt: str) -> str:
    out = folder / f"plan.{fmt}"
    result = await run(url, "export", "--partnership", "NCSCP", "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        with out.open(encoding="utf-8", newline="") as handle:
            return "\n".join(" ".join(row) for row in csv.reader(handle))
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(out).active
        assert sheet is not None
        return "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    document = docx.Document(str(out))
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


async def note_id(database: Database) -> int:
    async with database.transaction() as session:
        found = await session.scalar(
            select(Update.id).join(Action).where(Action.ref == "5.3", Update.comment.contains("police return"))
        )
        assert found is not None
        return int(found)


async def text_anywhere(url: str, needle: str) -> list[str]:
    """Every table and column whose text holds `needle`."""
    database = Database(url)
    found = []
    try:
        async with database.transaction() as session:
            for table in tables():
                for column in table.columns:
                    if isinstance(column.type, String | Text):
                        hit = await session.scalar(select(column).where(column.contains(needle)).limit(1))
                        if hit is not None:
                            found.append(f"{table.name}.{column.name}")
    finally:
        await database.dispose()
    return found


async def test_a_note_that_identifies_a_child_through_a_whole_cycle(
    bot: Harness, demo_db: Database, tmp_path: Path
) -> None:
    url = demo_db.url
    # In: warned, and kept on purpose by the lead.
    warned = card_texts(card_of(await bot.one(f"5.3 amber: {NOTE}", LIAM)))
    assert any("seems to contain" in t and "a name" in t and "a phone number" in t for t in warned), warned
    assert (await bot.one("save", LIAM))["text"].startswith("Saved: 5.3 is now Amber.")
    update_id = await note_id(demo_db)

    # Out, to a channel: the summary and its preview.
    bot.connector.channels = [MISSING]
    await bot.one("link this channel to the missing group", PRIYA, MISSING)
    preview = await bot.one("summary preview", LIAM, MISSING)
    assert NAME not in str(preview) and PHONE not in str(preview)
    assert any(REDACTED in t for t in card_texts(card_of(preview)))

    # Out, to files: CSV, XLSX and the DOCX paper.
    for fmt in ("csv", "xlsx", "docx"):
        text = await exported(tmp_path, url, fmt)
        assert NAME not in text and PHONE not in text, fmt
        assert REDACTED in text, fmt

    # The business unit clears the note: it leaves as written.
    cleared = await run(
        url,
        "notes",
        "clear",
        "--partnership",
        "NCSCP",
        "--update",
        str(update_id),
        "--reason",
        "checked with the DPO",
        "--by",
        PRIYA.email,
    )
    assert cleared.exit_code == 0, cleared.output
    assert NOTE in await exported(tmp_path, url, "csv")

    # Its author redacts it after all: the text is gone from the database, the record stays.
    await bot.one("redact my last update on 5.3", LIAM)
    done = await bot.one("it names a child after all", LIAM)
    assert done["text"].startswith("Redacted: ")
    assert await text_anywhere(url, NAME) == [] and await text_anywhere(url, PHONE) == []
    assert "[note redacted]" in await exported(tmp_path, url, "csv")

    # The author leaves: erased everywhere, the update kept as a former member of staff's.
    erased = await run(url, "people", "erase", LIAM.email, "--partnership", "NCSCP", "--by", PRIYA.email)
    assert erased.exit_code == 0, erased.output
    assert await text_anywhere(url, "Liam Foster") == []
    assert await text_anywhere(url, LIAM.email) == []
    async with demo_db.transaction() as session:
        kept = await session.get_one(Update, update_id)
        assert kept.author_name == "a former member of staff"

    # Backed up and restored into an empty database: every row as it was.
    fresh = await backed_up_and_restored(url, tmp_path)
    assert await contents(fresh) == await contents(url)
    assert await text_anywhere(fresh, NAME) == []

"""The bot's logs hold no note, no email address and no paper-link token, even with every logger at
DEBUG: through an update, a failed write, a paper link and the exports."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import select, text

from bot.paper import write_paper
from storage.db import Database
from storage.models import Update
from storage.plan_io import export_file
from storage.repositories import PartnershipRepository
from tests.harness import NOW, Harness, demo_database, ncscp_plan, start_harness, teams_user
from tests.teams import card_of

PLAN = ncscp_plan()
FIONA = teams_user(PLAN, "fiona.mcleod@ncscp.example.org")
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")
NOTE = "Kingfisher dip-sample agreed with the ward sisters"
FAILED_NOTE = "Heron returns chased with the designated nurse"


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[Keep]:
    """Every record of every logger, at DEBUG."""
    keep = Keep()
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    levels = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    logging.getLogger().addHandler(keep)
    try:
        yield keep
    finally:
        logging.getLogger().removeHandler(keep)
        for logger, level, disabled in levels:
            logger.setLevel(level)
            logger.disabled = disabled


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Harness]:
    database = await demo_database(tmp_path)
    try:
        async for harness in start_harness(database):
            yield harness
    finally:
        await database.dispose()


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record's message, its arguments and any exception with its traceback, as one text."""
    parts = []
    for record in records:
        parts += [record.getMessage(), repr(record.args), record.stack_info or ""]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
        parts.append(record.exc_text or "")
    return "\n".join(parts)


async def test_no_note_email_or_token_reaches_a_log(served: Harness, captured: Keep, tmp_path: Path) -> None:
    bot = served
    reply = await bot.one(f"4.2 amber: {NOTE}", FIONA)
    assert "Saved: 4.2 is now Amber" in str(reply)

    # A write that fails in the database: the turn apologises and logs the error, not the note.
    await _fail_updates(bot.database, True)
    try:
        failed = await bot.say(f"4.1 red: {FAILED_NOTE}", FIONA)
    finally:
        await _fail_updates(bot.database, False)
    assert failed, "the lead is told something went wrong"

    paper = card_of(await bot.one("BMG paper", PRIYA))
    path = urlparse(paper["actions"][0]["url"]).path
    token = path.removeprefix("/papers/")
    assert len(token) > 20
    assert (await bot.client.get(path)).status == 200

    async with bot.database.transaction() as session:
        await export_file(session, "NCSCP", tmp_path / "plan.csv")
        await export_file(session, "NCSCP", tmp_path / "plan.xlsx")
        ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
        await write_paper(session, ncscp, tmp_path / "paper.docx", NOW)
        stored = list(await session.scalars(select(Update.comment).where(Update.comment.in_([NOTE, FAILED_NOTE]))))
    assert stored == [NOTE]

    logged = everything_logged(captured.records)
    # The capture worked: the SQL, the failure and the paper request are all there.
    assert "INSERT INTO progress_update" in logged
    assert "injected failure" in logged
    assert "GET /papers/… HTTP" in logged
    for secret in (NOTE, FAILED_NOTE, FIONA.email, FIONA.email.lower(), token):
        assert secret not in logged, secret


async def _fail_updates(database: Database, fail: bool) -> None:
    async with database.transaction() as session:
        if fail:
            await session.execute(
                text(
                    "CREATE TRIGGER fail_updates BEFORE INSERT ON progress_update "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            )
        else:
            await session.execute(text("DROP TRIGGER fail_updates"))

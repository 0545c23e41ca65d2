"""The bot's logs hold no note, no email address and no paper-link token, even with every logger at
DEBUG: through an update, a failed write, a paper link and the exports; and through the records
commands (an import refused for identifying details, `planbot redact`, `planbot people erase`,
`planbot backup` and `restore`) and a scheduler run that posts a sub-group summary."""

from __future__ import annotations

import csv
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import select, text

from bot.paper import write_paper
from storage.db import Database
from storage.models import Action, Update
from storage.plan_io import export_file
from storage.repositories import PartnershipRepository
from tests.harness import NOW, Harness, demo_database, ncscp_plan, start_harness, teams_user
from tests.teams import card_of
from tests.test_privacy_cycle import backed_up_and_restored, run
from tests.test_scheduler import CDOP, RACHEL, SATURDAY, SUMMARY, scheduler, setup_cycle

PLAN = ncscp_plan()
FIONA = teams_user(PLAN, "fiona.mcleod@ncscp.example.org")
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")
NOTE = "Kingfisher dip-sample agreed with the ward sisters"
FAILED_NOTE = "Heron returns chased with the designated nurse"
CHILD, MUMS_PHONE = "Kayden Marsh", "07946 113 208"
CASE_NOTE = f"Panel reviewed {CHILD} (Year 8), missing twice; mum on {MUMS_PHONE}"
IMPORTED_NOTE = "Otter audit found NHS no. 943 476 5919 on a referral form"


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


async def test_records_commands_and_a_summary_run_log_no_note_or_email(
    served: Harness, captured: Keep, tmp_path: Path
) -> None:
    bot = served
    url = bot.database.url
    priya = PRIYA.email

    # A note that names a child, kept on purpose, then posted (redacted) in CDOP's summary by the scheduler.
    await setup_cycle(bot)
    bot.clock.instant = SATURDAY
    await bot.one(f"8.1 green: {CASE_NOTE}", RACHEL)
    assert (await bot.one("save", RACHEL))["text"].startswith("Saved: 8.1 is now Green.")
    bot.clock.instant = SUMMARY
    await scheduler(bot).run_once()
    [thread] = bot.connector.threads
    assert thread["channelData"]["channel"]["id"] == CDOP.id
    assert CHILD not in str(thread)

    # An import refused because a table's note seems to identify a child.
    table = tmp_path / "plan.csv"
    exported = await run(url, "export", "--partnership", "NCSCP", "--format", "csv", "--out", str(table))
    assert exported.exit_code == 0, exported.output
    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("Comment on Progress")
    rows[1][column] = IMPORTED_NOTE
    with table.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    refused = await run(url, "import", str(table), "--partnership", "NCSCP", "--by", priya)
    assert refused.exit_code != 0 and "seems to contain an NHS number" in refused.output, refused.output

    # `planbot redact`, then `planbot people erase` of the note's author.
    async with bot.database.transaction() as session:
        update_id = await session.scalar(
            select(Update.id).join(Action).where(Action.ref == "8.1", Update.comment == CASE_NOTE)
        )
    assert update_id is not None
    redacted = await run(
        url, "redact", "--partnership", "NCSCP", "--update", str(update_id), "--reason", "names a child", "--by", priya
    )
    assert redacted.exit_code == 0, redacted.output
    erased = await run(url, "people", "erase", RACHEL.email, "--partnership", "NCSCP", "--by", priya)
    assert erased.exit_code == 0, erased.output

    # `planbot backup` and `planbot restore` into an empty database.
    await backed_up_and_restored(url, tmp_path)

    logged = everything_logged(captured.records)
    # The capture worked: the summary's post, the redaction, the erasure and the restore's SQL are there.
    assert any(r.name == "bot.scheduler" for r in captured.records), "the run's report lines"
    assert "INSERT INTO note_review" in logged
    assert "UPDATE person" in logged
    assert "INSERT INTO audit_event" in logged
    for secret in (CASE_NOTE, CHILD, MUMS_PHONE, IMPORTED_NOTE, "943 476 5919", RACHEL.email, priya):
        assert secret not in logged, secret
        assert secret.lower() not in logged.lower(), secret

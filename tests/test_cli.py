"""`planbot` as the business unit runs it, against a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import Context, cli
from bot.clock import FixedClock
from bot.rules import Rag
from bot.settings import Settings
from tests.conftest import london

Run = Callable[..., Result]


@pytest.fixture
def planbot(tmp_path: Path) -> Run:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'plan.db'}")
    context = Context(settings, FixedClock(london(2026, 11, 23, 10)))

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=context, catch_exceptions=False)

    return run


def test_demo_loads_both_plans_once_and_says_what_it_loaded(planbot: Run) -> None:
    first = planbot("demo", "--rebase", "--if-empty")
    assert first.exit_code == 0, first.output
    assert (
        "imported NCSCP 'Business Plan 2019-22': 3 priorities, 13 objectives, 30 actions, 12 sub-groups" in first.output
    )
    assert "imported NSCP 'Business Plan 2023-27': 3 priorities, 11 objectives, 26 actions" in first.output
    assert "NCSCP: 1 plan(s), 13 objectives, 30 actions, 12 sub-groups, 9 BMG meetings" in first.output
    second = planbot("demo", "--rebase", "--if-empty")
    assert second.exit_code == 0
    assert "the database already holds plans; the demo was not loaded again" in second.output
    assert "NSCP: 1 plan(s), 11 objectives, 26 actions" in second.output


def test_import_of_a_bad_file_fails_with_a_message_and_writes_nothing(planbot: Run, tmp_path: Path) -> None:
    planbot("demo")
    bad = tmp_path / "plan.csv"
    bad.write_text("No.,What do we want to achieve?,How are we going to do it?\n1,Aim,Act\n", encoding="utf-8")
    result = planbot("import", str(bad), "--partnership", "NCSCP")
    assert result.exit_code == 1
    assert "Error: plan.csv: the heading row has no column for: Who will lead?" in result.output
    assert "Traceback" not in result.output
    export = planbot("export", "--partnership", "NCSCP", "--format", "csv", "--out", str(tmp_path / "x.csv"))
    assert "wrote 30 actions" in export.output


def test_export_then_import_the_table(planbot: Run, tmp_path: Path) -> None:
    planbot("demo")
    out = tmp_path / "ncscp.xlsx"
    exported = planbot("export", "--partnership", "ncscp", "--format", "xlsx", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert out.exists()
    imported = planbot("import", str(out), "--partnership", "NCSCP")
    assert imported.exit_code == 0, imported.output
    assert "30 actions" in imported.output
    assert "0 progress updates added" in imported.output


def test_export_checks_its_arguments(planbot: Run, tmp_path: Path) -> None:
    wrong = planbot("export", "--partnership", "NCSCP", "--format", "csv", "--out", str(tmp_path / "x.xlsx"))
    assert wrong.exit_code == 2
    assert "the file name should end in .csv" in wrong.output
    unknown = planbot("export", "--partnership", "NOPE", "--format", "csv", "--out", str(tmp_path / "x.csv"))
    assert unknown.exit_code == 1
    assert "no partnership called 'NOPE'" in unknown.output


def test_db_upgrade(planbot: Run) -> None:
    result = planbot("db", "upgrade")
    assert result.exit_code == 0
    assert "database is up to date" in result.output


def test_meetings(planbot: Run) -> None:
    planbot("demo", "--rebase")
    listed = planbot("meetings", "list", "--partnership", "NCSCP")
    assert "2026-11-30  Monday 30 November 2026  <- next" in listed.output
    added = planbot("meetings", "add", "2026-12-09", "--partnership", "NCSCP")
    assert added.output.strip() == "added the BMG on Wednesday 9 December 2026"
    again = planbot("meetings", "add", "2026-12-09", "--partnership", "NCSCP")
    assert again.output.strip() == "there is already a BMG on Wednesday 9 December 2026"
    assert "2026-12-09" in planbot("meetings", "list", "--partnership", "NCSCP").output
    removed = planbot("meetings", "remove", "2026-12-09", "--partnership", "NCSCP")
    assert removed.output.strip() == "removed the BMG on Wednesday 9 December 2026"
    missing = planbot("meetings", "remove", "2026-12-09", "--partnership", "NCSCP")
    assert missing.exit_code == 1
    assert "there is no BMG on Wednesday 9 December 2026 for NCSCP" in missing.output
    bad = planbot("meetings", "add", "9 December", "--partnership", "NCSCP")
    assert bad.exit_code == 2


def test_summaries_dry_run(planbot: Run) -> None:
    planbot("demo", "--rebase")
    result = planbot("summaries", "run", "--dry-run")
    assert result.exit_code == 0, result.output
    # Monday 23 November 10:00, a week before the BMG: the final nudges are due; nobody has installed
    # the bot yet, so each says where it could not go.
    assert "final_nudge to Rachel Dunmore (8.1): nowhere: Plan Tracker is not installed in Rachel Dunmore's Teams" in (
        result.output
    )


async def _propose(url: str, ref: str, revised: str) -> None:
    """Fiona (QA subgroup chair) proposes a revised date for `ref` on 20 November 2026."""
    from sqlalchemy import select

    from bot.rules import parse_due
    from storage.db import Database, async_url
    from storage.models import Person, Source, Update
    from tests.factories import action

    database = Database(async_url(url))
    try:
        async with database.transaction() as session:
            fiona = await session.scalar(select(Person).where(Person.email == "fiona.mcleod@ncscp.example.org"))
            assert fiona is not None
            due = parse_due(revised)
            target = await action(session, "NCSCP", ref)
            session.add(
                Update(
                    action_id=target.id,
                    rag=Rag.AMBER,
                    comment="Analyst starts in December; the report moves.",
                    created_at=london(2026, 11, 20, 9),
                    source=Source.CHAT,
                    author_id=fiona.id,
                    author_name=fiona.name,
                    revised_due_on=due.on,
                    revised_precision=due.precision,
                )
            )
    finally:
        await database.dispose()


def test_dates_list_and_accept(planbot: Run, tmp_path: Path) -> None:
    planbot("demo", "--rebase")
    assert planbot("dates", "list", "--partnership", "NCSCP").output == "no proposed dates are waiting for NCSCP\n"
    asyncio.run(_propose(f"sqlite:///{tmp_path / 'plan.db'}", "2.2", "2027-01"))
    listed = planbot("dates", "list", "--partnership", "NCSCP")
    assert (
        listed.output == "2.2  January 2027, to replace November 2026 (proposed by Fiona McLeod on 20 November 2026)\n"
    )
    who = planbot("dates", "accept", "2.2", "--partnership", "NCSCP")
    assert who.exit_code == 1
    assert "say who accepts it with --by EMAIL (the business unit: Gareth Lloyd" in who.output
    lead = planbot("dates", "accept", "2.2", "--partnership", "NCSCP", "--by", "fiona.mcleod@ncscp.example.org")
    assert lead.exit_code == 1 and "Only the business unit accepts revised dates" in lead.output
    done = planbot("dates", "accept", "2.2", "--partnership", "NCSCP", "--by", "PRIYA.SHAH@ncscp.example.org")
    assert done.exit_code == 0, done.output
    assert done.output.startswith("Accepted: 2.2's November 2026 milestone is now January 2027.")
    assert planbot("dates", "list", "--partnership", "NCSCP").output == "no proposed dates are waiting for NCSCP\n"
    again = planbot("dates", "accept", "2.2", "--partnership", "NCSCP", "--by", "priya.shah@ncscp.example.org")
    assert again.exit_code == 0
    assert "already accepted, by Priya Shah on 23 November 2026; nothing changed." in again.output

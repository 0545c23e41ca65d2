"""`planbot` as the business unit runs it, against a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from bot.cli import Context, cli
from bot.clock import FixedClock
from bot.demo import demo_files
from bot.rules import Rag
from bot.settings import Settings
from tests.conftest import london

Run = Callable[..., Result]


@pytest.fixture
def planbot(tmp_path: Path) -> Run:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'plan.db'}")
    context = Context(settings, FixedClock(london(2026, 11, 23, 10)), os_user="ops")

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


def dispatch_rows(tmp_path: Path) -> int:
    """Rows in the scheduler's table of claimed, sent and skipped messages, read beside the CLI."""
    with contextlib.closing(sqlite3.connect(tmp_path / "plan.db")) as connection:
        (count,) = connection.execute("SELECT count(*) FROM dispatch").fetchone()
    return int(count)


def test_summaries_preview_two_weeks_before_the_bmg_lists_the_nudges(planbot: Run, tmp_path: Path) -> None:
    planbot("demo", "--rebase")  # the next BMG is Monday 30 November 2026
    result = planbot("summaries", "preview", "--partnership", "NCSCP", "--at", "2026-11-16")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "At Monday 16 November 2026, 09:00 (Europe/London); a rehearsal: nothing is sent or recorded." in out
    assert "Next BMG: Monday 30 November 2026" in out
    assert "first nudge  Monday 16 November 2026, 09:00     runs now" in out
    assert "final nudge  Monday 23 November 2026, 09:00     not due yet" in out
    assert "summaries    Wednesday 25 November 2026, 09:00  not due yet" in out
    # CDOP's chair owes 8.1 (Green, last updated before the last BMG); nobody has installed the bot yet.
    assert "- nudge to Rachel Dunmore (8.1): cannot go, Plan Tracker is not installed in Rachel Dunmore's Teams" in out
    assert "    8.1 (Green): Delivery of CDOP subgroup's workplan." in out
    fiona = out.split("- nudge to Fiona McLeod (")[1].split("\n- ")[0]
    assert "3.2 (no update): Evaluate impact through the multi-agency audit programme" in fiona
    assert "4.1 (no update)" in fiona and "4.2 (no update)" in fiona
    assert "2.3" not in fiona, "complete (Blue): owes nothing"
    assert "Liam Foster" not in out, "his actions were updated after the last BMG"
    assert "summary for" not in out and "exception report to" not in out, "the summaries are not due yet"
    assert "Already done for the BMG on Monday 30 November 2026:\n- nothing yet" in out
    assert dispatch_rows(tmp_path) == 0, "a preview claims nothing"


def test_summaries_preview_five_days_before_shows_summaries_and_the_exception_report(
    planbot: Run, tmp_path: Path
) -> None:
    planbot("demo", "--rebase")
    out = planbot("summaries", "preview", "--partnership", "NCSCP", "--at", "2026-11-25").output
    assert "first nudge  Monday 16 November 2026, 09:00     replaced by the final nudge" in out
    assert "summaries    Wednesday 25 November 2026, 09:00  runs now" in out
    assert "- final_nudge to Rachel Dunmore (8.1): cannot go" in out
    assert "Last reminder: updates for the BMG on Monday 30 November, to Rachel Dunmore:" in out
    assert "- summary for CDOP: not posted, no channel is linked to CDOP (the exception report says so)" in out
    assert "CDOP: summary for the BMG on Monday 30 November 2026. 1 actions: 1 Green." in out
    assert "8.1 still Green: CDOP workplan on track." in out
    assert "- exception report to Priya Shah: cannot go, Plan Tracker is not installed in Priya Shah's Teams" in out
    report = next(line for line in out.splitlines() if "Exception report - " in line)
    assert "Red: 3.1, 10.2;" in report
    assert "no channel linked for: " in report and "CDOP" in report
    assert dispatch_rows(tmp_path) == 0


def test_summaries_preview_with_no_meeting_to_come(planbot: Run) -> None:
    planbot("demo", "--rebase")
    after = planbot("summaries", "preview", "--partnership", "NCSCP", "--at", "2030-01-01")
    assert after.exit_code == 0, after.output
    # The demo's last BMG (2022-03-09 in the plan) moved by as much as its next one (2019-11-13 to 2026-11-30).
    assert (
        "No BMG is set for NCSCP on or after Tuesday 1 January 2030 (the last was on Monday 26 March 2029), "
        "so nothing would be sent." in after.output
    )
    assert "Add the next one with: planbot meetings add YYYY-MM-DD --partnership NCSCP" in after.output
    before = planbot("summaries", "preview", "--partnership", "NCSCP", "--at", "2026-06-01T08:30")
    assert "This moment is in the past: the plan is read as it stands now" in before.output
    assert "Next BMG: Monday 27 July 2026 (no BMG before it)" in before.output
    assert "Nothing to send at this moment (first nudge: not due yet; final nudge: not due yet;" in before.output


def test_summaries_preview_refuses_what_it_cannot_read(planbot: Run) -> None:
    planbot("demo")
    unknown = planbot("summaries", "preview", "--partnership", "NOPE")
    assert unknown.exit_code == 1
    assert "Error: no partnership called 'NOPE' (known: NCSCP, NSCP)" in unknown.output
    assert "Traceback" not in unknown.output
    bad = planbot("summaries", "preview", "--partnership", "NCSCP", "--at", "next Monday")
    assert bad.exit_code == 2
    assert "'next Monday' is not a day (YYYY-MM-DD) or a day and time (YYYY-MM-DDTHH:MM)" in bad.output
    help_text = " ".join(planbot("summaries", "preview", "--help").output.split())
    assert "a day, YYYY-MM-DD, read as 09:00 Europe/London (PLANBOT_TIMEZONE) that day" in help_text


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


def test_import_by_an_operator_and_the_audit_log(planbot: Run, tmp_path: Path) -> None:
    planbot("demo")
    data = yaml.safe_load(next(p for p in demo_files() if p.name.startswith("ncscp")).read_text(encoding="utf-8"))
    data["people"] = [p for p in data["people"] if p["email"] != "emma.clarke@ncscp.example.org"]
    data["objectives"][0]["actions"][0]["description"] = "Reworded by the BMG"
    changed = tmp_path / "ncscp.yaml"
    changed.write_text(yaml.safe_dump(data), encoding="utf-8")
    unknown = planbot("import", str(changed), "--by", "nobody@ncscp.example.org")
    assert unknown.exit_code == 1 and "nobody in NCSCP has the email address nobody@ncscp.example.org" in unknown.output
    done = planbot("import", str(changed), "--by", "priya.shah@ncscp.example.org")
    assert done.exit_code == 0, done.output
    assert "changes: descriptions changed: 1.1; people removed (role revoked): Emma Clarke" in done.output
    planbot("meetings", "add", "2026-12-09", "--partnership", "NCSCP")
    log = planbot("audit", "--partnership", "NCSCP", "--since", "2026-11-01").output.splitlines()
    assert log[0].startswith("2026-11-23 10:00  import           planbot CLI (ops): imported ncscp-2019-22.yaml")
    assert log[-3:] == [
        "2026-11-23 10:00  import           Priya Shah: imported ncscp.yaml into 'Business Plan 2019-22': "
        "descriptions changed: 1.1; people removed (role revoked): Emma Clarke",
        "2026-11-23 10:00  person_removed   Priya Shah: Emma Clarke: no longer in the plan file: role revoked, "
        "Entra id cleared",
        "2026-11-23 10:00  meeting_added    planbot CLI (ops): added a BMG on 2026-12-09",
    ]
    assert planbot("audit", "--partnership", "NCSCP", "--since", "2026-11-24").output == (
        "nothing recorded for NCSCP since 2026-11-24\n"
    )


def note_ids(planbot: Run, ref: str) -> list[str]:
    return [
        line.split()[0]
        for line in planbot("notes", "list", "--partnership", "NCSCP", "--ref", ref).output.splitlines()
        if line[:6].strip().isdigit()
    ]


def test_notes_redact_and_clear(planbot: Run, tmp_path: Path) -> None:
    planbot("demo")
    from tests.harness import ncscp_plan

    ref = next(a.ref for o in ncscp_plan().objectives for a in o.actions if sum(1 for u in a.updates if u.comment) >= 2)
    listed = planbot("notes", "list", "--partnership", "NCSCP", "--ref", ref)
    assert listed.exit_code == 0, listed.output
    first, *_ = note_ids(planbot, ref)
    refused = planbot(
        "redact", "--partnership", "NCSCP", "--update", first, "--reason", "x", "--by", "emma.clarke@ncscp.example.org"
    )
    assert refused.exit_code == 1 and "neither wrote update" in refused.output
    done = planbot("redact", "--partnership", "NCSCP", "--update", first, "--reason", "names a family")
    assert done.output == f'redacted the note of update {first} on {ref}: it now reads "[note redacted]"\n'
    again = planbot("redact", "--partnership", "NCSCP", "--update", first, "--reason", "names a family")
    assert again.exit_code == 0 and "already redacted; nothing changed" in again.output
    with contextlib.closing(sqlite3.connect(tmp_path / "plan.db")) as connection:
        (comment,) = connection.execute("SELECT comment FROM progress_update WHERE id = ?", (int(first),)).fetchone()
        reviews = connection.execute("SELECT kind, by_name, reason FROM note_review").fetchall()
    assert comment == "[note redacted]"
    assert reviews == [("redacted", "planbot CLI (ops)", "names a family")]
    assert "[redacted]" in planbot("notes", "list", "--partnership", "NCSCP", "--ref", ref).output

    second = note_ids(planbot, ref)[1]
    cleared = planbot("notes", "clear", "--partnership", "NCSCP", "--update", second, "--reason", "no family named")
    assert cleared.output == f"cleared the note of update {second} on {ref}: it will be shown as written\n"
    assert (
        "already cleared"
        in planbot("notes", "clear", "--partnership", "NCSCP", "--update", second, "--reason", "again").output
    )
    wrong = planbot("notes", "clear", "--partnership", "NSCP", "--update", second, "--reason", "x")
    assert wrong.exit_code == 1 and f"NSCP has no update {second}" in wrong.output
    log = planbot("audit", "--partnership", "NCSCP").output
    assert f"note_redacted    planbot CLI (ops): redacted the note of update {first} on {ref}: names a family" in log
    assert f"note_cleared     planbot CLI (ops): cleared the note of update {second} on {ref}" in log


def test_people_erase_is_idempotent(planbot: Run, tmp_path: Path) -> None:
    planbot("demo")
    first = planbot("people", "erase", "tom.aldridge@ncscp.example.org", "--partnership", "NCSCP")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("erased: person ")
    with contextlib.closing(sqlite3.connect(tmp_path / "plan.db")) as connection:
        dump = "\n".join(connection.iterdump())
    assert "Tom Aldridge" not in dump and "tom.aldridge" not in dump.lower()
    second = planbot("people", "erase", "tom.aldridge@ncscp.example.org", "--partnership", "NCSCP")
    assert second.exit_code == 0
    assert "(already erased, or never there); nothing changed" in second.output
    erased = [
        line for line in planbot("audit", "--partnership", "NCSCP").output.splitlines() if "person_erased" in line
    ]
    assert len(erased) == 1


def test_retention_run(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'plan.db'}", retention_years=3)
    context = Context(settings, FixedClock(london(2026, 11, 23, 10)), os_user="ops")

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), obj=context, catch_exceptions=False)

    run("demo")  # NCSCP's plan ended on 31 March 2022, NSCP's runs to 2027
    dry = run("retention", "run", "--dry-run")
    assert dry.exit_code == 0, dry.output
    line, note = dry.output.splitlines()
    assert line.startswith("NCSCP 'Business Plan 2019-22' (ended Thursday 31 March 2022): would remove ")
    assert note == "a dry run: nothing was changed"
    assert "retention_run" not in run("audit", "--partnership", "NCSCP").output
    done = run("retention", "run")
    assert "removing" in done.output
    with contextlib.closing(sqlite3.connect(tmp_path / "plan.db")) as connection:
        kept = connection.execute(
            "SELECT count(*) FROM progress_update u JOIN action a ON a.id = u.action_id "
            "JOIN plan p ON p.id = a.plan_id WHERE p.title = 'Business Plan 2019-22' "
            "AND u.comment NOT IN ('', '[note removed under the retention policy]')"
        ).fetchone()[0]
        other = connection.execute(
            "SELECT count(*) FROM progress_update WHERE comment = '[note removed under the retention policy]'"
        ).fetchone()[0]
    assert kept == 0 and other > 0
    assert "retention_run" in run("audit", "--partnership", "NCSCP").output
    assert run("retention", "run").output == "no notes are due for removal under the 3-year retention policy\n"
    unset = Context(Settings(database_url=settings.database_url), context.clock, os_user="ops")
    off = CliRunner().invoke(cli, ["retention", "run"], obj=unset, catch_exceptions=False)
    assert off.output == "PLANBOT_RETENTION_YEARS is not set: every note is kept; nothing to do\n"

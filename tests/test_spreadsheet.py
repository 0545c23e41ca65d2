"""The plan table in XLSX and CSV: importing the layout partnerships use, refusing bad cells, exporting."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules import Due, Rag
from storage.errors import PlanFileError
from storage.export import plan_table
from storage.plan_io import export_file, import_file
from storage.planfile import PlanFile
from storage.repositories import PlanRepository, UpdateRepository, dues
from storage.spreadsheet import HEADINGS
from tests.conftest import london
from tests.factories import action, add_update, load, plan_of, row_counts

NOW = london(2019, 10, 1, 9)

# Objectives 2 to 4 of the NCSCP 2019-22 plan, as the printed table has them (one row per measure line).
SEED_ROWS = [
    (
        "2",
        "Thresholds across the spectrum of children's services are being applied in line with the Family "
        "Support Pathway by all agencies across the partnership.",
        "Request a report from Vulnerable Children and Families Services evaluating the impact of the Early Help "
        "Assessment process against the four quadrants of the Quality Assurance Framework.",
        "Children's QA subgroup",
        "Quarterly EHA report received by Children's QA subgroup",
        "June 2019 Oct 2019 Feb 2020",
        "",
        "",
    ),
    ("", "", "", "", "Children's QA subgroup report to BMG", "June 2019 Oct 2019 Feb 2020", "", ""),
    (
        "",
        "",
        "Monitor and evaluate the application of thresholds across the child's journey through the QA and PM framework",
        "Children's QA subgroup",
        "Children's QA subgroup report to OMG",
        "June 2019 Oct 2019 Feb 2020",
        "",
        "",
    ),
    (
        "",
        "",
        "Review the standard Board audit tool ensuring that this consistently captures information regarding "
        "the use of the Family Support Pathway in order to enable this to be fed back to the Partnership.",
        "Children's QA subgroup",
        "Use of standard tool in multi-agency audits",
        "June 2019",
        "",
        "",
    ),
    (
        "3",
        "Single agency whistle blowing arrangements and escalation procedures reflect the escalation process set "
        "out in the Family Support Pathway",
        "Ensure that all partner agencies have whistle blowing and escalation processes that reflects the principles "
        "of the Family Support Pathway and that there is a mechanism for ensuring compliance",
        "NCSCB Strategic Partnership Members",
        "Assurance reports received by BMG from individual agencies",
        "October 2019",
        "",
        "",
    ),
    (
        "",
        "",
        "Evaluate impact through the multi-agency audit programme",
        "Children's QA subgroup",
        "Children's QA subgroup report to OMG",
        "June 2019 Oct 2019 Feb 2020",
        "",
        "",
    ),
    (
        "4",
        "The needs of children who are privately fostered are recognised and that they receive appropriate and "
        "timely support",
        "Analyse numbers of private fostering arrangements and referral sources in order to develop a more informed "
        "hypothesis regarding professional and community understanding.",
        "Children's QA subgroup",
        "Report received by Children's QA subgroup",
        "Oct 2019",
        "",
        "",
    ),
    ("", "", "", "", "Children's QA subgroup report to BMG", "Feb 2020", "", ""),
    (
        "",
        "",
        "Scrutinise local practice to ensure that national indicator targets are met in relation to "
        "assessments and visiting timescales.",
        "Children's QA subgroup",
        "Report received by Children's QA subgroup",
        "Oct 2019",
        "",
        "",
    ),
    ("", "", "", "", "Children's QA subgroup report to BMG", "Feb 2019", "", ""),
    (
        "",
        "",
        "Support the work of childrens Integrated Services in ensuring that the partnership is fully informed "
        "of the criteria for private fostering.",
        "Learning and improvement sub group",
        "Comms and engagement report to BMG",
        "Feb 2020",
        "",
        "",
    ),
]


def xlsx(path: Path, rows: Sequence[Sequence[object]], headings: Sequence[str] = HEADINGS) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["NCSCP Business Plan 2019-22"])  # a title row above the table, as in the Word original
    sheet.append(list(headings))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def csv_file(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADINGS)
        writer.writerows(rows)
    return path


def with_cells(row_index: int, **cells: str) -> list[tuple[str, ...]]:
    rows = [list(r) for r in SEED_ROWS]
    for name, value in cells.items():
        rows[row_index][
            {"no": 0, "what": 1, "how": 2, "who": 3, "measure": 4, "when": 5, "comment": 6, "rag": 7}[name]
        ] = value
    return [tuple(r) for r in rows]


@pytest.fixture
async def ncscp_loaded(session: AsyncSession, ncscp: PlanFile) -> AsyncSession:
    await load(session, ncscp)
    return session


Maker = Callable[[Path, Sequence[Sequence[object]]], Path]


@pytest.mark.parametrize("maker", [xlsx, csv_file])
async def test_the_seed_table_imports(ncscp_loaded: AsyncSession, tmp_path: Path, maker: Maker) -> None:
    session = ncscp_loaded
    path = maker(tmp_path / ("seed.xlsx" if maker is xlsx else "seed.csv"), SEED_ROWS)
    report = await import_file(session, path, now=NOW, partnership="NCSCP", plan_title="Seed table")
    assert (report.objectives, report.actions, report.updates_added) == (3, 8, 0)

    partnership, _ = await plan_of(session, "NCSCP")
    plan = await PlanRepository(session).by_title(partnership, "Seed table")
    refs = [a.ref for a in await PlanRepository(session).actions(plan)]
    assert refs == ["2.1", "2.2", "2.3", "3.1", "3.2", "4.1", "4.2", "4.3"]
    eha = await PlanRepository(session).action(plan, "2.1")
    assert eha is not None
    assert eha.success_measure.splitlines() == [
        "Quarterly EHA report received by Children's QA subgroup",
        "Children's QA subgroup report to BMG",
    ]
    assert dues(eha) == [Due.month(2019, 6), Due.month(2019, 10), Due.month(2020, 2)] * 2
    assert eha.lead_subgroup_id is not None
    fostering = await PlanRepository(session).action(plan, "4.2")
    assert fostering is not None
    assert dues(fostering) == [Due.month(2019, 10), Due.month(2019, 2)]
    whistle = await PlanRepository(session).action(plan, "3.1")
    assert whistle is not None
    assert whistle.lead_text == "NCSCB Strategic Partnership Members"
    assert whistle.lead_subgroup_id is not None


async def test_progress_cells_become_updates_once(ncscp_loaded: AsyncSession, tmp_path: Path) -> None:
    session = ncscp_loaded
    rows = with_cells(0, comment="Q1 report received; analysis delayed to November", rag="Amber")
    path = xlsx(tmp_path / "progress.xlsx", rows)
    first = await import_file(session, path, now=NOW, partnership="NCSCP", plan_title="Seed table")
    again = await import_file(session, path, now=london(2019, 10, 2), partnership="NCSCP", plan_title="Seed table")
    assert (first.updates_added, again.updates_added) == (1, 0)
    partnership, _ = await plan_of(session, "NCSCP")
    plan = await PlanRepository(session).by_title(partnership, "Seed table")
    eha = await PlanRepository(session).action(plan, "2.1")
    assert eha is not None
    history = await UpdateRepository(session).history(eha.id)
    assert [(u.rag, u.comment, u.created_at) for u in history] == [
        (Rag.AMBER, "Q1 report received; analysis delayed to November", NOW)
    ]
    assert history[0].author_name == "import of progress.xlsx"


BAD_TABLES = [
    (with_cells(0, no="two"), "row 3, column A (No.): 'two' is not an objective number"),
    (
        with_cells(0, who="Nonexistent subgroup"),
        "row 3, column D (Who will lead?): the lead 'Nonexistent subgroup' is not a sub-group or person",
    ),
    (with_cells(0, when="Junly 2019"), "row 3, column F (When are we going to achieve this?): 'Junly' in"),
    (with_cells(0, when="next spring"), "could not read 'next spring' as dates"),
    (
        with_cells(0, comment="On track", rag="Purple"),
        "row 3, column H (RAG rating): 'Purple' is not a RAG rating; use one of Red, Amber, Green, Blue",
    ),
    (with_cells(0, comment="On track"), "row 3, column H (RAG rating): a Comment on Progress needs a RAG rating"),
    (
        with_cells(0, comment="x" * 2001, rag="Green"),
        "row 3, column G (Comment on Progress): the comment is 2001 characters; the limit is 2000",
    ),
    (
        with_cells(1, who="CDOP"),
        "row 4, column C (How are we going to do it?): a row continuing action 2.1 may only add",
    ),
    (with_cells(4, no="2"), "row 7, column A (No.): objective 2 appears twice"),
    (
        [("", "", "An action", "CDOP", "Report", "June 2019", "", "")],
        "row 3, column A (No.): the first row of the table needs an objective number",
    ),
    ([], "the table has headings but no objectives"),
]


@pytest.mark.parametrize(("rows", "message"), BAD_TABLES)
async def test_a_bad_table_is_refused_with_row_and_column(
    ncscp_loaded: AsyncSession, tmp_path: Path, rows: list[tuple[str, ...]], message: str
) -> None:
    session = ncscp_loaded
    before = await row_counts(session)
    path = xlsx(tmp_path / "bad.xlsx", rows)
    with pytest.raises(PlanFileError) as caught:
        async with session.begin_nested():
            await import_file(session, path, now=NOW, partnership="NCSCP", plan_title="Seed table")
    assert str(caught.value).startswith("bad.xlsx")
    assert message in str(caught.value)
    assert await row_counts(session) == before


async def test_a_table_without_the_headings_is_refused(ncscp_loaded: AsyncSession, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "wrong.xlsx", SEED_ROWS, headings=["No.", "Objective", "How are we going to do it?"])
    with pytest.raises(
        PlanFileError, match=re.escape("the heading row has no column for: What do we want to achieve?")
    ):
        await import_file(ncscp_loaded, path, now=NOW, partnership="NCSCP")
    path = xlsx(tmp_path / "none.xlsx", SEED_ROWS, headings=["Ref", "Text"])
    with pytest.raises(PlanFileError, match=re.escape("no heading row found; the table needs the columns: No. | What")):
        await import_file(ncscp_loaded, path, now=NOW, partnership="NCSCP")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.xlsx", b"this is not a workbook", "is not a readable XLSX workbook"),
        ("latin.csv", "No.,What\n1,Caf\xe9".encode("latin-1"), "is not UTF-8 text; save the CSV as UTF-8"),
        ("plan.docx", b"", "not a plan file this can read; use .yaml, .xlsx or .csv"),
    ],
)
async def test_files_that_are_not_tables(
    ncscp_loaded: AsyncSession, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PlanFileError, match=message):
        await import_file(ncscp_loaded, path, now=NOW, partnership="NCSCP")


async def test_a_table_needs_a_partnership_that_exists(ncscp_loaded: AsyncSession, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "seed.xlsx", SEED_ROWS)
    with pytest.raises(PlanFileError, match="say which partnership"):
        await import_file(ncscp_loaded, path, now=NOW)
    with pytest.raises(PlanFileError, match="no partnership called 'XYZ' \\(it has: NCSCP\\)") as caught:
        await import_file(ncscp_loaded, path, now=NOW, partnership="XYZ")
    assert "Restore a backup first (planbot restore FILE) or import XYZ's plan file" in str(caught.value)


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
async def test_export_round_trips_through_import(ncscp_loaded: AsyncSession, tmp_path: Path, suffix: str) -> None:
    session = ncscp_loaded
    out = tmp_path / f"bmg.{suffix}"
    written = await export_file(session, "NCSCP", out)
    assert written == 30
    partnership, original = await plan_of(session, "NCSCP")
    await import_file(session, out, now=NOW, partnership="NCSCP", plan_title="Round trip")
    copy = await PlanRepository(session).by_title(partnership, "Round trip")
    assert [r.cells for r in await plan_table(session, copy)] == [r.cells for r in await plan_table(session, original)]

    # Importing the exported table onto the plan it came from changes nothing and adds no update.
    before = await row_counts(session)
    report = await import_file(session, out, now=NOW, partnership="NCSCP")
    assert (report.actions, report.updates_added, report.archived) == (30, 0, [])
    assert await row_counts(session) == before


async def test_export_shows_the_latest_comment_and_a_coloured_rag(ncscp_loaded: AsyncSession, tmp_path: Path) -> None:
    session = ncscp_loaded
    target = await action(session, "NCSCP", "4.2")
    await add_update(session, target, Rag.RED, "Report to QA subgroup not received", london(2019, 10, 30, 9))
    out = tmp_path / "bmg.xlsx"
    await export_file(session, "NCSCP", out)
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADINGS
    row_number, row = next(
        (i, r) for i, r in enumerate(rows, start=1) if r[2] and str(r[2]).startswith("Scrutinise local")
    )
    assert row[6:] == ("Report to QA subgroup not received", "Red")
    assert sheet.cell(row=row_number, column=8).fill.start_color.rgb.endswith("E06666")
    assert row[5] == "October 2019"
    assert rows[row_number][4:6] == ("Children's QA subgroup report to BMG", "February 2019")


async def test_a_comment_that_identifies_a_child_is_refused_and_named(
    ncscp_loaded: AsyncSession, tmp_path: Path
) -> None:
    session = ncscp_loaded
    rows = with_cells(0, comment="Audit found J. Smith's NHS no. 943 476 5919 on a referral form", rag="Amber")
    path = xlsx(tmp_path / "progress.xlsx", rows)
    before = await row_counts(session)
    with pytest.raises(PlanFileError) as refused:
        async with session.begin_nested():
            await import_file(session, path, now=NOW, partnership="NCSCP", plan_title="Seed table")
    assert "action 2.1, Comment on Progress: seems to contain an NHS number" in str(refused.value)
    assert "943 476 5919" not in str(refused.value)
    assert await row_counts(session) == before
    kept = await import_file(
        session, path, now=NOW, partnership="NCSCP", plan_title="Seed table", allow_identifying=True
    )
    assert kept.updates_added == 1

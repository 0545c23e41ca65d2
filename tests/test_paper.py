"""The BMG paper as DOCX: the exceptions the chair reads first, then the plan table the exports write."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from sqlalchemy.ext.asyncio import AsyncSession

from bot.paper import PaperSummary, write_paper
from bot.rules import Due, Rag
from bot.views import Snapshot, load_snapshot
from storage.export import plan_table
from storage.models import Source, Update
from storage.planfile import PlanFile
from storage.repositories import UpdateRepository, dues
from storage.spreadsheet import HEADINGS, RAG, RAG_FILLS, TableRow
from tests.conftest import london
from tests.factories import action, add_update, load, person, plan_of

# After the demo's last update (30 October 2019) and before the BMG of Wednesday 13 November 2019;
# the BMG before that was on 10 July 2019.
NOW = london(2019, 11, 4, 9)
RED_NOTE = "Threshold dip-sample paused: no analyst until January. Asking BMG to agree interim cover."
NO_UPDATE = "No update since the last BMG"


@dataclass
class Paper:
    document: DocumentObject
    summary: PaperSummary
    snapshot: Snapshot
    rows: list[TableRow]
    path: Path


async def written(session: AsyncSession, path: Path, now: datetime = NOW) -> Paper:
    partnership, plan = await plan_of(session, "NCSCP")
    summary = await write_paper(session, partnership, path, now)
    return Paper(
        document=Document(str(path)),
        summary=summary,
        snapshot=await load_snapshot(session, partnership, now),
        rows=await plan_table(session, plan),
        path=path,
    )


@pytest.fixture
async def paper(session: AsyncSession, ncscp: PlanFile, tmp_path: Path) -> Paper:
    """The NCSCP paper, after Fiona McLeod rated 2.2 Red (it was Green in June, so it had no update since July)."""
    await load(session, ncscp)
    fiona = await person(session, "fiona.mcleod@ncscp.example.org")
    await add_update(session, await action(session, "NCSCP", "2.2"), Rag.RED, RED_NOTE, NOW - timedelta(days=3), fiona)
    return await written(session, tmp_path / "bmg.docx")


def under_headings(document: DocumentObject) -> dict[str, list[Paragraph | Table]]:
    """Each heading's text with the paragraphs and tables that follow it, up to the next heading."""
    found: dict[str, list[Paragraph | Table]] = {"": []}
    current = ""
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph) and block.style is not None and block.style.name.startswith("Heading"):
            current = block.text
            found[current] = []
        elif not isinstance(block, Paragraph) or block.text.strip():
            found[current].append(block)
    return found


def cells(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def only_table(blocks: list[Paragraph | Table]) -> Table:
    tables = [b for b in blocks if isinstance(b, Table)]
    assert len(tables) == 1, blocks
    return tables[0]


def refs_listed(sections: dict[str, list[Paragraph | Table]], heading: str) -> list[str]:
    """The refs in a section's table, or none when the section says "None."."""
    blocks = sections[heading]
    if not any(isinstance(b, Table) for b in blocks):
        assert [b.text for b in blocks if isinstance(b, Paragraph)][-1] == "None."
        return []
    rows = cells(only_table(blocks))
    assert rows[0] == ["Ref", "Action", "Lead", "Latest note"]
    return [row[0] for row in rows[1:]]


def fill(cell: _Cell) -> str | None:
    properties = cell._tc.tcPr
    shading = properties.find(qn("w:shd")) if properties is not None else None
    return shading.get(qn("w:fill")) if shading is not None else None


def expected_exceptions(snapshot: Snapshot) -> dict[str, list[str]]:
    """The kinds of exception by the rules' words: Red, Amber, the last milestone passed and not Blue,
    a milestone passed with no report, no update."""
    actions = snapshot.actions
    today = NOW.date()
    return {
        "Red": [a.ref for a in actions if a.rag is Rag.RED],
        "Amber": [a.ref for a in actions if a.rag is Rag.AMBER],
        "Overdue": [a.ref for a in actions if a.rag is not Rag.BLUE and a.dues and max(d.on for d in a.dues) < today],
        "Missed reports": [a.ref for a in actions if a.missed],
        NO_UPDATE: [a.ref for a in actions if a.missing],
    }


async def test_the_heading_names_the_partnership_plan_and_meeting(paper: Paper) -> None:
    first = [p.text for p in paper.document.paragraphs[:3]]
    assert first == [
        "Nottingham City Safeguarding Children Partnership: Business Plan 2019-22",
        "Business Management Group, Wednesday 13 November 2019",
        "Prepared Monday 4 November 2019 from the updates leads posted in Teams.",
    ]
    assert paper.summary.meeting == date(2019, 11, 13)
    section = paper.document.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert section.page_width > section.page_height  # landscape
    assert paper.document.core_properties.title.startswith("Nottingham City Safeguarding Children Partnership")


async def test_the_exceptions_come_before_the_plan(paper: Paper) -> None:
    headings = [re.sub(r" \(\d+\)$", "", h) for h in under_headings(paper.document) if h]
    assert headings == ["Exceptions", "Red", "Amber", "Overdue", "Missed reports", NO_UPDATE, "The plan"]


async def test_the_plan_table_is_the_exported_table(paper: Paper) -> None:
    sections = under_headings(paper.document)
    table = only_table(sections["The plan"])
    rows = cells(table)
    assert rows[0] == list(HEADINGS)
    assert rows[1:] == [list(r.cells) for r in paper.rows]
    assert sum(1 for r in rows[1:] if r[2]) == len(paper.snapshot.actions) == 30
    assert table.rows[0]._tr.trPr is not None
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # repeated on every page


async def test_every_rag_cell_is_shaded_in_its_colour_and_says_its_word(paper: Paper) -> None:
    body = only_table(under_headings(paper.document)["The plan"]).rows[1:]
    rated = paper.snapshot.action("2.2")
    assert rated is not None
    red = next(row.cells[RAG] for row in body if row.cells[2].text == rated.description)
    assert red.text == "Red"
    shade = fill(red)
    assert shade is not None
    r, g, b = (int(shade[i : i + 2], 16) for i in (0, 2, 4))
    assert r > 2 * g and r > 2 * b  # red, not merely some colour
    for row in body:
        word = row.cells[RAG].text
        assert fill(row.cells[RAG]) == (RAG_FILLS[Rag.parse(word)] if word else None), row.cells[0].text


async def test_the_exceptions_list_the_right_actions(paper: Paper) -> None:
    sections = under_headings(paper.document)
    expected = expected_exceptions(paper.snapshot)
    for title, refs in expected.items():
        assert refs_listed(sections, f"{title} ({len(refs)})") == refs, title
    # By hand from the demo plan: 3.1 went Red on 9 October and its only milestone was October 2019;
    # 3.2 has never had an update, but its milestones run to February 2020; 2.3 is Blue (complete), so it
    # is neither overdue nor owed an update; 2.2 reported in June, then nothing until the fixture's Red
    # update on 1 November (for February), so its October report is missing.
    assert {"2.2", "3.1"} <= set(expected["Red"])
    assert "3.1" in expected["Overdue"]
    assert "3.2" in expected[NO_UPDATE] and "3.2" not in expected["Overdue"]
    assert "2.3" not in expected["Overdue"] + expected[NO_UPDATE] + expected["Missed reports"]
    assert "2.2" not in expected["Overdue"] and "2.2" not in expected[NO_UPDATE]
    red_rows = cells(only_table(sections[f"Red ({len(expected['Red'])})"]))
    note = next(row[3] for row in red_rows if row[0] == "2.2")
    assert note == f"{RED_NOTE}\nRed, Fiona McLeod, 1 November 2019"
    overdue_rows = cells(only_table(sections[f"Overdue ({len(expected['Overdue'])})"]))
    action_cells = {row[0]: row[1] for row in overdue_rows}
    assert action_cells["3.1"].endswith("\nOverdue since October 2019, 3 days")  # 1 November 00:00 to 4th 09:00
    missed_rows = cells(only_table(sections[f"Missed reports ({len(expected['Missed reports'])})"]))
    missed_cells = {row[0]: row[1] for row in missed_rows}
    assert missed_cells["3.2"].endswith("\nJune 2019 and October 2019 reports missing")
    assert missed_cells["2.2"].endswith("\nOctober 2019 report missing")
    missing_rows = cells(only_table(sections[f"{NO_UPDATE} ({len(expected[NO_UPDATE])})"]))
    assert next(row[3] for row in missing_rows if row[0] == "3.2") == "No update yet."
    assert not [h for h in sections if h.startswith("Proposed date changes")]


async def test_the_summary_counts_what_the_paper_lists(paper: Paper) -> None:
    expected = expected_exceptions(paper.snapshot)
    assert paper.summary == PaperSummary(
        meeting=date(2019, 11, 13),
        actions=30,
        red=len(expected["Red"]),
        amber=len(expected["Amber"]),
        overdue=len(expected["Overdue"]),
        missing=len(expected[NO_UPDATE]),
        missed=len(expected["Missed reports"]),
    )
    assert paper.summary.describe().startswith("the BMG on Wednesday 13 November 2019: 30 actions,")


async def test_proposed_dates_are_listed_beside_the_milestones(
    session: AsyncSession, ncscp: PlanFile, tmp_path: Path
) -> None:
    await load(session, ncscp)
    target = await action(session, "NCSCP", "5.1")
    revised = Due.month(2020, 3)
    await UpdateRepository(session).append(
        Update(
            action_id=target.id,
            rag=Rag.AMBER,
            comment="Disruption data late from the police",
            created_at=NOW,
            source=Source.CHAT,
            revised_due_on=revised.on,
            revised_precision=revised.precision,
        )
    )
    paper = await written(session, tmp_path / "bmg.docx")
    milestones = ", ".join(dict.fromkeys(d.label for d in dues(target)))
    table = only_table(under_headings(paper.document)["Proposed date changes (1)"])
    assert cells(table) == [["Ref", "Milestones", "Proposed new date"], ["5.1", milestones, "March 2020"]]


async def test_without_a_next_bmg_the_paper_shows_progress_today(
    session: AsyncSession, ncscp: PlanFile, tmp_path: Path
) -> None:
    await load(session, ncscp)
    later = london(2022, 4, 6, 9)  # after the demo's last BMG, 9 March 2022
    partnership, _ = await plan_of(session, "NCSCP")
    for view in (await load_snapshot(session, partnership, later)).actions:
        if view.rag is Rag.RED:
            await add_update(session, await action(session, "NCSCP", view.ref), Rag.GREEN, "Resolved", later)
    paper = await written(session, tmp_path / "bmg.docx", later)
    assert paper.document.paragraphs[1].text == "Business Management Group, progress at Wednesday 6 April 2022"
    assert (paper.summary.meeting, paper.summary.red) == (None, 0)
    assert refs_listed(under_headings(paper.document), "Red (0)") == []


async def test_text_pasted_from_word_does_not_break_the_paper(
    session: AsyncSession, ncscp: PlanFile, tmp_path: Path
) -> None:
    """Word copies a manual line break as \\v, which XML cannot hold; the note keeps its line break."""
    await load(session, ncscp)
    await add_update(session, await action(session, "NCSCP", "4.1"), Rag.RED, "Line one\x0bline two\x01", NOW)
    paper = await written(session, tmp_path / "bmg.docx")
    rows = cells(only_table(under_headings(paper.document)["The plan"]))
    assert next(row[6] for row in rows if row[0] == "4") == "Line one\nline two"


@pytest.mark.skipif(
    shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdfinfo, pdftotext) is not installed, so the PDF is not read here",
)
# The closest mark is checked first: without LibreOffice, that is the reason given.
@pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("lowriter") is None,
    reason="LibreOffice Writer is not installed (make test installs Calc only), so the DOCX is not made a PDF here",
)
async def test_the_paper_converts_to_a_readable_pdf(paper: Paper, tmp_path: Path) -> None:
    profile = tmp_path / "libreoffice-profile"  # a profile of its own, so a running LibreOffice does not interfere
    command = ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf"]
    await asyncio.to_thread(
        subprocess.run, [*command, "--outdir", str(tmp_path), str(paper.path)], check=True, timeout=180
    )
    pdf = tmp_path / "bmg.pdf"
    info = await asyncio.to_thread(subprocess.run, ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    found = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.MULTILINE)
    assert found is not None
    pages = int(found[1])
    assert pages >= 2  # the exceptions, then the plan on a page of its own
    text = await asyncio.to_thread(
        subprocess.run, ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    words = " ".join(text.stdout.split())
    for expected in (
        "Nottingham City Safeguarding Children Partnership: Business Plan 2019-22",
        "Business Management Group, Wednesday 13 November 2019",
        "Exceptions",
        "The plan",
        f"Page 1 of {pages}",
        f"Page {pages} of {pages}",
    ):
        assert expected in words

"""The BMG paper: the exception report and the whole plan table as a Word document.

The BMG chair reads exceptions first (Red, Amber, overdue, missed reports, no update, proposed dates) and the
plan after them. The plan table is the same rows the XLSX and CSV exports write
(`storage.export.plan_table`), so the three never disagree; the exceptions use the same rules as
the exception report posted in Teams (`bot.summaries.exceptions`). A RAG rating is always its word
in a shaded cell, never colour alone, so the paper reads the same printed in black and white.

Notes are printed as they may leave the bot (`storage.export.notes_as_sent`): identifying details
removed unless the business unit cleared the note. Everything a person wrote is plain text in the
document, never a field Word or LibreOffice would compute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from weakref import WeakKeyDictionary

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Length, Mm, Pt, RGBColor
from docx.table import Table, _Cell, _Row
from docx.text.paragraph import Paragraph
from sqlalchemy.ext.asyncio import AsyncSession

from bot import cards
from bot.messages import day
from bot.rules import Rag
from bot.summaries import MISSED, exceptions
from bot.views import ActionView, Snapshot, load_snapshot, missed, missing, overdue, with_rag
from storage.export import latest_notes, plan_table
from storage.models import Partnership
from storage.repositories import PlanRepository
from storage.spreadsheet import HEADINGS, RAG, RAG_FILLS, TableRow

FONT = "Arial"  # LibreOffice shows it as Liberation Sans, with the same metrics
MARGIN = Mm(15)
# Column widths in millimetres; each table fills the 267 mm between the margins of landscape A4.
PLAN_WIDTHS = (9, 40, 52, 27, 40, 24, 59, 16)
EXCEPTION_WIDTHS = (14, 95, 45, 113)
PROPOSED_WIDTHS = (14, 150, 103)
HEADER_FILL = "D9D9D9"
MUTED = RGBColor(0x59, 0x59, 0x59)
# Characters XML 1.0 cannot hold; Word writes a manual line break as \v when text is pasted from it.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class PaperSummary:
    """What the paper holds, for the command line to say after writing it."""

    meeting: date | None
    actions: int
    red: int
    amber: int
    overdue: int
    missing: int
    missed: int = 0  # actions with a missed report

    def describe(self) -> str:
        when = f"the BMG on {day(self.meeting)}" if self.meeting else "no BMG meeting set"
        return (
            f"{when}: {self.actions} actions, {self.red} Red, {self.amber} Amber, {self.overdue} overdue, "
            f"{self.missed} with a missed report, {self.missing} with no update since the last BMG"
        )


async def write_paper(session: AsyncSession, partnership: Partnership, out: Path, now: datetime) -> PaperSummary:
    """Write the paper for the partnership's next BMG (or its progress today, if none is set) to `out`."""
    snapshot = await load_snapshot(session, partnership, now)
    rows = await plan_table(session, await PlanRepository(session).current(partnership))
    notes = await latest_notes(session, [a.id for a in snapshot.actions], snapshot.case_patterns)
    document = _document(snapshot, partnership.name, rows, notes)
    document.save(str(out))
    actions = snapshot.actions
    return PaperSummary(
        meeting=snapshot.next_bmg,
        actions=len(actions),
        red=len(with_rag(actions, Rag.RED)),
        amber=len(with_rag(actions, Rag.AMBER)),
        overdue=len(overdue(actions)),
        missing=len(missing(actions)),
        missed=len(missed(actions)),
    )


def _document(snapshot: Snapshot, name: str, rows: Sequence[TableRow], notes: Mapping[int, str]) -> DocumentObject:
    document = Document()
    _page_and_fonts(document)
    title = f"{name}: {snapshot.plan}"
    today = snapshot.now.astimezone(snapshot.tz).date()
    meeting = day(snapshot.next_bmg) if snapshot.next_bmg else f"progress at {day(today)}"
    _properties(document, title, snapshot.now)
    document.add_heading(_safe(title), level=0)
    document.add_paragraph(f"Business Management Group, {meeting}", style="Subtitle")
    _muted(document.add_paragraph(), f"Prepared {day(today)} from the updates leads posted in Teams.")
    _footer(document, f"{snapshot.partnership} {snapshot.plan}: Business Management Group, {meeting}")
    _exceptions(document, snapshot, notes)
    _plan(document, rows)
    return document


def _page_and_fonts(document: DocumentObject) -> None:
    """Landscape A4 with narrow margins: the plan has eight columns of prose."""
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, MARGIN)
    section.footer_distance = Mm(8)
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(10)
    for style in ("Title", "Subtitle", "Heading 1", "Heading 2"):
        document.styles[style].font.name = FONT
    document.styles["Title"].font.size = Pt(18)


def _properties(document: DocumentObject, title: str, now: datetime) -> None:
    """The file's own properties, so it does not claim python-docx's template as its author and date."""
    properties = document.core_properties
    properties.title = _safe(f"{title}: BMG paper")
    properties.author = properties.last_modified_by = "Plan Tracker"
    properties.created = properties.modified = now.astimezone(UTC)  # python-docx writes it as UTC as given
    properties.revision = 1


def _footer(document: DocumentObject, text: str) -> None:
    """Which paper this is and the page, on every page: a printed paper is passed round in pieces."""
    paragraph = document.sections[0].footer.paragraphs[0]
    _muted(paragraph, f"{text}. Page ")
    _field(paragraph, "PAGE")
    _muted(paragraph, " of ")
    _field(paragraph, "NUMPAGES")


def _field(paragraph: Paragraph, code: str) -> None:
    """A field Word and LibreOffice fill in as they lay the pages out (PAGE, NUMPAGES), in footer type."""
    for kind in ("begin", "instr", "end"):
        run = paragraph.add_run()
        run.font.size = Pt(8)
        run.font.color.rgb = MUTED
        if kind == "instr":
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {code} "
        else:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        run._r.append(element)


def _exceptions(document: DocumentObject, snapshot: Snapshot, notes: Mapping[int, str]) -> None:
    """What needs the BMG's attention, each kind in a table of its own, "None." when there is none."""
    document.add_heading("Exceptions", level=1)
    document.add_paragraph(_counts(snapshot.actions))
    explanations = {
        "Overdue": "The last milestone has passed and the action is not Blue (complete).",
        MISSED: "A milestone passed with no update posted for it (since the milestone before).",
        "No update since the last BMG": (
            f"The last BMG was on {day(snapshot.last_bmg)}." if snapshot.last_bmg else "There has been no BMG yet."
        ),
    }
    for title, actions in exceptions(snapshot).items():
        document.add_heading(f"{title} ({len(actions)})", level=2)
        if title in explanations:
            _muted(document.add_paragraph(), explanations[title]).paragraph_format.keep_with_next = True
        _exception_table(document, actions, title, notes)
    _proposed(document, [a for a in snapshot.actions if a.proposed])


def _exception_table(
    document: DocumentObject, actions: Sequence[ActionView], title: str, notes: Mapping[int, str]
) -> None:
    """One kind of exception; for overdue actions since when, for missed reports which ones."""
    if not actions:
        document.add_paragraph("None.")
        return
    table = _table(document, ("Ref", "Action", "Lead", "Latest note"), EXCEPTION_WIDTHS)
    for action in actions:
        row = _add_row(table)
        _keep_whole(row)
        _text(row.cells[0], action.ref)
        _text(row.cells[1], action.description)
        if title == "Overdue":
            _muted(row.cells[1].add_paragraph(), f"Overdue {cards.late(action)}")
        if title == MISSED:
            _muted(row.cells[1].add_paragraph(), cards.missed_text(action))
        _text(row.cells[2], action.lead)
        _latest(row.cells[3], action, notes)


def _counts(actions: Sequence[ActionView]) -> str:
    """One line of RAG counts, worst first, so the chair sees the shape of the plan at a glance."""
    counted = [(cards.rag_word(rag), sum(1 for a in actions if a.rag is rag)) for rag in (*Rag, None)]
    return f"{len(actions)} actions: " + ", ".join(f"{n} {word}" for word, n in counted if n) + "."


def _latest(cell: _Cell, action: ActionView, notes: Mapping[int, str]) -> None:
    """The latest note as it may leave the bot, then its rating, author and date in grey."""
    latest = action.latest
    if latest is None:
        _text(cell, "No update yet.")
        return
    _text(cell, notes.get(action.id, "") or "(no note)")
    by = f", {latest.author}" if latest.author else ""
    _muted(cell.add_paragraph(), f"{cards.rag_word(latest.rag)}{by}, {latest.at.day} {latest.at:%B %Y}")


def _proposed(document: DocumentObject, actions: Sequence[ActionView]) -> None:
    """Revised dates leads proposed: the milestones stand until the BMG agrees a change."""
    if not actions:
        return
    document.add_heading(f"Proposed date changes ({len(actions)})", level=2)
    table = _table(document, ("Ref", "Milestones", "Proposed new date"), PROPOSED_WIDTHS)
    for action in actions:
        assert action.proposed is not None
        row = _add_row(table)
        _text(row.cells[0], action.ref)
        _text(row.cells[1], cards.milestone_labels(action) or "none")
        _text(row.cells[2], action.proposed.label)


def _plan(document: DocumentObject, rows: Sequence[TableRow]) -> None:
    """The whole plan in its own columns, each RAG cell shaded in its colour and saying its word."""
    document.add_heading("The plan", level=1).paragraph_format.page_break_before = True
    table = _table(document, HEADINGS, PLAN_WIDTHS)
    for source in rows:
        row = _add_row(table)
        for cell, value in zip(row.cells, source.cells, strict=True):
            _text(cell, value)
        if source.rag is not None:
            _shade(row.cells[RAG], RAG_FILLS[source.rag])
            for run in row.cells[RAG].paragraphs[0].runs:
                run.bold = True


def _table(document: DocumentObject, headings: Sequence[str], widths: Sequence[int]) -> Table:
    """A gridded table with fixed column widths and a shaded header row repeated on every page."""
    table: Table = document.add_table(rows=1, cols=len(headings))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Mm(width)  # the grid, for LibreOffice; rows added later take their cells' widths from it
    header = table.rows[0]
    for cell, width in zip(header.cells, widths, strict=True):
        cell.width = Mm(width)  # each cell's own width, which Word goes by
    _repeat_as_header(header)
    for cell, heading in zip(header.cells, headings, strict=True):
        _text(cell, heading)
        cell.paragraphs[0].runs[0].bold = True
        _shade(cell, HEADER_FILL)
    return table


def _add_row(table: Table) -> _Row:
    """A row at the foot of the table, each cell as wide as its column. (python-docx's own `add_row`
    looks up the table's grid among all its rows each time: a council's plan of 3,000 actions took
    minutes to write.)"""
    widths = _GRIDS.get(table)
    if widths is None:
        widths = _GRIDS[table] = [column.w for column in table._tbl.tblGrid.gridCol_lst]
    tr = table._tbl.add_tr()
    for width in widths:
        tc = tr.add_tc()
        if width is not None:
            tc.width = width
    return _Row(tr, table)


_GRIDS: WeakKeyDictionary[Table, list[Length | None]] = WeakKeyDictionary()  # each table's column widths


def _repeat_as_header(row: _Row) -> None:
    _row_flags(row, "w:cantSplit", "w:tblHeader")


def _keep_whole(row: _Row) -> None:
    """An exception is a few lines: read on one page, not split across two."""
    _row_flags(row, "w:cantSplit")


def _row_flags(row: _Row, *tags: str) -> None:
    properties = row._tr.get_or_add_trPr()
    for tag in tags:  # in the schema's order: cantSplit before tblHeader
        element = OxmlElement(tag)
        element.set(qn("w:val"), "true")
        properties.append(element)


def _text(cell: _Cell, value: str) -> None:
    """Cell text at table size; a newline in a note stays a line break, never a new paragraph."""
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    run = paragraph.add_run(_safe(value))
    run.font.size = Pt(8)


def _muted(paragraph: Paragraph, text: str) -> Paragraph:
    """Small grey text: who wrote a note and when, explanations, the footer."""
    paragraph.paragraph_format.space_after = Pt(2)
    run = paragraph.add_run(_safe(text))
    run.font.size = Pt(8)
    run.font.color.rgb = MUTED
    return paragraph


def _shade(cell: _Cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def _safe(text: str) -> str:
    """Text a person wrote, made storable in XML: a pasted \\v line break stays a line break."""
    return _NOT_XML.sub(lambda m: "\n" if m[0] == "\x0b" else "", text)

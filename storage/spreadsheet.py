"""The plan table as partnerships keep it, in XLSX and CSV: reading it in, writing it back out.

The columns are those of the 2019-22 plan. A row with an empty No. continues the objective above;
a row with no "How are we going to do it?" adds a success measure (and its dates) to the action
above; a When cell may hold several milestones ("June 2019 Oct 2019 Feb 2020").
"""

from __future__ import annotations

import csv
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from bot.rules import Due, Precision, Rag, parse_dues
from storage.errors import PlanFileError
from storage.importer import Progress
from storage.planfile import COMMENT_LIMIT, ActionSpec, MeasureSpec, ObjectiveSpec

HEADINGS = (
    "No.",
    "What do we want to achieve?",
    "How are we going to do it?",
    "Who will lead?",
    "How will we know we have achieved our goal?",
    "When are we going to achieve this?",
    "Comment on Progress",
    "RAG rating",
)
NO, WHAT, HOW, WHO, MEASURE, WHEN, COMMENT, RAG = range(len(HEADINGS))
REQUIRED = HEADINGS[:6]
# What a spreadsheet program reads as the start of a formula (after a tab or carriage return, too).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
RAG_FILLS = {Rag.RED: "E06666", Rag.AMBER: "F6B26B", Rag.GREEN: "93C47D", Rag.BLUE: "6FA8DC"}
MAX_ERRORS = 20
# What a plan table may be, checked before (or while) it is read. A plan table has 8 columns and a row
# per action or success measure: the NCSCP plan exports as 60 rows, 17 KB of XLSX, 200 KB unpacked.
FILE_LIMIT = 5 * 1024 * 1024  # bytes of XLSX or CSV
# bytes of an XLSX's parts once unzipped: openpyxl reads a whole sheet without a <dimension> on opening it,
# about 70 ms a MB, so this bounds that too
UNPACKED_LIMIT = 20 * 1024 * 1024
RATIO_LIMIT = 100  # how many times a large part may be smaller packed than unpacked (sheet XML packs ~10x)
RATIO_FLOOR = 1024 * 1024  # parts smaller than this unpacked may pack as tightly as they like
PARTS_LIMIT = 1000  # files inside an XLSX
ROW_LIMIT = 10_000
COLUMN_LIMIT = 100


@dataclass
class SheetPlan:
    """What a spreadsheet says: objectives with their actions, progress cells, and where each action was."""

    source: str
    objectives: list[ObjectiveSpec]
    progress: dict[str, Progress] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def locate(self, ref: str) -> str:
        return f"{self.source} row {self.rows[ref]}, column {get_column_letter(WHO + 1)} ({HEADINGS[WHO]})"


def read_plan_table(path: Path) -> SheetPlan:
    """Read an XLSX or CSV plan table; every problem found is reported at once, with row and column."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(path)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise PlanFileError(f"{path}: not a plan file this can read; use .yaml, .xlsx or .csv")
    return _parse(path.name, rows)


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if size > FILE_LIMIT:
        raise PlanFileError(
            f"{path}: is {size / 1024 / 1024:.0f} MB; a plan table is a few tens of KB and this reads at most "
            f"{FILE_LIMIT // 1024 // 1024} MB"
        )


def _check_archive(path: Path) -> None:
    """Refuse a zip bomb from the archive's directory, before openpyxl unpacks anything: the parts'
    declared sizes bound what zipfile will unpack (it stops at the declared size)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise PlanFileError(f"{path}: is not a readable XLSX workbook ({exc.__class__.__name__})") from None
    if len(parts) > PARTS_LIMIT:
        raise PlanFileError(f"{path}: holds {len(parts):,} files; an XLSX workbook holds a few dozen")
    unpacked = sum(part.file_size for part in parts)
    if unpacked > UNPACKED_LIMIT:
        raise PlanFileError(
            f"{path}: unpacks to {unpacked / 1024 / 1024:,.0f} MB, more than the {UNPACKED_LIMIT // 1024 // 1024} MB "
            "a plan table could need; it is not read"
        )
    for part in parts:
        if part.file_size > RATIO_FLOOR and part.file_size > RATIO_LIMIT * max(part.compress_size, 1):
            raise PlanFileError(
                f"{path}: its part {part.filename[:80]} unpacks {part.file_size // max(part.compress_size, 1):,} "
                "times larger than it is packed, as a zip bomb does; it is not read"
            )


# What openpyxl raises on a damaged workbook, opening it or reading its rows: a truncated or corrupt part,
# XML that does not parse (ParseError is a SyntaxError), a cell reference or value it cannot make sense of,
# a part packed by a method zipfile does not know (NotImplementedError).
UNREADABLE = (
    NotImplementedError,
    InvalidFileException,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    SyntaxError,
    OSError,
)


def _xlsx_rows(path: Path) -> list[tuple[int, list[str]]]:
    _check_size(path)
    _check_archive(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except UNREADABLE as exc:
        raise PlanFileError(f"{path}: is not a readable XLSX workbook ({exc.__class__.__name__})") from None
    try:
        if not book.worksheets:
            raise PlanFileError(f"{path}: the workbook has no worksheet")
        sheet = book.worksheets[0]
        # The sheet's own claim of its size (A1:XFD1048576 from some programs) would pad every row and
        # add empty rows to the end; read what is there instead.
        sheet.reset_dimensions()
        rows: list[tuple[int, list[str]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            _check_shape(path, number, values)
            rows.append((number, [_cell_text(v) for v in values]))
        return rows
    except PlanFileError:
        raise
    except UNREADABLE as exc:
        raise PlanFileError(f"{path}: is not a readable XLSX workbook ({exc.__class__.__name__})") from None
    finally:
        book.close()


def _check_shape(path: Path, number: int, values: Sequence[object]) -> None:
    """Stop reading at the first row past ROW_LIMIT or with a value past COLUMN_LIMIT."""
    if number > ROW_LIMIT:
        raise PlanFileError(
            f"{path}: goes on past row {ROW_LIMIT:,}; a plan table has a row per action or measure "
            "(delete what is below the table)"
        )
    if len(values) > COLUMN_LIMIT and any(v not in (None, "") for v in values[COLUMN_LIMIT:]):
        raise PlanFileError(
            f"{path}: row {number} has values beyond column {get_column_letter(COLUMN_LIMIT)}; "
            f"a plan table has {len(HEADINGS)} columns (delete what is to the right of the table)"
        )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        # Spreadsheet programs turn "June 2019" into the first of the month.
        day = value.date() if isinstance(value, datetime) else value
        return day.strftime("%B %Y") if day.day == 1 else day.isoformat()
    return str(value)


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    _check_size(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: is not UTF-8 text; save the CSV as UTF-8") from None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(text.splitlines(), dialect)
    try:
        # The csv module refuses a cell over csv.field_size_limit() (128 KB unless raised): a csv.Error.
        for number, cells in enumerate(reader, start=1):
            _check_shape(path, number, cells)
            rows.append((number, [restored(c) for c in cells]))
    except csv.Error as exc:
        raise PlanFileError(f"{path}: row {reader.line_num}: cannot be read as CSV ({exc})") from None
    return rows


def _norm(text: str) -> str:
    return " ".join(text.split())


def _heading_key(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _find_header(source: str, rows: Sequence[tuple[int, list[str]]]) -> tuple[int, dict[int, int]]:
    wanted = {_heading_key(h): i for i, h in enumerate(HEADINGS)}
    for index, (_, cells) in enumerate(rows[:15]):
        columns = {wanted[_heading_key(c)]: col for col, c in enumerate(cells) if _heading_key(c) in wanted}
        if NO in columns and HOW in columns:
            missing = [HEADINGS[i] for i in range(len(REQUIRED)) if i not in columns]
            if missing:
                raise PlanFileError(f"{source}: the heading row has no column for: {'; '.join(missing)}")
            return index, columns
    raise PlanFileError(f"{source}: no heading row found; the table needs the columns: {' | '.join(HEADINGS)}")


@dataclass
class _Draft:
    number: int
    title: str
    actions: list[ActionSpec] = field(default_factory=list)


def _parse(source: str, rows: Sequence[tuple[int, list[str]]]) -> SheetPlan:
    header, columns = _find_header(source, rows)
    errors: list[str] = []
    drafts: list[_Draft] = []
    numbers: set[int] = set()
    plan = SheetPlan(source=source, objectives=[])
    measures: list[MeasureSpec] = []
    action_fields: dict[str, str] = {}

    def finish_action() -> None:
        if not action_fields:
            return
        try:
            spec = ActionSpec(measures=list(measures), **action_fields)
        except ValidationError as exc:
            errors.append(f"{source} row {plan.rows[action_fields['ref']]}: {exc.errors()[0]['msg']}")
        else:
            drafts[-1].actions.append(spec)
        action_fields.clear()
        measures.clear()

    for number, raw in rows[header + 1 :]:
        cells = [_norm(raw[columns[i]]) if i in columns and columns[i] < len(raw) else "" for i in range(len(HEADINGS))]
        if not any(cells):
            continue

        def where(column: int, row: int = number) -> str:
            return f"{source} row {row}, column {get_column_letter(columns[column] + 1)} ({HEADINGS[column]})"

        if cells[NO]:
            finish_action()
            if not (cells[NO].isascii() and cells[NO].isdigit() and len(cells[NO]) <= 6) or int(cells[NO]) < 1:
                errors.append(f"{where(NO)}: '{cells[NO]}' is not an objective number")
                continue
            objective_number = int(cells[NO])
            if objective_number in numbers:
                errors.append(f"{where(NO)}: objective {objective_number} appears twice")
                continue
            if not cells[WHAT]:
                errors.append(f"{where(WHAT)}: objective {objective_number} has no text")
            drafts.append(_Draft(objective_number, cells[WHAT] or "?"))
            numbers.add(objective_number)
        elif not drafts:
            errors.append(f"{where(NO)}: the first row of the table needs an objective number")
            continue
        elif cells[WHAT] and cells[WHAT] != drafts[-1].title:
            errors.append(f"{where(NO)}: '{HEADINGS[WHAT]}' is filled but No. is empty; give the objective number")
            continue

        if cells[HOW]:
            finish_action()
            ref = f"{drafts[-1].number}.{len(drafts[-1].actions) + 1}"
            plan.rows[ref] = number
            action_fields.update(ref=ref, description=cells[HOW])
            if cells[WHO]:
                action_fields["lead"] = cells[WHO]
            progress = _progress(cells, where, errors)
            if progress:
                plan.progress[ref] = progress
        elif not action_fields:
            if cells[MEASURE] or cells[WHEN] or cells[WHO]:
                errors.append(f"{where(HOW)}: the row has no action and there is no action above it to continue")
            continue
        elif cells[WHO] or cells[COMMENT] or cells[RAG]:
            errors.append(
                f"{where(HOW)}: a row continuing action {action_fields['ref']} may only add a measure and dates"
            )
            continue

        if cells[MEASURE] or cells[WHEN]:
            try:
                dues = parse_dues(cells[WHEN]) if cells[WHEN] else []
            except ValueError as exc:
                errors.append(f"{where(WHEN)}: {exc}")
                dues = []
            measures.append(MeasureSpec(text=cells[MEASURE] or "(no measure given)", due=dues))
        if len(errors) >= MAX_ERRORS:
            break
    finish_action()
    if not drafts and not errors:
        errors.append(f"{source}: the table has headings but no objectives")
    if errors:
        more = " (and perhaps more)" if len(errors) >= MAX_ERRORS else ""
        raise PlanFileError(
            f"{source}: nothing was imported; {len(errors)} problem(s){more}:\n  - " + "\n  - ".join(errors)
        )
    plan.objectives = [ObjectiveSpec(number=d.number, title=d.title, actions=d.actions) for d in drafts]
    return plan


def _progress(cells: list[str], where: Callable[[int], str], errors: list[str]) -> Progress | None:
    rag_text, comment = cells[RAG], cells[COMMENT]
    if not rag_text and not comment:
        return None
    if not rag_text:
        errors.append(f"{where(RAG)}: a Comment on Progress needs a RAG rating beside it")
        return None
    try:
        rag = Rag.parse(rag_text)
    except ValueError as exc:
        errors.append(f"{where(RAG)}: {exc}")
        return None
    if len(comment) > COMMENT_LIMIT:
        errors.append(f"{where(COMMENT)}: the comment is {len(comment)} characters; the limit is {COMMENT_LIMIT}")
        return None
    return Progress(rag=rag, comment=comment)


@dataclass(frozen=True)
class TableRow:
    """One row of the exported table; `rag` colours the RAG cell."""

    cells: tuple[str, ...]
    rag: Rag | None = None


def dues_label(dues: Iterable[Due]) -> str:
    return " ".join(d.label if d.precision is Precision.MONTH else d.on.isoformat() for d in dues)


def write_table(rows: Sequence[TableRow], path: Path, title: str) -> None:
    if path.suffix.lower() == ".csv":
        write_csv(rows, path)
    else:
        write_xlsx(rows, path, title)


def neutralised(text: str) -> str:
    """A CSV cell a spreadsheet program shows as text, never runs as a formula: a cell that would start
    one gets a single quote before it (OWASP's advice against CSV injection). A cell that already starts
    with a quote before such a character, or before another quote, gets one too, so that `restored`
    gives back exactly what was written."""
    return "'" + text if text.startswith(FORMULA_START) or _quoted(text) else text


def restored(cell: str) -> str:
    """A CSV cell as it was before `neutralised`."""
    return cell[1:] if _quoted(cell) else cell


def _quoted(text: str) -> bool:
    return text.startswith("'") and text[1:].startswith((*FORMULA_START, "'"))


def write_csv(rows: Sequence[TableRow], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADINGS)
        writer.writerows([neutralised(cell) for cell in row.cells] for row in rows)


def write_xlsx(rows: Sequence[TableRow], path: Path, title: str) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = re.sub(r"[\\/*?:\[\]]", " ", title)[:31] or "Plan"
    bold, wrapped = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    fills = {rag: PatternFill("solid", start_color=colour, end_color=colour) for rag, colour in RAG_FILLS.items()}
    sheet.append(HEADINGS)
    for cell in sheet[1]:
        cell.font = bold
        cell.alignment = wrapped
    # Cells are found by their row's number: openpyxl's max_row and sheet[n] each go through every cell
    # written so far, which made a council's plan of 3,000 actions take a minute to write.
    for number, row in enumerate(rows, start=2):
        sheet.append(list(row.cells))
        for place in range(1, len(row.cells) + 1):
            cell = sheet.cell(row=number, column=place)
            cell.alignment = wrapped
            _as_text(cell)
        if row.rag is not None:
            rag_cell = sheet.cell(row=number, column=RAG + 1)
            rag_cell.fill = fills[row.rag]
            rag_cell.font = bold
    for column, width in zip("ABCDEFGH", (6, 40, 50, 24, 40, 22, 50, 10), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    book.save(path)


def _as_text(cell: Cell | MergedCell) -> None:
    """Every cell is text as a person wrote it: never a formula (openpyxl makes "=..." one) nor an
    error value ("#N/A"); one that looks like a formula keeps its text and shows a quote prefix, so
    that editing it in Excel does not turn it into a formula either."""
    if isinstance(cell, Cell) and isinstance(cell.value, str):
        cell.data_type = "s"
        cell.quotePrefix = cell.value.startswith(FORMULA_START)


def iter_cells(rows: Iterable[TableRow]) -> Iterator[tuple[str, ...]]:
    for row in rows:
        yield row.cells

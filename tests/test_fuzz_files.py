"""Hostile and odd files given to the plan-file loader and the spreadsheet importer: random YAML, mangled
copies of the demo plan, random CSV text and small workbooks, and the classic bombs (billion laughs,
YAML 10,000 levels deep, a zip bomb, a million-row CSV, a sheet 20,000 columns wide). Whatever arrives,
the outcome is a plan or a PlanFileError that names the file and says what is wrong: never another
exception, never a hang, never memory out of proportion to the file."""

from __future__ import annotations

import copy
import csv
import io
import string
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo import demo_files
from storage import planfile
from storage.errors import PlanFileError
from storage.importer import ImportReport
from storage.plan_io import import_file
from storage.planfile import LOADERS, PlanFile, load_plan_file
from storage.repositories import PartnershipRepository
from storage.spreadsheet import HEADINGS, SheetPlan, read_plan_table
from tests.conftest import london
from tests.factories import load, row_counts

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NOW = london(2019, 10, 1, 9)
# Bounds on a hang and a blow-up, not speed targets: each bomb unguarded runs for minutes or takes
# gigabytes; guarded, it is refused in well under a second on this kind of machine.
BOMB_SECONDS = 10.0
BOMB_MEGABYTES = 100
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


# --- What every outcome must look like -------------------------------------------------------------


def refusal(path: Path, error: PlanFileError) -> str:
    """A refusal a person can act on: it names the file, says something, and stays short."""
    message = str(error)
    assert path.name in message.splitlines()[0], message[:300]
    assert len(message.splitlines()[0]) > len(str(path)) + 5, "it says what is wrong, not only where"
    assert len(message.splitlines()) <= 25, "at most a screenful of problems"
    assert len(message) < 20_000, "no cell or value pasted whole into the message"
    return message


def load_or_refuse(path: Path, loader: Callable[[str], Any] | None = None) -> PlanFile | str:
    try:
        return load_plan_file(path, loader)
    except PlanFileError as error:
        return refusal(path, error)


def read_or_refuse(path: Path) -> SheetPlan | str:
    try:
        return read_plan_table(path)
    except PlanFileError as error:
        return refusal(path, error)


@dataclass
class Cost:
    seconds: float
    megabytes: float


@contextmanager
def measured(*, allocations: bool) -> Iterator[Cost]:
    """Wall time, or the peak of Python's allocations while the block runs (tracing allocations slows
    the block several times over, so the two are measured in separate runs)."""
    cost = Cost(0.0, 0.0)
    if allocations:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        yield cost
    finally:
        cost.seconds = time.perf_counter() - started
        if allocations:
            cost.megabytes = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()


def refused_quickly(read: Callable[[], object], *expected: str) -> Cost:
    with measured(allocations=False) as timed, pytest.raises(PlanFileError) as caught:
        read()
    for words in expected:
        assert words in str(caught.value)
    assert timed.seconds < BOMB_SECONDS, f"refused after {timed.seconds:.1f} s"
    with measured(allocations=True) as traced, pytest.raises(PlanFileError):
        read()
    assert traced.megabytes < BOMB_MEGABYTES, f"refused at a peak of {traced.megabytes:.0f} MB"
    return Cost(timed.seconds, traced.megabytes)


# --- Random YAML -----------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.dates().map(date.isoformat),
    st.sampled_from(
        ["1.1", "2019-06", "amber", "Purple", "ann@example.org", "Europe/London", "(((", "x" * 5000, "(" * 2000]
    ),
)
KEYS = st.one_of(
    st.sampled_from(
        "partnership plan people subgroups priorities objectives meetings name short_name title number actions "
        "ref description lead measures due updates at rag timezone privacy case_id_patterns".split()
    ),
    st.text(max_size=10),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=40,
)


def write_text(text: str, name: str = "plan.yaml") -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    path = folder / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@FUZZ
@given(DOCUMENTS)
def test_any_yaml_document_is_a_plan_or_a_message(document: object) -> None:
    path = write_text(yaml.safe_dump(document, allow_unicode=True))
    for loader in LOADERS:
        outcome = load_or_refuse(path, loader)
        assert isinstance(outcome, PlanFile | str)


# Pieces of YAML that have tripped loaders: impossible dates, huge numbers, tags, anchors and aliases,
# merge keys, deep brackets, tabs, documents markers, odd characters.
YAML_PIECES = st.sampled_from(
    [
        *("partnership:", "plan:", "objectives:", "meetings:", "timezone:", "case_id_patterns:", "- ", "  ", "\n"),
        *("2024-13-45", "0000-01-01", "2019-02-29", "2019-06-15T25:00:00+01:00", "1" * 5000, "0x" + "f" * 5000),
        *("1e999", ".nan", "!!binary 'not base64'", "!!python/object:os.system", "!!set {a}", "&a [1, 2]", "*a"),
        *("*b", "<<: *a", "? [a]\n: b", "[" * 30, "{" * 30, "]", "}", "\t", "---", "...", "%YAML 1.1", "'", '"'),
        *("\u00a0", "\ufeff", "\u2028", "👍", "x" * 5000, "(" * 2000, ":", ",", "#", "|", ">"),
    ]
)


@FUZZ
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
    | st.text(string.printable, max_size=400)
    | st.lists(YAML_PIECES, max_size=30).map(" ".join)
    | st.lists(YAML_PIECES, max_size=30).map("".join)
)
def test_any_text_is_a_plan_or_a_message(text: str) -> None:
    path = write_text(text)
    outcomes = [load_or_refuse(path, loader) for loader in LOADERS]
    assert all(isinstance(outcome, PlanFile | str) for outcome in outcomes)


def demo_plan() -> dict[str, Any]:
    path = next(p for p in demo_files() if p.name.startswith("ncscp"))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


DEMO = demo_plan()
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ODD = st.one_of(
    SCALARS,
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=20),  # control characters
    st.text(alphabet=st.characters(codec="utf-8", categories=["Lo", "So", "Mn", "Zs"]), max_size=20),
    st.integers(min_value=1, max_value=400).map(lambda n: "Ω" * (n * 250)),  # up to 100,000 characters
    st.lists(SCALARS, max_size=3),
    st.dictionaries(KEYS, SCALARS, max_size=3),
)


@st.composite
def mangled_demo(draw: st.DrawFn) -> dict[str, Any]:
    """The demo plan with a few things broken: a key dropped, a value replaced by something odd, a list
    emptied or repeated, a key added."""
    data: dict[str, Any] = copy.deepcopy(DEMO)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        node: Any = data
        for _depth in range(draw(st.integers(min_value=0, max_value=6))):
            if isinstance(node, dict) and node:
                child = node[draw(st.sampled_from(sorted(node, key=str)))]
            elif isinstance(node, list) and node:
                child = node[draw(st.integers(min_value=0, max_value=len(node) - 1))]
            else:
                break
            if not isinstance(child, dict | list):
                break
            node = child
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            match draw(st.sampled_from(["drop", "replace", "add", "double"])):
                case "drop":
                    del node[key]
                case "replace":
                    node[key] = draw(ODD)
                case "add":
                    node[draw(KEYS)] = draw(ODD)
                case "double" if isinstance(node[key], list):
                    node[key] = node[key] + node[key]
        elif isinstance(node, list) and node:
            index = draw(st.integers(min_value=0, max_value=len(node) - 1))
            if draw(st.booleans()):
                del node[index]
            else:
                node[index] = draw(ODD)
    return data


@FUZZ
@given(mangled_demo())
def test_a_mangled_demo_plan_is_a_plan_or_a_message(data: dict[str, Any]) -> None:
    path = write_text(yaml.dump(data, Dumper=DUMPER, allow_unicode=True, sort_keys=False))
    outcome = load_or_refuse(path)
    assert isinstance(outcome, PlanFile | str)


def test_the_demo_plans_load_with_every_loader() -> None:
    """The limits leave room for real plans: both demo plans load, whichever YAML parser is used."""
    for path in demo_files():
        plans = [load_plan_file(path, loader) for loader in LOADERS]
        assert all(plan == plans[0] for plan in plans)


# --- Random tables ---------------------------------------------------------------------------------

CELL_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            *("", "1", "2", "0", "-1", "1.5", "²", "9" * 40, "Amber", "red", "Purple", "June 2019"),
            *("Oct 2019 Feb 2020", "Junly 2019", "Children's QA subgroup", "CDOP", "=SUM(A1)", "'=1", "\u00a0"),
            "x" * 2500,
        ]
    ),
)
ROW = st.lists(CELL_TEXT, max_size=10)
HEADED = st.tuples(st.integers(min_value=0, max_value=3), st.lists(ROW, max_size=12)).map(
    lambda t: [*([[""]] * t[0]), list(HEADINGS), *t[1]]
)
TABLES = st.one_of(HEADED, st.lists(ROW, max_size=12))


@FUZZ
@given(TABLES)
def test_any_csv_table_is_a_plan_or_a_message(rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    path = write_text(out.getvalue(), "plan.csv")
    assert isinstance(read_or_refuse(path), SheetPlan | str)


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400) | st.text(",;\t\"'\n\r1aA ", max_size=400))
def test_any_csv_text_is_a_plan_or_a_message(text: str) -> None:
    path = write_text(",".join(HEADINGS) + "\n" + text, "plan.csv")
    assert isinstance(read_or_refuse(path), SheetPlan | str)


XLSX_VALUES = st.one_of(
    CELL_TEXT.map(lambda text: ILLEGAL_CHARACTERS_RE.sub("", text)),
    st.none(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1)),  # noqa: DTZ001 (a spreadsheet's times are naive)
)


@FUZZ
@given(st.tuples(st.integers(min_value=0, max_value=3), st.lists(st.lists(XLSX_VALUES, max_size=10), max_size=12)))
def test_any_small_workbook_is_a_plan_or_a_message(shape: tuple[int, list[list[object]]]) -> None:
    above, rows = shape
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for _ in range(above):
        sheet.append(["NCSCP Business Plan"])
    sheet.append(list(HEADINGS))
    for row in rows:
        sheet.append(row)
    path = Path(tempfile.mkdtemp(prefix="fuzz-")) / "plan.xlsx"
    book.save(path)
    assert isinstance(read_or_refuse(path), SheetPlan | str)


@FUZZ
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=5000))
def test_a_damaged_workbook_is_a_message(patch: bytes, at: int) -> None:
    """A workbook with some bytes overwritten (a truncated download, a bad disk)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(HEADINGS))
    sheet.append(["1", "An objective", "An action", "CDOP", "A measure", "June 2019", "", ""])
    data = io.BytesIO()
    book.save(data)
    raw = bytearray(data.getvalue())
    at = at % len(raw)
    raw[at : at + len(patch)] = patch
    path = Path(tempfile.mkdtemp(prefix="fuzz-")) / "plan.xlsx"
    path.write_bytes(bytes(raw))
    assert isinstance(read_or_refuse(path), SheetPlan | str)


# --- Importing: a report, or a refusal that wrote nothing -------------------------------------------


@FUZZ
@given(TABLES, st.sampled_from(["plan.csv", "plan.yaml"]))
async def test_an_import_stores_a_plan_or_writes_nothing(
    session: AsyncSession, ncscp: PlanFile, rows: list[list[str]], name: str
) -> None:
    if await PartnershipRepository(session).find("NCSCP") is None:
        await load(session, ncscp)
    if name.endswith(".csv"):
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        path = write_text(out.getvalue(), name)
    else:
        path = write_text(yaml.safe_dump({"partnership": {"name": "N", "short_name": "NCSCP"}, "rows": rows}), name)
    before = await row_counts(session)
    nested = await session.begin_nested()
    try:
        outcome: ImportReport | str = await import_file(
            session, path, now=NOW, partnership="NCSCP", plan_title="Fuzzed"
        )
    except PlanFileError as error:
        outcome = refusal(path, error)
    finally:
        await nested.rollback()
    assert isinstance(outcome, ImportReport | str)
    assert await row_counts(session) == before


# --- The bombs: each refused with a message, in well under BOMB_SECONDS and BOMB_MEGABYTES ------------


def billion_laughs() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    return "\n".join([*lines, "partnership: *i", ""])  # 10^9 "lol"s once expanded, 1 KB written


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
def test_billion_laughs_is_refused(tmp_path: Path, loader: Callable[[str], Any]) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    refused_quickly(lambda: load_plan_file(path, loader), "laughs.yaml: line ", "more than 400,000 values")


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
def test_a_yaml_version_of_thousands_of_digits_is_a_message(tmp_path: Path, loader: Callable[[str], Any]) -> None:
    """Found by fuzzing: PyYAML's own scanner turned the version into a number and raised ValueError."""
    path = tmp_path / "version.yaml"
    path.write_text("%YAML 1." + "1" * 5000 + "\n---\npartnership: x\n", encoding="utf-8")
    with pytest.raises(PlanFileError, match=r"version.yaml: line 1, column \d+: not valid YAML: .*version number"):
        load_plan_file(path, loader)


def test_a_few_aliases_are_still_read(tmp_path: Path) -> None:
    """Aliases are not refused as such: a plan that reuses a list of dates loads."""
    text = yaml.safe_dump(DEMO, sort_keys=False).replace("meetings:", "meetings: &meetings", 1)
    path = tmp_path / "aliases.yaml"
    path.write_text(text + "notes: nothing\n", encoding="utf-8")
    assert load_plan_file(path).meetings == load_plan_file(next(p for p in demo_files() if "ncscp" in p.name)).meetings


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
@pytest.mark.parametrize(
    "text",
    ["partnership: " + "[" * 10_000 + "]" * 10_000, "partnership: " + "{a: " * 10_000 + "1" + "}" * 10_000],
    ids=["lists", "mappings"],
)
def test_yaml_ten_thousand_levels_deep_is_refused(tmp_path: Path, loader: Callable[[str], Any], text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    refused_quickly(lambda: load_plan_file(path, loader), "deep.yaml: line 1, column ", "nested more than 20 levels")


@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
def test_block_yaml_deeply_nested_is_refused(tmp_path: Path, loader: Callable[[str], Any]) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("partnership:\n" + "- " * 10_000 + "x\n", encoding="utf-8")
    refused_quickly(lambda: load_plan_file(path, loader), "nested more than 20 levels")


def test_a_yaml_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as out:
        out.write("notes: ")
        for _ in range(6):
            out.write("x" * 1024 * 1024)
    refused_quickly(lambda: load_plan_file(path), "big.yaml: is larger than 5 MB")


def test_many_values_are_refused_before_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flat list of meetings, more than the limit allows: refused at the value past the limit, not
    validated one by one. The limit is lowered here so that the test stays quick; each value read costs
    its node until the refusal, so time and memory follow the limit (at 400,000: about 5 s and 150 MB)."""
    monkeypatch.setattr(planfile, "VALUE_LIMIT", 50_000)
    path = tmp_path / "many.yaml"
    path.write_text("meetings: [" + ", ".join(["x"] * 400_000) + "]\n", encoding="utf-8")
    refused_quickly(lambda: load_plan_file(path), "line 1, column 150003: holds more than 50,000 values")


def workbook_with_sheet(path: Path, write_sheet: Callable[[zipfile.ZipFile, zipfile.ZipInfo], None]) -> Path:
    """A real workbook from openpyxl whose first sheet's XML is written by `write_sheet`."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(HEADINGS))
    data = io.BytesIO()
    book.save(data)
    with zipfile.ZipFile(data) as original, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in original.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                write_sheet(out, info)
            else:
                out.writestr(info, original.read(info.filename))
    return path


def zeros(megabytes: int) -> Callable[[zipfile.ZipFile, zipfile.ZipInfo], None]:
    """A sheet whose one cell holds `megabytes` MB of zeros: it packs about 1,000 to 1."""

    def write(out: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        chunk = b"0" * 1024 * 1024
        with out.open(info.filename, "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'.encode())
            for _ in range(megabytes):
                sheet.write(chunk)
            sheet.write(b"</t></is></c></row></sheetData></worksheet>")

    return write


def test_a_zip_bomb_workbook_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    path = workbook_with_sheet(tmp_path / "bomb.xlsx", zeros(300))
    assert path.stat().st_size < 1024 * 1024, "the bomb itself is small"
    refused_quickly(lambda: read_plan_table(path), "bomb.xlsx: unpacks to 300 MB, more than the 20 MB")


def test_a_tightly_packed_workbook_is_refused(tmp_path: Path) -> None:
    """Under the unpacked limit but packed 1,000 to 1, as no real sheet is."""
    path = workbook_with_sheet(tmp_path / "packed.xlsx", zeros(15))
    refused_quickly(lambda: read_plan_table(path), "xl/worksheets/sheet1.xml unpacks", "as a zip bomb does")


def wide_sheet(columns: int) -> Callable[[zipfile.ZipFile, zipfile.ZipInfo], None]:
    """The headings, then a row of `columns` numbers (written without cell references, so past XFD too)."""

    def write(out: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        headings = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in HEADINGS)
        row = "<c><v>1</v></c>" * columns
        out.writestr(
            info.filename,
            f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">{headings}</row><row r="2">{row}</row>'
            "</sheetData></worksheet>",
        )

    return write


def test_a_sheet_twenty_thousand_columns_wide_is_refused(tmp_path: Path) -> None:
    path = workbook_with_sheet(tmp_path / "wide.xlsx", wide_sheet(20_000))
    refused_quickly(lambda: read_plan_table(path), "wide.xlsx: row 2 has values beyond column CV")


def test_a_sheet_claiming_to_be_the_whole_grid_is_read_as_it_is(tmp_path: Path) -> None:
    """A sheet whose dimension says A1:XFD1048576 (some programs write that) is read by its rows, not its claim."""

    def write(out: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        cells = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in HEADINGS)
        out.writestr(
            info.filename,
            f'<worksheet xmlns="{MAIN}"><dimension ref="A1:XFD1048576"/><sheetData><row r="1">{cells}</row>'
            "</sheetData></worksheet>",
        )

    path = workbook_with_sheet(tmp_path / "claims.xlsx", write)
    refused_quickly(lambda: read_plan_table(path), "claims.xlsx: the table has headings but no objectives")


def test_a_sheet_of_many_rows_is_refused_at_the_limit(tmp_path: Path) -> None:
    def write(out: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        with out.open(info.filename, "w") as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            for number in range(1, 20_001):
                sheet.write(f'<row r="{number}"><c r="B{number}"><v>{number}</v></c></row>'.encode())
            sheet.write(b"</sheetData></worksheet>")

    path = workbook_with_sheet(tmp_path / "long.xlsx", write)
    refused_quickly(lambda: read_plan_table(path), "long.xlsx: goes on past row 10,000")


def million_rows(path: Path, row: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADINGS) + "\n")
        for number in range(1_000_000):
            out.write(row.format(number))
    return path


def test_a_million_row_csv_is_refused_by_its_size(tmp_path: Path) -> None:
    path = million_rows(tmp_path / "million.csv", "{},An objective,An action,CDOP,A measure,June 2019,,\n")
    refused_quickly(lambda: read_plan_table(path), "million.csv: is ", "this reads at most 5 MB")


def test_a_million_short_rows_are_refused_at_the_row_limit(tmp_path: Path) -> None:
    """Under the size limit (a million rows of one short cell), so it is the row count that stops it."""
    path = million_rows(tmp_path / "short.csv", "x\n")
    refused_quickly(lambda: read_plan_table(path), "short.csv: goes on past row 10,000")


def test_a_csv_twenty_thousand_columns_wide_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(HEADINGS) + "\n" + ",".join(["1"] * 20_000) + "\n", encoding="utf-8")
    refused_quickly(lambda: read_plan_table(path), "wide.csv: row 2 has values beyond column CV")


def test_a_csv_cell_of_a_megabyte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cell.csv"
    path.write_text(",".join(HEADINGS) + '\n1,"' + "x" * 1024 * 1024 + '",a\n', encoding="utf-8")
    refused_quickly(lambda: read_plan_table(path), "cell.csv: row 2: cannot be read as CSV (field larger than")


def test_a_workbook_packed_by_an_unknown_method_is_a_message(tmp_path: Path) -> None:
    """Found by the fuzzing above: zipfile raises NotImplementedError for a compression method it lacks."""
    book = Workbook()
    book.active.append(list(HEADINGS))  # type: ignore[union-attr]
    path = tmp_path / "odd.xlsx"
    book.save(path)
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # local headers, central directory
        at = data.find(signature)
        while at != -1:
            data[at + offset : at + offset + 2] = (99).to_bytes(2, "little")
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    with pytest.raises(PlanFileError, match=r"odd\.xlsx"):
        read_plan_table(path)

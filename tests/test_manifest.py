"""The Teams app package: a valid build, and invalid ones refused in the schema's own words."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli
from manifests.build import (
    HERE,
    SCHEMA,
    TEMPLATE,
    AppDetails,
    ManifestError,
    ManifestValidator,
    build,
    manifest_for,
    problems,
)
from manifests.icons import png

APP_ID = "3f0c8a52-6b1d-4f7e-9a2c-5d4e3f2a1b0c"
NPM_SCHEMA = (
    HERE.parent / "node_modules/@microsoft/app-manifest/build/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"
)


def test_a_valid_package(tmp_path: Path) -> None:
    out = tmp_path / "plan-tracker.zip"
    build(AppDetails(APP_ID), out)
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    assert problems(manifest) == []
    assert manifest["manifestVersion"] == "1.30"
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["bots"][0]["scopes"] == ["personal", "team", "groupChat"]
    lists = {
        scope: [c["title"] for c in entry["commands"]]
        for entry in manifest["bots"][0]["commandLists"]
        for scope in entry["scopes"]
    }
    assert set(lists) == {"personal", "team", "groupChat"}
    for titles in lists.values():
        assert titles == ["help", "my actions", "overdue", "show", "update", "summary preview"]
    assert len(manifest["description"]["short"]) <= 80
    assert "business plan" in manifest["description"]["full"]


@pytest.mark.parametrize(
    ("details", "message"),
    [
        (AppDetails("not-a-guid"), "id: 'not-a-guid' does not match '^[0-9a-fA-F]{8}-"),
        (AppDetails(APP_ID, name="Safeguarding Partnership Plan Tracker Bot"), "name/short: 'Safeguarding"),
        (AppDetails(APP_ID, website_url="www.example.org"), "developer/websiteUrl: 'www.example.org' does not match"),
        (AppDetails(APP_ID, developer="x" * 33), "developer/name: 'xxxx"),
    ],
)
def test_an_invalid_manifest_is_refused_with_the_schema_s_words(
    tmp_path: Path, details: AppDetails, message: str
) -> None:
    out = tmp_path / "app.zip"
    with pytest.raises(ManifestError) as caught:
        build(details, out)
    assert str(caught.value).startswith("the app package was not built:")
    assert message in str(caught.value)
    assert not out.exists(), "nothing is written"


def _template(tmp_path: Path, change: Any) -> Path:
    data = json.loads(TEMPLATE.read_text())
    change(data)
    path = tmp_path / "manifest.template.json"
    path.write_text(json.dumps(data))
    return path


def test_a_broken_template_is_refused(tmp_path: Path) -> None:
    no_developer = _template(tmp_path, lambda d: d.pop("developer"))
    with pytest.raises(ManifestError, match="'developer' is a required property"):
        build(AppDetails(APP_ID), tmp_path / "a.zip", template=no_developer)
    colour = _template(tmp_path, lambda d: d.update(accentColor="blue"))
    with pytest.raises(ManifestError, match=re.escape("accentColor: 'blue' does not match")):
        build(AppDetails(APP_ID), tmp_path / "a.zip", template=colour)
    unknown = _template(tmp_path, lambda d: d.update(version="${{RELEASE}}"))
    with pytest.raises(ManifestError, match=re.escape("the template names ${{RELEASE}}, which has no value")):
        build(AppDetails(APP_ID), tmp_path / "a.zip", template=unknown)
    old = _template(tmp_path, lambda d: d.update(manifestVersion="1.17"))
    with pytest.raises(ManifestError, match=re.escape("manifestVersion: '1.17' is not '1.30'")):
        build(AppDetails(APP_ID), tmp_path / "a.zip", template=old)


def test_values_cannot_change_the_manifest_s_structure() -> None:
    sneaky = 'Plan", "id": "00000000-0000-0000-0000-000000000000'
    manifest = manifest_for(AppDetails(APP_ID, name=sneaky))
    assert manifest["id"] == APP_ID
    assert manifest["name"]["short"] == sneaky


def test_icons_are_checked(tmp_path: Path) -> None:
    (tmp_path / "color.png").write_bytes(png(96, lambda x, y: (0, 0, 255, 255), samples=1))
    (tmp_path / "outline.png").write_bytes(b"GIF89a")
    with pytest.raises(ManifestError) as caught:
        build(AppDetails(APP_ID), tmp_path / "app.zip", icons=tmp_path)
    assert "color.png: is 96x96, must be 192x192" in str(caught.value)
    assert "outline.png: not a PNG file" in str(caught.value)


def test_the_shipped_icons_are_the_right_size_and_outline_is_white_on_transparent() -> None:
    import struct
    import zlib

    for name, size in (("color.png", 192), ("outline.png", 32)):
        data = (HERE / name).read_bytes()
        assert struct.unpack(">II", data[16:24]) == (size, size)
    data = (HERE / "outline.png").read_bytes()
    raw = zlib.decompress(data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8])
    pixels = [raw[row * (32 * 4 + 1) + 1 :][: 32 * 4] for row in range(32)]
    colours = {tuple(p[i : i + 4]) for p in pixels for i in range(0, 128, 4)}
    assert all(a == 0 or (r, g, b) == (255, 255, 255) for r, g, b, a in colours), "only white, at any opacity"
    assert any(a == 0 for *_, a in colours) and any(a == 255 for *_, a in colours)


def test_unicode_patterns_are_understood() -> None:
    """v1.23+ schemas use \\p{L}; Python's re cannot compile it, so the check uses `regex`."""
    with pytest.raises(re.error):
        re.compile(r"^[\p{L}]+$")
    validator = ManifestValidator({"pattern": r"^[\p{L}][\p{L}0-9._]*$"})
    assert validator.is_valid("Bénédicte.2")
    assert not validator.is_valid("2fast")


def test_the_shipped_schema_is_microsoft_s() -> None:
    if not NPM_SCHEMA.exists():
        pytest.skip("@microsoft/app-manifest is not installed (make test runs npm ci)")
    assert json.loads(SCHEMA.read_text()) == json.loads(NPM_SCHEMA.read_text())


def test_the_command(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"
    ok = CliRunner().invoke(
        cli, ["manifest", "build", "--app-id", APP_ID, "--name", "Plan Tracker NCSCP", "--out", str(out)]
    )
    assert ok.exit_code == 0, ok.output
    with zipfile.ZipFile(out) as package:
        assert json.loads(package.read("manifest.json"))["name"]["short"] == "Plan Tracker NCSCP"
    bad = CliRunner().invoke(cli, ["manifest", "build", "--app-id", "nope", "--out", str(tmp_path / "b.zip")])
    assert bad.exit_code == 1
    assert "Error: the app package was not built:" in bad.output
    assert "id: 'nope' does not match" in bad.output

"""Building the Teams app package: the manifest from its template, checked against Microsoft's own
JSON schema for its version (shipped here, so the check works offline), zipped with the icons."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import regex
from jsonschema import Draft4Validator, validators
from jsonschema.exceptions import ValidationError

HERE = Path(__file__).parent
TEMPLATE = HERE / "manifest.template.json"
SCHEMA = HERE / "schema" / "MicrosoftTeams.v1.30.schema.json"
ICONS = {"color.png": (192, 192), "outline.png": (32, 32)}
PLACEHOLDER = re.compile(r"\$\{\{([A-Z_]+)\}\}")


class ManifestError(ValueError):
    """The package cannot be built; the message lists every problem, in the schema's own words."""


@dataclass(frozen=True)
class AppDetails:
    app_id: str
    name: str = "Plan Tracker"
    version: str = "1.0.0"
    developer: str = "Plan Tracker"
    website_url: str = "https://www.example.org/plan-tracker"
    privacy_url: str = "https://www.example.org/plan-tracker/privacy"
    terms_url: str = "https://www.example.org/plan-tracker/terms"

    def values(self) -> dict[str, str]:
        return {
            "APP_ID": self.app_id,
            "APP_NAME": self.name,
            "APP_VERSION": self.version,
            "DEVELOPER_NAME": self.developer,
            "WEBSITE_URL": self.website_url,
            "PRIVACY_URL": self.privacy_url,
            "TERMS_URL": self.terms_url,
        }


def render(template: Any, values: Mapping[str, str]) -> Any:
    """Fill `${{NAME}}` placeholders in the template's strings (the parsed JSON, never its text,
    so a value cannot change the manifest's structure)."""
    if isinstance(template, dict):
        return {key: render(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [render(item, values) for item in template]
    if isinstance(template, str):

        def fill(match: re.Match[str]) -> str:
            if match[1] not in values:
                raise ManifestError(f"the template names ${{{{{match[1]}}}}}, which has no value")
            return values[match[1]]

        return PLACEHOLDER.sub(fill, template)
    return template


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    """The schema's patterns use \\p{L} (any letter), which Python's `re` lacks; `regex` has it."""
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


ManifestValidator = validators.extend(Draft4Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]
"""Draft 4, as the Teams schemas are written, with Unicode-aware patterns."""


@cache
def _validator() -> Any:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return ManifestValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def problems(manifest: Mapping[str, Any]) -> list[str]:
    """Every way the manifest breaks the schema, as '<path>: <the schema's message>'."""
    found = []
    for error in sorted(_validator().iter_errors(manifest), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in error.absolute_path) or "(the manifest)"
        found.append(f"{path}: {error.message}")
    schema_version = SCHEMA.name.split(".v")[1].removesuffix(".schema.json")
    if manifest.get("manifestVersion") != schema_version:
        found.append(f"manifestVersion: {manifest.get('manifestVersion')!r} is not {schema_version!r}")
    return found


def icon_problems(folder: Path = HERE) -> list[str]:
    """Teams wants a 192x192 colour icon and a 32x32 outline icon, both PNG with transparency."""
    found = []
    for name, (width, height) in ICONS.items():
        data = (folder / name).read_bytes() if (folder / name).exists() else b""
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            found.append(f"{name}: not a PNG file")
            continue
        w, h, _, colour_type = struct.unpack(">IIBB", data[16:26])
        if (w, h) != (width, height):
            found.append(f"{name}: is {w}x{h}, must be {width}x{height}")
        if name == "outline.png" and colour_type != 6:
            found.append(f"{name}: must be RGBA (white on transparent)")
    return found


def manifest_for(details: AppDetails, template: Path = TEMPLATE) -> dict[str, Any]:
    rendered: dict[str, Any] = render(json.loads(template.read_text(encoding="utf-8")), details.values())
    return rendered


def build(details: AppDetails, out: Path, *, template: Path = TEMPLATE, icons: Path = HERE) -> dict[str, Any]:
    """Write the app package; refuse, listing every problem, if the manifest or icons are invalid."""
    manifest = manifest_for(details, template)
    found = problems(manifest) + icon_problems(icons)
    if found:
        raise ManifestError("the app package was not built:\n  - " + "\n  - ".join(found))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for name in ICONS:
            package.write(icons / name, name)
    return manifest

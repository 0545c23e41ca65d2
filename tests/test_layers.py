"""The one-way stack of docs/architecture.md: no module imports one from a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [  # lowest first; a module may import from its own layer or any below
    ["bot.rules", "bot.updates", "bot.messages", "bot.clock", "bot.links", "bot.refusals"],
    ["bot.language", "bot.privacy"],
    ["storage"],
    ["bot.settings", "bot.views", "bot.posting", "bot.revisions", "bot.redaction", "bot.demo"],
    ["bot.cards", "bot.summaries", "bot.overview", "bot.paper"],
    ["bot.queries"],
    ["dialogs", "bot.desk"],
    [
        "bot.identity",
        "bot.addresses",
        "bot.handler",
        "bot.adapter",
        "bot.messenger",
        "bot.retries",
        "bot.scheduler",
        "bot.app",
        "bot.playground",
        "bot.workers",
    ],
    ["bot.cli"],
]
TOOLS = {"bot.language.report"}  # the language report reads the demo plans: a tool, imported by nothing


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    return best[0] if best else None


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("bot", "dialogs", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            if name != package:  # the top-level packages' own __init__ holds nothing
                found.append((name, path))
    return found


def test_every_module_has_a_layer() -> None:
    assert [name for name, _ in modules() if layer_of(name) is None] == []


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    for name, path in modules():
        if name in TOOLS:
            continue
        own = layer_of(name)
        assert own is not None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                rank = layer_of(target)
                if rank is not None and rank > own:
                    upward.append(f"{name} imports {target}")
    assert upward == []

"""The figures of a run: a printed table, bench/results/<date>.json, a markdown table and a PNG plot."""

from __future__ import annotations

import io
import json
import math
import pstats
import subprocess
from pathlib import Path
from typing import Any

from bench.servers import AGENTS_PYTHON

BASES = {"agents": "agents_echo", "bb": "botbuilder_echo", "floor": "floor"}
COLUMNS = [
    ("server", "server"),
    ("auth", "auth"),
    ("db", "backend"),
    ("size", "size"),
    ("case", "case"),
    ("workers", "workers"),
    ("c", "concurrency"),
    ("side by side", "together"),
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("msg/s", "throughput"),
    ("errors", "errors"),
    ("peak RSS MB", "peak_rss_mb"),
    ("CPU ms/req", "cpu_ms_per_request"),
    ("p50 / Agents", "p50_x_agents"),
    ("msg/s / Agents", "tput_x_agents"),
    ("p50 / bb echo", "p50_x_bb"),
    ("msg/s / bb echo", "tput_x_bb"),
    ("p50 / floor", "p50_x_floor"),
]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.2f}" if value < 10 else f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    return str(value)


def line(row: dict[str, Any]) -> str:
    workers = f" {row['workers']} workers" if row.get("workers", 1) > 1 else ""
    where = f"{row['server']}{workers} {row['auth']} {row['backend']} {row['size']} {row['case']} c{row['concurrency']}"
    if row.get("together"):
        where += f" (side by side with {row['together']})"
    text = (
        f"{where}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, {row['throughput']} msg/s, "
        f"{row['ok']} ok, {row['errors']} errors, peak RSS {row['peak_rss_mb']} MB, "
        f"server CPU {row.get('cpu_ms_per_request', '-')} ms a request "
        f"(load generator {row.get('client_cpu_ms_per_request', '-')}, "
        f"connector {row.get('connector_cpu_ms_per_request', '-')})"
    )
    if row["errors"]:
        text += f" ({row['error_sample'][0]})"
    return text


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each row against each baseline measured in the same run, same authentication, same concurrency."""
    for row in rows:
        for short, name in BASES.items():
            base = next(
                (
                    b
                    for b in rows
                    if b["server"] == name and b["auth"] == row["auth"] and b["concurrency"] == row["concurrency"]
                ),
                None,
            )
            ok = base is not None and base["p50_ms"] and base["throughput"]
            row[f"p50_x_{short}"] = round(row["p50_ms"] / base["p50_ms"], 2) if ok and base else float("nan")
            row[f"tput_x_{short}"] = round(row["throughput"] / base["throughput"], 2) if ok and base else float("nan")


def worker_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Throughput of `planbot serve --workers N` against one worker's, same case, size, database,
    authentication and concurrency, in the same run."""
    found = []
    for row in rows:
        if row["server"] != "planbot" or row.get("workers", 1) == 1:
            continue
        same = ("auth", "backend", "size", "case", "concurrency")
        one = next(
            (
                r
                for r in rows
                if r["server"] == "planbot" and r.get("workers", 1) == 1 and all(r[k] == row[k] for k in same)
            ),
            None,
        )
        if one is None or not one["throughput"]:
            continue
        found.append(
            {
                **{k: row[k] for k in same},
                "workers": row["workers"],
                "throughput": row["throughput"],
                "one_worker": one["throughput"],
                "ratio": round(row["throughput"] / one["throughput"], 2),
                # cores the server kept busy: below N for N workers, the machine had no more to give
                "cores": _cores(row),
                "one_worker_cores": _cores(one),
            }
        )
    return found


def size_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each size against the demo plans, from the sizes measured side by side (same case, database and
    authentication): p50 at concurrency 1 and the server's CPU time a turn."""
    together = [r for r in rows if r.get("together")]
    found = []
    for row in together:
        same = ("auth", "backend", "case")
        demo = next((r for r in together if r["size"] == "demo" and all(r[k] == row[k] for k in same)), None)
        if row["size"] == "demo" or demo is None or not demo["p50_ms"] or not demo["cpu_ms_per_request"]:
            continue
        found.append(
            {
                **{k: row[k] for k in (*same, "size")},
                "p50_ms": row["p50_ms"],
                "demo_p50_ms": demo["p50_ms"],
                "p50_ratio": round(row["p50_ms"] / demo["p50_ms"], 2),
                "cpu_ms": row["cpu_ms_per_request"],
                "demo_cpu_ms": demo["cpu_ms_per_request"],
                "cpu_ratio": round(row["cpu_ms_per_request"] / demo["cpu_ms_per_request"], 2),
            }
        )
    return found


def size_line(ratio: dict[str, Any]) -> str:
    return (
        f"side by side, {ratio['case']} ({ratio['backend']}, {ratio['auth']}): {ratio['size']} p50 "
        f"{ratio['p50_ms']} ms against the demo plans' {ratio['demo_p50_ms']}, {ratio['p50_ratio']:.2f}x; "
        f"CPU a turn {ratio['cpu_ms']} against {ratio['demo_cpu_ms']} ms, {ratio['cpu_ratio']:.2f}x"
    )


def _cores(row: dict[str, Any]) -> float:
    cpu = float(row.get("cpu_ms_per_request", float("nan")))
    return round(float(row["throughput"]) * cpu / 1000, 2)


def worker_line(ratio: dict[str, Any]) -> str:
    return (
        f"{ratio['workers']} workers against 1, {ratio['case']} at c{ratio['concurrency']} ({ratio['backend']}, "
        f"{ratio['size']}, {ratio['auth']}): {ratio['throughput']} against {ratio['one_worker']} msg/s, "
        f"{ratio['ratio']:.2f}x; the server kept {ratio['cores']} cores busy against {ratio['one_worker_cores']}"
    )


def table(rows: list[dict[str, Any]], markdown: bool) -> str:
    head = [c[0] for c in COLUMNS]
    body = [
        [_fmt(("yes" if r.get(key) else "") if key == "together" else r.get(key, "")) for _, key in COLUMNS]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)


def startups(rows: list[dict[str, Any]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for r in rows:
        found.setdefault(f"{r['server']} {r['auth']} {r['backend']} {r['size']}", r["startup_s"])
    return found


def write(results: dict[str, Any], folder: Path, stamp: str) -> Path:
    folder.mkdir(exist_ok=True)
    rows = results["rows"]
    add_ratios(rows)
    results["startup_s"] = startups(rows)
    results["workers"] = worker_ratios(rows)
    results["sizes"] = size_ratios(rows)
    out = folder / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    machine = results["machine"]
    md = [
        f"# Benchmark {stamp}",
        "",
        f"Python {machine['python']} on {machine['platform']}, {machine['cpus']} cores; load average at the end "
        f"{machine['load_average_at_end']}. {machine['note']}. Whole run: {results['run_seconds']} s.",
        "",
        table(rows, markdown=True),
        "",
        "Start-up to /readyz (s): " + ", ".join(f"{k}: {v}" for k, v in results["startup_s"].items()),
        "",
        *[f"- {worker_line(w)}" for w in results["workers"]],
        "",
        *[f"- {size_line(r)}" for r in results["sizes"]],
        "",
        f"Timings on the council-wide plan: {json.dumps(results['timings'])}",
        "",
        f"Data made (s, once, cached): {json.dumps(results['data_made_s'])}",
        *[f"- {n}" for n in results["notes"]],
    ]
    (folder / f"{stamp}.md").write_text("\n".join(md) + "\n")
    print()
    print(table(rows, markdown=False))
    print("\nstart-up to /readyz (s):", results["startup_s"])
    for ratio in results["workers"]:
        print(worker_line(ratio))
    for ratio in results["sizes"]:
        print(size_line(ratio))
    if results["timings"]:
        print("timings on the council-wide plan:", results["timings"])
    for note in results["notes"]:
        print("note:", note)
    if AGENTS_PYTHON.exists():  # matplotlib lives in the bench's own environment, not the product's
        plot = Path(__file__).with_name("plot.py")
        subprocess.run(
            [str(AGENTS_PYTHON), str(plot), str(out), str(folder / f"{stamp}.png")], check=False, timeout=120
        )
    return out


def profile_text(path: Path, turns: int, size: str = "demo", case: str = "my_actions", backend: str = "sqlite") -> str:
    stream = io.StringIO()
    stream.write(f"cProfile of {turns} '{case}' turns at concurrency 16 ({size} data, {backend}, anonymous)\n\n")
    stats = pstats.Stats(str(path), stream=stream)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    return stream.getvalue()

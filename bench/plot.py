"""The PNG plot of p50 against data size: run with bench/.agents-venv's python (matplotlib is there,
never in the product's environment). Reads a results JSON, writes a PNG.

    bench/.agents-venv/bin/python bench/plot.py results.json out.png
"""

from __future__ import annotations

import json
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SIZES = ["demo", "council", "national"]
LABELS = {
    "demo": "demo plans\n(2 partnerships)",
    "council": "council\n(3,000 actions)",
    "national": "national\n(500 x 60, 8 years)",
}


def main() -> None:
    with open(sys.argv[1]) as file:
        results = json.load(file)
    rows = [r for r in results["rows"] if r["server"] == "planbot" and r["concurrency"] == 1]
    together = [r for r in rows if r.get("together")]
    rows = together or rows  # the sizes measured side by side, where the run did
    sizes = [s for s in SIZES if any(r["size"] == s for r in rows)]
    if not sizes:
        return
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for auth, backend, case in sorted({(r["auth"], r["backend"], r["case"]) for r in rows}):
        points = [
            next(
                (
                    r["p50_ms"]
                    for r in rows
                    if (r["auth"], r["backend"], r["case"], r["size"]) == (auth, backend, case, s)
                ),
                None,
            )
            for s in sizes
        ]
        style = "-" if backend == "sqlite" else "--"
        marker = "o" if auth == "anonymous" else "s"
        ax.plot(range(len(sizes)), points, style, marker=marker, label=f"{case} ({backend}, {auth})")
    for name, colour in (("agents_echo", "green"), ("botbuilder_echo", "red"), ("floor", "grey")):
        base = [
            r["p50_ms"]
            for r in results["rows"]
            if r["server"] == name and r["concurrency"] == 1 and r["auth"] == "anonymous"
        ]
        if base:
            ax.axhline(base[0], color=colour, linestyle=":", label=f"{name} p50 (anonymous)")
    ax.set_xticks(range(len(sizes)), [LABELS[s] for s in sizes])
    ax.set_ylabel("p50 at concurrency 1 (ms)")
    ax.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")  # 6, not 6 x 10^0
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    how = ", sizes side by side" if together else ""
    ax.set_title(f"Plan Tracker p50 against data size ({results['date']}{how})")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(sys.argv[2])


if __name__ == "__main__":
    main()

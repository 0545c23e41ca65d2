"""How well identifying details are found: recall and precision per category and overall over the
corpus of progress notes (every set in tests/privacy/: notes.tsv tuned on, then the sets written
after tuning, in the order they were written), every miss and false alarm, and what the check
costs per note. Prints figures; asserts nothing.

    make privacy-report        # or: python -m bot.privacy.report [FILE ...]
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.privacy.detect import CATEGORY_OF, LABELS, kinds

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "privacy"
# The sets in the order they were written; any other .tsv there is reported after them.
ORDER = ("notes.tsv", "holdout.tsv", "unseen.tsv", "audit.tsv", "blind.tsv")


def sets() -> list[Path]:
    found = sorted(CORPUS.glob("*.tsv"))
    return sorted(found, key=lambda p: ORDER.index(p.name) if p.name in ORDER else len(ORDER))


@dataclass(frozen=True)
class Note:
    expected: frozenset[str]
    text: str


def read(path: Path) -> list[Note]:
    notes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        expected = frozenset(label.split(",")) - {"clean"}
        unknown = expected - set(LABELS)
        if unknown:
            raise ValueError(f"{path.name}: unknown category {sorted(unknown)} in: {text}")
        notes.append(Note(expected, text))
    return notes


def detected(text: str) -> frozenset[str]:
    return frozenset(CATEGORY_OF[k] for k in kinds(text))


def score(name: str, notes: list[Note]) -> None:
    tp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    misses, alarms = [], []
    took = []
    for note in notes:
        start = time.perf_counter()
        got = detected(note.text)
        took.append((time.perf_counter() - start) * 1000)
        for category in LABELS:
            if category in note.expected and category in got:
                tp[category] += 1
            elif category in note.expected:
                fn[category] += 1
                misses.append(f"  missed {category}: {note.text}")
            elif category in got:
                fp[category] += 1
                alarms.append(f"  false {category}: {note.text}")
    identifying = [n for n in notes if n.expected]
    clean = [n for n in notes if not n.expected]
    print(f"\n{name}: {len(notes)} notes, {len(identifying)} identifying, {len(clean)} clean")
    print(f"  {'category':16} {'recall':>8} {'precision':>10} {'notes':>6}")
    for category in LABELS:
        print(
            f"  {category:16} {_pct(tp[category], tp[category] + fn[category]):>8} "
            f"{_pct(tp[category], tp[category] + fp[category]):>10} {tp[category] + fn[category]:>6}"
        )
    t, n, p = sum(tp.values()), sum(fn.values()), sum(fp.values())
    print(f"  {'overall':16} {_pct(t, t + n):>8} {_pct(t, t + p):>10} {t + n:>6}   (over note and category pairs)")
    flagged = sum(1 for note in identifying if detected(note.text) >= note.expected)
    alarmed = sum(1 for note in clean if detected(note.text))
    print(f"  notes with every detail named: {flagged}/{len(identifying)}; clean notes flagged: {alarmed}/{len(clean)}")
    print("\n".join(misses + alarms) or "  no misses, no false alarms")
    took.sort()
    print(f"  per note: median {statistics.median(took):.2f} ms, p95 {took[int(0.95 * (len(took) - 1))]:.2f} ms")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def main(paths: list[str]) -> None:
    start = time.perf_counter()
    kinds("warm up: everything is built once per process")
    print(
        f"detector built in {time.perf_counter() - start:.2f} s; "
        f"process memory (max RSS) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    for path in [Path(p) for p in paths] or sets():
        score(path.name, read(path))


if __name__ == "__main__":
    main(sys.argv[1:])

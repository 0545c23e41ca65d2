"""`planbot serve`, as a subprocess of the benchmark, with the patches of `bench.patches` when
authentication is on.

    python -m bench.serve_bot [--openid URL] [--profile out.prof | --memory out.txt [--trace-allocations]]
        -- serve --port P

The settings (DATABASE_URL, MicrosoftAppId...) come from the environment, as for `planbot serve`.
With --profile, SIGUSR1 starts cProfile and SIGUSR2 stops it and writes the profile, so that only the
turns under load are in it (not start-up). With --memory, SIGUSR1 counts the live objects by type and
SIGUSR2 counts them again and writes what grew (with --trace-allocations, also the allocations made in
between and still held, by traceback: Python's tracemalloc, from SIGUSR1 on).
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import gc
import signal
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from bench.patches import point_at_local_keys


def dump_tasks(out: Path) -> None:
    """Every asyncio task of the running loop, with where it waits: to see what a stuck server waits for."""
    import asyncio

    with out.open("a") as file:
        for task in asyncio.all_tasks(asyncio.get_running_loop()):
            print(f"--- {task.get_name()}", file=file)
            awaiting: Any = task.get_coro()
            while awaiting is not None:  # down the chain of awaits: where the task really waits
                frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
                if frame is not None:
                    print(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}", file=file)
                awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None)


FRAMES = 10  # of each allocation's traceback: enough to reach the bot's own code from a library's
TOP = 30
NOISE = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"))


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip


def heap() -> dict[str, float]:
    """Where the process's memory is, in MB: resident, Python's own allocator (blocks in use), and
    glibc's malloc (bytes in use, and bytes freed but still held in its arenas)."""
    figures = {"rss": rss_mb(), "python_blocks": float(sys.getallocatedblocks())}
    if "_sqlite3" in sys.modules:  # SQLite's own heap: page caches and prepared statements
        sqlite = ctypes.CDLL(sys.modules["_sqlite3"].__file__)
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        figures["sqlite_in_use"] = sqlite.sqlite3_memory_used() / 1e6
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):  # not glibc
        return figures
    figures |= {"malloc_in_use": info.uordblks / 1e6, "malloc_free_held": info.fordblks / 1e6}
    figures |= {"malloc_mmapped": info.hblkhd / 1e6}
    return figures


def rss_mb() -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def trim() -> bool:
    """Give the freed memory glibc still holds back to the system (malloc_trim), if there is glibc."""
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def census() -> Counter[str]:
    """Live objects the collector tracks (containers and instances), counted by type."""
    gc.collect()  # what is only waiting for the collector is not growth
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


class Memory:
    """What grew between SIGUSR1 (after warm-up) and SIGUSR2: live objects counted by type at each,
    and with `trace`, the allocations made in between and still held, by line and by traceback.
    Tracing starts at SIGUSR1: tracing start-up, models included, would slow the server many times over,
    and even from there it slows every turn several times."""

    def __init__(self, out: Path, trace: bool) -> None:
        self.out = out
        self.trace = trace
        self.first: Counter[str] | None = None
        self.heaps: list[tuple[str, dict[str, float]]] = []

    def begin(self, signum: int, frame: FrameType | None) -> None:
        self.first = census()
        self.heaps.append(("first count", heap()))
        if self.trace:
            tracemalloc.start(FRAMES)

    def end(self, signum: int, frame: FrameType | None) -> None:
        if self.first is None:
            return
        second = census()
        self.heaps.append(("second count", heap()))
        held = tracemalloc.take_snapshot().filter_traces(NOISE) if tracemalloc.is_tracing() else None
        tracemalloc.stop()
        if trim():  # how much of the resident memory was only freed memory glibc had kept
            self.heaps.append(("after malloc_trim", heap()))
        grown = Counter({kind: second[kind] - self.first[kind] for kind in second})
        writing = self.out.with_suffix(".part")  # renamed when complete: the soak waits for the name
        with writing.open("w") as file:
            self.write(file, grown, second, held)
        writing.rename(self.out)

    def write(self, file: TextIO, grown: Counter[str], second: Counter[str], held: tracemalloc.Snapshot | None) -> None:
        first = self.first or Counter()
        print(f"live objects: {sum(first.values())} then {sum(second.values())}", file=file)
        print("\n## memory, MB (python_blocks: a count)", file=file)
        for when, figures in self.heaps:
            print(f"{when}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()), file=file)
        print(f"\n## live objects by type, most grown (top {TOP})", file=file)
        for kind, n in grown.most_common(TOP):
            print(f"{n:+8d}  {kind} ({first[kind]} -> {second[kind]})", file=file)
        if held is None:
            return
        total = sum(s.size for s in held.statistics("filename"))
        print(f"\n## allocated while traced and still held: {total / 1e6:.2f} MB; by line (top {TOP})", file=file)
        for stat in held.statistics("lineno")[:TOP]:
            print(stat, file=file)
        print(f"\n## by traceback (top {TOP})", file=file)
        for stat in held.statistics("traceback")[:TOP]:
            print(f"\n{stat.size / 1e3:.1f} kB in {stat.count} blocks", file=file)
            for line in stat.traceback.format(most_recent_first=True):
                print(line, file=file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--openid", help="OpenID metadata URL (authentication on)")
    signals = parser.add_mutually_exclusive_group()
    signals.add_argument("--profile", type=Path, help="where SIGUSR2 writes the profile begun by SIGUSR1")
    signals.add_argument("--memory", type=Path, help="where SIGUSR2 writes what grew since SIGUSR1")
    parser.add_argument("--trace-allocations", action="store_true", help="with --memory: by traceback too (slow)")
    parser.add_argument("--tasks", type=Path, help="where SIGQUIT writes every asyncio task's stack (a stuck server)")
    parser.add_argument("planbot", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.openid:
        point_at_local_keys(args.openid)
    if args.profile:
        profile = cProfile.Profile()

        def begin(signum: int, frame: FrameType | None) -> None:
            profile.enable()

        def end(signum: int, frame: FrameType | None) -> None:
            profile.disable()
            profile.dump_stats(str(args.profile))

        signal.signal(signal.SIGUSR1, begin)
        signal.signal(signal.SIGUSR2, end)
    if args.memory:
        memory = Memory(args.memory, args.trace_allocations)
        signal.signal(signal.SIGUSR1, memory.begin)
        signal.signal(signal.SIGUSR2, memory.end)
    if args.tasks:
        signal.signal(signal.SIGQUIT, lambda signum, frame: dump_tasks(args.tasks))
    from bot.cli import cli

    cli.main(args=[a for a in args.planbot if a != "--"], prog_name="planbot", standalone_mode=False)


if __name__ == "__main__":
    main()

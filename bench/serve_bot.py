"""`planbot serve`, as a subprocess of the benchmark, with the patches of `bench.patches` when
authentication is on.

    python -m bench.serve_bot [--openid URL] [--profile out.prof] -- serve --port P

The settings (DATABASE_URL, MicrosoftAppId...) come from the environment, as for `planbot serve`.
With --profile, SIGUSR1 starts cProfile and SIGUSR2 stops it and writes the profile, so that only the
turns under load are in it (not start-up).
"""

from __future__ import annotations

import argparse
import cProfile
import signal
from pathlib import Path
from types import FrameType
from typing import Any

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--openid", help="OpenID metadata URL (authentication on)")
    parser.add_argument("--profile", type=Path, help="where SIGUSR2 writes the profile begun by SIGUSR1")
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
    if args.tasks:
        signal.signal(signal.SIGQUIT, lambda signum, frame: dump_tasks(args.tasks))
    from bot.cli import cli

    cli.main(args=[a for a in args.planbot if a != "--"], prog_name="planbot", standalone_mode=False)


if __name__ == "__main__":
    main()

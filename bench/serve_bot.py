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

from bench.patches import point_at_local_keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--openid", help="OpenID metadata URL (authentication on)")
    parser.add_argument("--profile", type=Path, help="where SIGUSR2 writes the profile begun by SIGUSR1")
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
    from bot.cli import cli

    cli.main(args=[a for a in args.planbot if a != "--"], prog_name="planbot", standalone_mode=False)


if __name__ == "__main__":
    main()

"""How long a turn takes: "my actions" through the real adapter and handler, on the demo plans.

Prints figures; asserts nothing. `make bench` runs it. The first figures are with msrest's retry
policy as shipped (a list scanned 999 times for every client, and botbuilder makes clients every
turn), the second with the fix `bot.adapter.speed_up_msrest` applies.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

from msrest.universal_http.requests import ClientRetryPolicy

from tests.harness import demo_database, ncscp_plan, start_harness, teams_user

TURNS = 200


async def turns(count: int) -> list[float]:
    liam = teams_user(ncscp_plan(), "liam.foster@ncscp.example.org")
    with tempfile.TemporaryDirectory() as tmp:
        database = await demo_database(Path(tmp))
        async for bot in start_harness(database):
            await bot.one("my actions", liam)  # warm up: first connections, imports
            took = []
            for _ in range(count):
                start = time.perf_counter()
                await bot.one("my actions", liam)
                took.append((time.perf_counter() - start) * 1000)
        await database.dispose()
    return took


def report(label: str, took: list[float]) -> None:
    took.sort()
    p95 = took[int(len(took) * 0.95) - 1]
    print(f"{label}: {len(took)} turns, median {statistics.median(took):.1f} ms, p95 {p95:.1f} ms")


def main() -> None:
    per_client = timeit.timeit(ClientRetryPolicy, number=200) / 200 * 1000
    print(f"msrest retry policy as shipped: {per_client:.2f} ms per client")
    ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]
    fixed = timeit.timeit(ClientRetryPolicy, number=200) / 200 * 1000
    print(f"with the fix: {fixed:.3f} ms per client")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else TURNS
    report("'my actions' end to end (app, adapter, handler, SQLite, connector)", asyncio.run(turns(count)))


if __name__ == "__main__":
    main()

"""The one-off timings of issue 11, on the council-wide plan (3,000 actions):

- building every sub-group summary and the exception report (as the scheduler does before a BMG:
  the snapshot loaded, made shareable, each summary's text and card, the report's text and card);
- `planbot export` to XLSX and to DOCX (the BMG paper), as subprocesses;
- `planbot import` of the plan file into an empty SQLite database, as a subprocess.

Start-up to /readyz is measured with each server run (`bench.servers.Server.start`).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import datetime
from pathlib import Path

from bench.data import DATA, DATA_VERSION, personas, planbot, sqlite_url


async def _summaries(url: str) -> dict[str, float]:
    from bot import privacy, summaries
    from bot.views import for_channel, load_snapshot
    from storage.db import Database
    from storage.repositories import PartnershipRepository

    # The server sets up the identifying-details check at start-up, before its scheduler builds summaries:
    # so here too, timed apart (a `planbot summaries run` from cron pays it once per run).
    start = time.perf_counter()
    privacy.warm()
    warmed = time.perf_counter() - start
    database = Database(url)
    try:
        now = datetime.now().astimezone()
        start = time.perf_counter()
        cpu = time.process_time()
        async with database.transaction() as session:
            partnership = await PartnershipRepository(session).by_short_name(personas("council").short_name)
            snapshot = for_channel(await load_snapshot(session, partnership, now))
        loaded = time.perf_counter()
        meeting = snapshot.next_bmg or now.date()
        count = 0
        for group in snapshot.subgroups:
            if not snapshot.for_subgroup(group.id):
                continue
            summary = summaries.summary_for(snapshot, group, meeting)
            summaries.summary_text(summary, {})
            summaries.summary_card(summary, snapshot.people.get(group.chair_id or -1))
            count += 1
        summaries.exceptions_text(snapshot, [])
        summaries.exceptions_card(snapshot, meeting, [])
        built = time.perf_counter()
        cpu = time.process_time() - cpu
    finally:
        await database.dispose()
    return {
        "summaries_and_exceptions_s": round(built - start, 3),
        "summaries_and_exceptions_cpu_s": round(cpu, 3),  # less at the mercy of a busy machine
        "of_which_snapshot_s": round(loaded - start, 3),
        "summaries_built": count,
        "privacy_check_setup_s": round(warmed, 2),
    }


def council_timings(cached: Path, work: Path) -> dict[str, float]:
    """Every one-off timing, on a copy of the cached council database."""
    copy = work / "council-timings.db"
    shutil.copyfile(cached, copy)
    url = sqlite_url(copy)
    figures: dict[str, float] = {}
    figures.update(asyncio.run(_summaries(url)))
    short = personas("council").short_name
    for fmt in ("xlsx", "docx"):
        start = time.perf_counter()
        planbot(["export", "--partnership", short, "--format", fmt, "--out", str(work / f"council.{fmt}")], url)
        figures[f"export_{fmt}_s"] = round(time.perf_counter() - start, 2)
    plan = DATA / f"plans-council-v{DATA_VERSION}" / "council.yaml"
    if plan.exists():
        empty = work / "council-import.db"
        start = time.perf_counter()
        planbot(["import", str(plan)], sqlite_url(empty))
        figures["import_s"] = round(time.perf_counter() - start, 2)
    return figures

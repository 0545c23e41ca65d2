"""The demo's picture in figures: per partnership, how many actions are overdue, have missed reports,
miss an update, and their RAG counts, on the rebased demo. Prints figures; asserts nothing.

    .venv/bin/python -m tests.demo_figures [YYYY-MM-DD]

The date is "today" for the rebase (default: the tests' Monday 23 November 2026, 10:00 in London).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import Counter
from datetime import date, datetime, time
from pathlib import Path

from bot import cards
from bot.demo import load_demo
from bot.rules import LONDON, Rag
from bot.views import load_snapshot
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import PartnershipRepository


async def figures(today: date) -> list[str]:
    now = datetime.combine(today, time(10), tzinfo=LONDON)
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}"
        await upgrade(url)
        database = Database(url)
        try:
            async with database.transaction() as session:
                await load_demo(session, today)
                for partnership in await PartnershipRepository(session).all():
                    snap = await load_snapshot(session, partnership, now)
                    acts = snap.actions
                    passed_any = [
                        a for a in acts if a.rag is not Rag.BLUE and any(d.passed(now, snap.tz) for d in a.dues)
                    ]
                    rags = Counter(cards.rag_word(a.rag) for a in acts)
                    overdue = [f"{a.ref} {cards.rag_word(a.rag)}" for a in acts if a.overdue]
                    missed = [f"{a.ref} ({', '.join(d.label for d in a.missed)})" for a in acts if a.missed]
                    lines += [
                        f"{partnership.short_name}: {len(acts)} actions; "
                        + ", ".join(f"{n} {w}" for w, n in sorted(rags.items())),
                        f"  overdue (last milestone passed, not Blue): {len(overdue)}  {'; '.join(overdue)}",
                        f"  any milestone passed, not Blue (the old rule): {len(passed_any)}",
                        f"  with missed reports: {len(missed)} ({sum(len(a.missed) for a in acts)} reports)"
                        f"  {'; '.join(missed)}",
                        f"  no update since the last BMG ({snap.last_bmg}): {sum(a.missing for a in acts)}",
                    ]
        finally:
            await database.dispose()
    return lines


def main() -> None:
    today = date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else date(2026, 11, 23)
    print("\n".join(asyncio.run(figures(today))))


if __name__ == "__main__":
    main()

"""Retake docs/playground.png: the bot and the Agents Playground with the demo plans, a question
typed into the playground's web UI in headless Chromium, and a screenshot of the answer.

Needs Node.js (npm ci) and Debian's chromium: `apt-get install chromium`, then `make screenshot`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bot import playground
from bot.demo import load_demo
from bot.rules import local_today
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import PartnershipRepository

HERE = Path(__file__).resolve().parent
AS = "liam.foster@ncscp.example.org"  # a sub-group chair with a short list of actions
QUESTION, EXPECTED = "my actions", "Actions you lead, Liam"
BOT_PORT, PLAYGROUND_PORT = 3988, 56160


async def prepare(folder: Path) -> playground.PlaygroundSetup:
    url = f"sqlite+aiosqlite:///{folder / 'plan.db'}"
    await upgrade(url)
    database = Database(url)
    try:
        async with database.transaction() as session:
            await load_demo(session, local_today(datetime.now(UTC)))
            ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
            return await playground.setup_for(session, ncscp, AS)
    finally:
        await database.dispose()


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        setup = asyncio.run(prepare(folder))
        setup.write(folder)
        env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'plan.db'}"}
        log = folder / "bot.log"
        with log.open("wb") as bot_log:
            bot = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--port", str(BOT_PORT)],
                cwd=folder,
                env=env,
                stdout=bot_log,
                stderr=subprocess.STDOUT,
            )
        client = playground.start(
            f"http://127.0.0.1:{BOT_PORT}/api/messages", PLAYGROUND_PORT, folder, folder / "pg.log"
        )
        try:
            playground.wait_for(f"http://127.0.0.1:{BOT_PORT}/healthz", bot, log)
            playground.wait_until_ready(PLAYGROUND_PORT, client, folder / "pg.log")
            subprocess.run(
                [
                    "node",
                    str(HERE / "screenshot.mjs"),
                    f"http://localhost:{PLAYGROUND_PORT}",
                    QUESTION,
                    EXPECTED,
                    str(out),
                ],
                check=True,
                cwd=HERE.parent,
            )
        finally:
            client.terminate()
            bot.terminate()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "playground.png").resolve())

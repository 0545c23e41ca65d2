"""Retake docs/playground.png: the bot and the Agents Playground with the demo plans, a question
typed into the playground's web UI in headless Chromium, and a screenshot of the answer.

Needs Node.js (npm ci) and Debian's chromium: `apt-get install chromium`, then `make screenshot`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from bot import playground

HERE = Path(__file__).resolve().parent
AS = "liam.foster@ncscp.example.org"  # a sub-group chair with a short list of actions
QUESTION, EXPECTED = "my actions", "Actions you lead, Liam"
BOT_PORT, PLAYGROUND_PORT = 3988, 56160


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        setup = asyncio.run(playground.demo_setup(folder, AS))
        setup.write(folder)
        bot = playground.start_bot(playground.demo_database_url(folder), BOT_PORT, folder)
        endpoint = f"http://127.0.0.1:{BOT_PORT}/api/messages"
        client = playground.start(endpoint, PLAYGROUND_PORT, folder, folder / "playground.log")
        try:
            playground.wait_until_ready(PLAYGROUND_PORT, client, folder / "playground.log")
            page = f"http://localhost:{PLAYGROUND_PORT}"
            script = str(HERE / "screenshot.mjs")
            subprocess.run(["node", script, page, QUESTION, EXPECTED, str(out)], check=True, cwd=HERE.parent)
        finally:
            client.terminate()
            bot.terminate()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "playground.png").resolve())

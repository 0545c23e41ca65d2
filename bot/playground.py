"""The Microsoft 365 Agents Playground (a Teams client that runs offline) set up with a partnership's
people, for `make run` and the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Partnership, Person, Role
from storage.repositories import PeopleRepository, PlanRepository

PROJECT = Path(__file__).resolve().parents[1]
CLI = PROJECT / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CONFIG_NAME = ".m365agentsplayground.yml"
BOT_ID = "28:plan-tracker"
BOT_NAME = "Plan Tracker"
USERS = 5  # besides the current user, the playground takes exactly five


class PlaygroundUnavailableError(RuntimeError):
    """Node.js or the playground package is missing; the message says how to get it."""


def command(bot_endpoint: str, port: int) -> list[str]:
    node = shutil.which("node")
    if node is None:
        raise PlaygroundUnavailableError("Node.js is not installed, so the Agents Playground cannot run")
    if not CLI.exists():
        raise PlaygroundUnavailableError(f"the Agents Playground is not installed; run `npm ci` in {PROJECT}")
    return [node, str(CLI), "-e", bot_endpoint, "-c", "msteams", "-p", str(port), "--dt"]


def start(bot_endpoint: str, port: int, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start the playground with the config in `workdir`, without opening a browser."""
    env = {**os.environ, "TEAMSAPPTESTER_BROWSER": "none"}
    with log.open("ab") as out:
        return subprocess.Popen(command(bot_endpoint, port), cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until_ready(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 30.0) -> None:
    """Wait for the playground to answer; if it stops or never answers, say why from its log."""
    wait_for(f"http://127.0.0.1:{port}/_debug/ping", process, log, seconds)


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30.0) -> None:
    """Poll `url` until it answers 200; if the process stops first, or time runs out, say why."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PlaygroundUnavailableError(f"{url}: the process stopped: {_last_error(log)}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise PlaygroundUnavailableError(f"{url} did not answer within {seconds:.0f}s: {_last_error(log)}")


def _last_error(log: Path) -> str:
    """The playground writes its reasons to devTools/m365agentsplayground.log beside its config."""
    detail = log.parent / "devTools" / "m365agentsplayground.log"
    lines = (detail if detail.exists() else log).read_text(errors="replace").splitlines()
    reasons = [line for line in lines if line.startswith("error Reason:")]
    return reasons[-1].removeprefix("error Reason: ") if reasons else (lines[-1] if lines else "no output")


@dataclass(frozen=True)
class PlaygroundChannel:
    id: str
    name: str


@dataclass(frozen=True)
class PlaygroundSetup:
    config: dict[str, Any]
    current_user: str
    personal_chat: str
    team: str
    channels: list[PlaygroundChannel]

    def user_id(self, email: str) -> str:
        for user in [self.config["currentUser"], *self.config["users"]]:
            if user["email"] == email:
                return str(user["id"])
        raise KeyError(email)

    def write(self, folder: Path) -> Path:
        path = folder / CONFIG_NAME
        path.write_text(yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8")
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _user(person: Person) -> dict[str, Any]:
    given, _, surname = person.name.partition(" ")
    email = person.email or f"{_slug(person.name)}@example.org"
    return {
        "id": f"29:{_slug(person.name)}",
        "name": person.name,
        "userPrincipleName": email,  # the playground's own spelling
        "aadObjectId": person.aad_object_id or "",
        "givenName": given,
        "surname": surname or given,
        "email": email,
    }


ROLE_ORDER = {Role.ADMIN: 0, Role.LEAD: 1, Role.MEMBER: 2, Role.VIEWER: 3}


async def setup_for(
    session: AsyncSession,
    partnership: Partnership,
    current_email: str | None = None,
    include: tuple[str, ...] = (),
    channel_for: str | None = None,
) -> PlaygroundSetup:
    """A playground tenant that is the partnership's: the person named (or the first admin) at the
    keyboard, five more of its people as the other users (those in `include` first, then by role),
    and a team whose one channel (the playground allows one besides General) is named after the
    sub-group `channel_for`, or the one leading most actions."""
    people = [p for p in await PeopleRepository(session).people(partnership) if p.aad_object_id]
    if len(people) < USERS + 1:
        raise PlaygroundUnavailableError(f"the playground needs {USERS + 1} people with Entra object ids")
    me = next((p for p in people if p.email == current_email), None) if current_email else None
    me = me or next((p for p in people if p.role is Role.ADMIN), people[0])
    others = sorted(
        (p for p in people if p is not me), key=lambda p: (p.email not in include, ROLE_ORDER[p.role], p.name)
    )[:USERS]
    plan = await PlanRepository(session).current(partnership)
    leading = Counter(a.lead_subgroup_id for a in await PlanRepository(session).actions(plan) if a.lead_subgroup_id)
    groups = {g.id: g for g in await PeopleRepository(session).subgroups(partnership)}
    chosen = next((g for g in groups.values() if g.name == channel_for), None)
    chosen = chosen or groups[leading.most_common(1)[0][0]]
    team_id = f"19:{_slug(partnership.short_name)}-team@thread.tacv2"
    channels = [PlaygroundChannel(f"19:{_slug(chosen.name)}@thread.tacv2", chosen.name)]
    personal = f"personal-{_slug(me.name)}"
    current = _user(me)
    config: dict[str, Any] = {
        "version": "0.1.1",
        "tenantId": partnership.tenant_id,
        "bot": {"id": BOT_ID, "name": BOT_NAME},
        "currentUser": current,
        "users": [_user(p) for p in others],
        "personalChat": {"id": personal},
        "groupChat": {
            "id": f"group-{_slug(partnership.short_name)}",
            "name": f"{partnership.short_name} business unit",
        },
        "team": {
            "id": team_id,
            "name": f"{partnership.short_name} Partnership",
            "aadGroupId": "5d1f2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b",
            "channels": [{"id": c.id, "name": c.name} for c in channels],
        },
    }
    return PlaygroundSetup(config, str(current["id"]), personal, team_id, channels)


def demo_database_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'plan.db'}"


async def demo_setup(folder: Path, as_email: str, **choices: Any) -> PlaygroundSetup:
    """A fresh demo database in `folder` (the calendar moved to today) and the NCSCP playground on it,
    for the end-to-end tests and the README's screenshot."""
    from bot.demo import load_demo
    from bot.rules import local_today
    from storage.db import Database
    from storage.migrate import upgrade
    from storage.repositories import PartnershipRepository

    url = demo_database_url(folder)
    await upgrade(url)
    database = Database(url)
    try:
        async with database.transaction() as session:
            await load_demo(session, local_today(datetime.now(UTC)))
            ncscp = await PartnershipRepository(session).by_short_name("NCSCP")
            return await setup_for(session, ncscp, as_email, **choices)
    finally:
        await database.dispose()


def start_bot(database_url: str, port: int, folder: Path, scheduler: bool = False) -> subprocess.Popen[bytes]:
    """`planbot serve` as its own process, as the playground will reach it; returns once it answers.
    Its scheduler is off unless asked for: reminders arriving mid-test would depend on the hour."""
    log = folder / "bot.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            cwd=folder,
            env={**os.environ, "DATABASE_URL": database_url, "PLANBOT_SCHEDULER": str(scheduler).lower()},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for(f"http://127.0.0.1:{port}/healthz", process, log)
    return process

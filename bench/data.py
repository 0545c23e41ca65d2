"""The data sizes, made through the project's own import: plan files written here, then `planbot import`.

- demo: the two demo plans (`planbot demo --rebase`);
- national: 500 partnerships x 60 actions, 8 years of history, three updates per action per year
  (720,000 updates);
- council: one plan of 3,000 actions, 300 sub-groups, 2,000 people, 2 years of history.

Big sizes are slow to make, so each is made once into bench/.data, keyed by DATA_VERSION: a SQLite
file, and on PostgreSQL a template database `bench_<size>_v<version>`; each server run gets a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, user

DATA_VERSION = "1"
DATA = ROOT / ".data"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432"
SIZES = ("demo", "national", "council")
FIRST = ["Alex", "Sam", "Jo", "Chris", "Pat", "Morgan", "Ali", "Ruth", "Nadia", "Tom", "Grace", "Imran", "Eve", "Ben"]
LAST = ["Hughes", "Patel", "Khan", "Evans", "Walsh", "Price", "Reid", "Shaw", "Lowe", "Byrne", "Kerr", "Moss", "Cole"]
NOTES = [
    "Partner returns reviewed at the sub-group; evidence gathered from agencies",
    "Training delivered across the partnership and feedback collected",
    "Audit findings agreed, actions assigned to leads",
    "Waiting for two agency returns before the next review",
    "Task and finish group met; draft guidance circulated for comment",
    "Dataset refreshed and reported to the performance group",
    "Milestone moved after agency restructure, new plan agreed",
    "Multi-agency workshop held, learning shared with front line teams",
]
RAGS = ["green", "amber", "green", "red", "green", "amber", "blue"]


@dataclass(frozen=True)
class Shape:
    partnerships: int
    objectives: int
    per_objective: int
    subgroups: int
    people: int
    years: int
    per_year: int = 3


SHAPES = {
    "national": Shape(partnerships=500, objectives=10, per_objective=6, subgroups=8, people=16, years=8),
    "council": Shape(partnerships=1, objectives=100, per_objective=30, subgroups=300, people=2000, years=2),
    # The soak's (bench/soak.py): 20 partnerships of 25 people each, 500 people in all.
    "soak": Shape(partnerships=20, objectives=5, per_objective=6, subgroups=5, people=25, years=2),
}


@dataclass(frozen=True)
class Personas:
    """Who asks in each case: a lead (my actions), the business unit (overdue), the lead of 4.2 and 7.3."""

    tenant: str
    short_name: str
    lead: dict[str, str]
    admin: dict[str, str]
    updater: dict[str, str]

    def people(self) -> dict[str, dict[str, str]]:
        return {"lead": self.lead, "admin": self.admin, "updater": self.updater}


def _aad(text: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"plan-tracker-bench:{text}"))


def _short(index: int, size: str) -> str:
    return "COUNCIL" if size == "council" else f"P{index:03d}"


def personas(size: str) -> Personas:
    if size == "demo":
        from bot.demo import demo_files
        from storage.planfile import load_plan_file

        plan = load_plan_file(next(p for p in demo_files() if p.name.startswith("ncscp")))

        def person(email: str) -> dict[str, str]:
            found = next(p for p in plan.people if p.email == email)
            assert found.aad_object_id and found.email
            return user(found.name, found.email, found.aad_object_id)

        assert plan.partnership.tenant_id
        return Personas(
            plan.partnership.tenant_id,
            plan.partnership.short_name,
            person("liam.foster@ncscp.example.org"),
            person("priya.shah@ncscp.example.org"),
            person("fiona.mcleod@ncscp.example.org"),
        )
    index = SHAPES[size].partnerships // 2  # a partnership in the middle of the national deployment
    short = _short(index, size)
    domain = f"{short.lower()}.example.org"
    admin, lead = _person_spec(0, domain), _person_spec(1, domain)
    return Personas(
        _aad(f"tenant:{short}"),
        short,
        user(lead["name"], lead["email"], lead["aad_object_id"]),
        user(admin["name"], admin["email"], admin["aad_object_id"]),
        user(lead["name"], lead["email"], lead["aad_object_id"]),
    )


def _person_spec(j: int, domain: str) -> dict[str, Any]:
    name = f"{FIRST[j % len(FIRST)]} {LAST[(j // len(FIRST)) % len(LAST)]}"
    email = f"person{j}@{domain}"
    role = "admin" if j == 0 else "lead" if j < 40 else "member"
    return {"name": name, "email": email, "job_title": f"Officer {j}", "role": role, "aad_object_id": _aad(email)}


def plan_file(size: str, index: int, today: date) -> dict[str, Any]:
    """One partnership's plan file (as data: JSON is YAML, and the importer reads it as a plan file)."""
    shape = SHAPES[size]
    short = _short(index, size)
    domain = f"{short.lower()}.example.org"
    people = [_person_spec(j, domain) for j in range(shape.people)]
    emails = [p["email"] for p in people]
    groups = []
    for k in range(shape.subgroups):
        chair = emails[1] if k == 0 else emails[1 + (k % (len(emails) - 1))]
        members = [emails[1 + ((k * 7 + m) % (len(emails) - 1))] for m in range(1, 5)]
        groups.append({"name": f"Sub-group {k + 1}", "chair": chair, "members": sorted(set(members) - {chair})})
    starts = today.replace(year=today.year - shape.years)
    ends = today.replace(year=today.year + 1)
    span = (ends - starts).days
    objectives = []
    counter = 0
    for o in range(1, shape.objectives + 1):
        actions = []
        for a in range(1, shape.per_objective + 1):
            ref = f"{o}.{a}"
            counter += 1
            lead = emails[1] if ref in {"4.2", "7.3"} else f"Sub-group {1 + counter % shape.subgroups}"
            first_due = starts + timedelta(days=(counter * 37) % span)
            second_due = first_due + timedelta(days=180)
            updates = []
            for y in range(shape.years):
                for u in range(shape.per_year):
                    at = starts + timedelta(days=365 * y + 120 * u + (counter % 60))
                    if at >= today:
                        continue
                    n = counter + y * 3 + u
                    updates.append(
                        {
                            "at": f"{at.isoformat()}T10:30:00+00:00",
                            "rag": RAGS[n % len(RAGS)],
                            "comment": NOTES[n % len(NOTES)],
                            "by": emails[1 + (n % (len(emails) - 1))],
                        }
                    )
            actions.append(
                {
                    "ref": ref,
                    "description": f"Deliver improvement {ref} across the partnership's agencies",
                    "lead": lead,
                    "measures": [
                        {"text": f"Evidence that improvement {ref} is embedded", "due": [first_due.isoformat()]},
                        {"text": "Audit shows practice has changed", "due": [second_due.isoformat()[:7]]},
                    ],
                    "updates": updates,
                }
            )
        objectives.append({"number": o, "priority": 1 + o % 3, "title": f"Objective {o}", "actions": actions})
    meetings = []
    day = starts + timedelta(days=20)
    while day < ends:
        meetings.append(day.isoformat())
        day += timedelta(days=91)
    return {
        "partnership": {
            "name": f"Bench Partnership {short}",
            "short_name": short,
            "tenant_id": _aad(f"tenant:{short}"),
        },
        "plan": {
            "title": f"Business Plan {starts.year}-{ends.year}",
            "starts": starts.isoformat(),
            "ends": ends.isoformat(),
        },
        "people": people,
        "subgroups": groups,
        "priorities": [{"number": n, "title": f"Priority {n}"} for n in (1, 2, 3)],
        "objectives": objectives,
        "meetings": meetings,
    }


def write_plans(size: str, folder: Path, today: date) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(SHAPES[size].partnerships):
        path = folder / f"{_short(index, size).lower()}.yaml"
        path.write_text(json.dumps(plan_file(size, index, today)))
        paths.append(path)
    return paths


def planbot(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """Run the real `planbot` command line against the database at url."""
    env = {**os.environ, "DATABASE_URL": url, "PLANBOT_SCHEDULER": "false"}
    exe = str(Path(sys.executable).with_name("planbot"))
    return subprocess.run([exe, *args], env=env, check=True, capture_output=True, text=True, timeout=3600)


def import_many(paths: list[Path], url: str) -> None:
    """`planbot import` for each file, in one process (the same click command, without 500 start-ups)."""
    code = (
        "import sys\nfrom bot.cli import cli\n"
        "for path in sys.argv[1:]:\n"
        "    cli.main(args=['import', path], prog_name='planbot', standalone_mode=False)\n"
    )
    env = {**os.environ, "DATABASE_URL": url, "PLANBOT_SCHEDULER": "false"}
    subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)], env=env, check=True, stdout=subprocess.DEVNULL, timeout=6 * 3600
    )


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def pg_url(name: str) -> str:
    return f"{PG_ADMIN}/{name}"


def _psql(sql: str) -> str:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.stdout.strip()


def pg_available() -> bool:
    try:
        _psql("SELECT 1")
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _cached_name(size: str) -> str:
    return f"bench_{size}_v{DATA_VERSION}"


_UPGRADED: set[str] = set()


def _upgraded(cached: str, url: str) -> None:
    """The cached database brought to the schema of this checkout, as a deployment's `planbot db
    upgrade` would before the server starts (`planbot serve` does not migrate): once a run."""
    if cached not in _UPGRADED:
        planbot(["db", "upgrade"], url)
        _UPGRADED.add(cached)


def prepare(size: str, backend: str, log: Any = print) -> tuple[str, float | None]:
    """The cached database for this size on this backend, made if missing and brought to this
    checkout's schema; and how long making took."""
    today = datetime.now().astimezone().date()
    DATA.mkdir(exist_ok=True)
    made: float | None = None
    if backend == "sqlite":
        target = DATA / f"{size}-v{DATA_VERSION}.db"
        if not target.exists():
            making = DATA / f"making-{size}.db"
            made = _make(size, sqlite_url(making), today, log)
            shutil.move(making, target)
            _remember_made(size, backend, made)
            for extra in ("-wal", "-shm"):
                Path(f"{making}{extra}").unlink(missing_ok=True)
        _upgraded(str(target), sqlite_url(target))
        return str(target), made
    name = _cached_name(size)
    if _psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        making_db = f"bench_making_{size}"
        _psql(f"DROP DATABASE IF EXISTS {making_db}")
        _psql(f"CREATE DATABASE {making_db}")
        made = _make(size, pg_url(making_db), today, log)
        _psql(f"ALTER DATABASE {making_db} RENAME TO {name}")
        _remember_made(size, backend, made)
    _upgraded(name, pg_url(name))
    return name, made


def _remember_made(size: str, backend: str, seconds: float) -> None:
    made = DATA / "made.json"
    figures = json.loads(made.read_text()) if made.exists() else {}
    figures[f"{size}/{backend}/v{DATA_VERSION}"] = round(seconds, 1)
    made.write_text(json.dumps(figures, indent=1))


def data_made() -> dict[str, float]:
    """How long each cached data size took to make, when it was made."""
    made = DATA / "made.json"
    figures: dict[str, float] = json.loads(made.read_text()) if made.exists() else {}
    return figures


def _make(size: str, url: str, today: date, log: Any) -> float:
    start = time.perf_counter()
    log(f"making the {size} data ({url.split('/')[-1]}); done once, then cached")
    if size == "demo":
        planbot(["demo", "--rebase"], url)
    else:
        paths = write_plans(size, DATA / f"plans-{size}-v{DATA_VERSION}", today)
        import_many(paths, url)
    took = time.perf_counter() - start
    log(f"made the {size} data in {took:.0f} s")
    return took


def working_copy(size: str, backend: str, run_dir: Path) -> str:
    """A copy of the cached database for one server run (the update cases write to it)."""
    cached, _ = prepare(size, backend)
    if backend == "sqlite":
        copy = run_dir / f"{size}.db"
        shutil.copyfile(cached, copy)
        return sqlite_url(copy)
    name = f"bench_run_{size}"
    _psql(f"DROP DATABASE IF EXISTS {name}")
    _psql(f"CREATE DATABASE {name} TEMPLATE {cached}")
    return pg_url(name)


def drop_working(size: str) -> None:
    _psql(f"DROP DATABASE IF EXISTS bench_run_{size}")

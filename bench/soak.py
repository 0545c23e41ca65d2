"""`make soak`: many messages from many people against one `planbot serve`, with a Bot Connector that
fails a tenth of the replies, and the checks of issue 12 (see bench/README.md, "Soak").

    python -m bench.soak [--messages 50000] [--concurrency 32] [--backends postgresql[,sqlite]]
    python -m bench.soak mock --port P --jwks F --fault-rate 0.1 --hold 4   (the faulty connector)

Everything runs on 127.0.0.1; the load stops after --messages messages or --seconds seconds, whichever
comes first, and every request has a timeout. The bench pieces are reused: the mock connector
(`bench.mock`, with a fault-injecting middleware added here), the activities (`bench.common`), the
data made through `planbot import` (`bench.data`, size "soak") and the server runner (`bench.servers`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench import mock
from bench.common import APP_ID, APP_TENANT, HOST, ROOT, free_port, invoke, loopback, make_key, message, token, user
from bench.data import SHAPES, _psql, pg_available, pg_url, plan_file, prepare, sqlite_url
from bench.loadgen import percentile
from bench.servers import Server

RESULTS = ROOT / "results"
SIZE = "soak"
PG_DATABASE = "soak"  # the working copy on PostgreSQL (made from the cached template, dropped after)
FAULTS = ("429", "500", "502", "timeout", "drop")
SEND_TIMEOUT = 2.0  # the bot's PLANBOT_SEND_TIMEOUT in the soak; a "timeout" fault holds twice as long
REQUEST_TIMEOUT = 60.0  # the load generator's limit on one request to the bot
SAMPLE_EVERY = 5.0  # seconds between RSS samples
WARMUP = 0.10  # the share of the messages before RSS is taken as settled
TRACE_FROM = 0.25  # with --memory, the share of the messages before the first count of what is held
QUERIES = ("my actions", "what's overdue?", "show {ref}", "plan status")
SESSIONS = {"query": 0.50, "update": 0.27, "card": 0.13, "dialog": 0.10}  # chosen per session, not per message
REDELIVER = 0.02  # of updates and card submits, sent twice with the same id (as Teams may)
RESEND_AFTER_5XX = (1.0, 2.0, 4.0)  # Teams delivers an activity answered 5xx again: these waits, same id
TOKEN_EVERY = 600.0  # seconds between fresh tokens, when authenticated (each is good for an hour)
ACTIVITY = re.compile(r"activity (\S+)")


# --- The faulty connector: bench.mock's app, with a middleware that fails some replies ---------------------


def fault_middleware(rate: float, hold: float, seed: int, outcomes: list[dict[str, Any]]) -> Any:
    """On `rate` of the replies (POSTs of activities), one of FAULTS chosen evenly; every reply's outcome
    is recorded: which activity it answered, its text, and delivered or the fault (a reply held past
    the bot's timeout is then delivered, late, and recorded twice: the fault, then delivered)."""
    rng = random.Random(seed)

    @web.middleware
    async def faults(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        if request.method != "POST" or "/activities" not in request.path:
            return await handler(request)
        body = await request.read()  # kept by aiohttp: the handler reads it again
        try:
            sent = json.loads(body)
        except ValueError:
            sent = {}
        reply_to = request.match_info.get("reply_to") or sent.get("replyToId") or ""
        text = str(sent.get("text") or sent.get("summary") or "")[:120]
        fault = rng.choice(FAULTS) if rng.random() < rate else None
        outcomes.append({"reply_to": reply_to, "text": text, "outcome": fault or "delivered"})
        if fault is None:
            return await handler(request)
        if fault == "429":
            error = {"error": {"code": "Throttled", "message": "Too many requests"}}
            return web.json_response(error, status=429, headers={"Retry-After": "1"})
        if fault in {"500", "502"}:
            error = {"error": {"code": "ServiceError", "message": f"injected {fault}"}}
            return web.json_response(error, status=int(fault))
        if fault == "timeout":
            await asyncio.sleep(hold)  # the bot has given up by now, but the reply arrives all the same
            outcomes.append({"reply_to": reply_to, "text": text, "outcome": "delivered"})
            return await handler(request)
        assert request.transport is not None
        request.transport.abort()  # the connection dropped, with no answer at all
        return web.Response(status=201)

    return faults


def mock_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak mock")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", type=Path, required=True)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--hold", type=float, default=2 * SEND_TIMEOUT)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    outcomes: list[dict[str, Any]] = []
    app = mock.create_app(json.loads(args.jwks.read_text()))
    app.middlewares.append(fault_middleware(args.fault_rate, args.hold, args.seed, outcomes))

    async def soak_outcomes(request: web.Request) -> web.Response:
        return web.json_response(outcomes)

    app.router.add_get("/soak/outcomes", soak_outcomes)
    web.run_app(app, host=HOST, port=args.port, print=None, access_log=None)


# --- The people, and what each may update -----------------------------------------------------------------


@dataclass(frozen=True)
class Someone:
    account: dict[str, str]
    tenant: str
    refs: tuple[str, ...]  # the actions this person may update (empty: queries only)
    all_refs: tuple[str, ...]


def people() -> list[Someone]:
    """The soak's 500 people, from the same plan files `planbot import` read (bench.data.plan_file)."""
    today = datetime.now().astimezone().date()
    found = []
    for index in range(SHAPES[SIZE].partnerships):
        plan = plan_file(SIZE, index, today)
        tenant = plan["partnership"]["tenant_id"]
        actions = [a for o in plan["objectives"] for a in o["actions"]]
        all_refs = tuple(a["ref"] for a in actions)
        for p in plan["people"]:
            groups = {g["name"] for g in plan["subgroups"] if p["email"] == g["chair"] or p["email"] in g["members"]}
            mine = (
                all_refs
                if p["role"] == "admin"
                else tuple(a["ref"] for a in actions if a["lead"] in groups | {p["email"]})
            )
            found.append(Someone(user(p["name"], p["email"], p["aad_object_id"]), tenant, mine, all_refs))
    return found


# --- The load generator -----------------------------------------------------------------------------------


@dataclass
class Load:
    url: str
    service_url: str
    messages: int
    concurrency: int
    seconds: float
    seed: int = 7
    queries_only: bool = False  # no writes: does memory still grow when the plans do not?
    sign: Callable[[], str] | None = None  # a channel token for the Authorization header (authenticated)
    alive: Callable[[], bool] = lambda: True  # is the server still running? The load stops if not
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    took: list[float] = field(default_factory=list)
    updates: set[str] = field(default_factory=set)  # activity ids meant to store an update
    card_saved: set[str] = field(default_factory=set)  # card submits answered with the updated card
    messages_ok: set[str] = field(default_factory=set)  # message activities the bot accepted (2xx)
    redelivered: int = 0
    resent: Counter[str] = field(default_factory=Counter)  # activities answered 5xx, delivered again
    sent_twice: set[str] = field(default_factory=set)  # activity ids posted more than once, for any reason
    _token: tuple[float, str] | None = None
    errors: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def new_id(self) -> str:
        return f"soak{self.run}-{next(self._ids)}"

    def headers(self) -> dict[str, str]:
        if self.sign is None:
            return {}
        if self._token is None or time.monotonic() - self._token[0] > TOKEN_EVERY:
            self._token = (time.monotonic(), self.sign())
        return {"Authorization": f"Bearer {self._token[1]}"}

    async def post(self, session: aiohttp.ClientSession, activity: dict[str, Any]) -> tuple[int, bytes]:
        """Deliver an activity as Teams does: answered 5xx, it is delivered again with the same id after
        a short wait, a few times (each answer counted in `statuses`; what came of it in `resent`)."""
        status, body = await self._post_once(session, activity)
        for wait in RESEND_AFTER_5XX:
            if status < 500:
                break
            await asyncio.sleep(wait)
            self.resent["delivered again after 5xx"] += 1
            self.sent_twice.add(activity["id"])
            status, body = await self._post_once(session, activity)
            if status < 500:
                self.resent[f"then answered {status}" if status else "then no answer"] += 1
        else:
            if status >= 500:
                self.resent["still 5xx after every delivery"] += 1
        return status, body

    async def _post_once(self, session: aiohttp.ClientSession, activity: dict[str, Any]) -> tuple[int, bytes]:
        self.sent += 1
        start = time.perf_counter()
        try:
            async with session.post(self.url, json=activity, headers=self.headers()) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.statuses[type(exc).__name__] += 1
            if len(self.errors) < 5:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return 0, b""
        self.took.append((time.perf_counter() - start) * 1000)
        self.statuses[str(status)] += 1
        if status >= 500 and len(self.errors) < 5:
            self.errors.append(f"HTTP {status}: {body[:200]!r}")
        if activity["type"] == "message" and 200 <= status < 300:
            self.messages_ok.add(activity["id"])
        return status, body

    async def say(self, session: aiohttp.ClientSession, who: Someone, text: str, update: bool = False) -> None:
        activity = message(text, who.account, who.tenant, self.service_url)
        activity["id"] = self.new_id()
        if update:
            self.updates.add(activity["id"])
        await self.post(session, activity)

    async def session_of(self, session: aiohttp.ClientSession, who: Someone, rng: random.Random) -> None:
        chosen = rng.choices(list(SESSIONS), weights=list(SESSIONS.values()))[0]
        kind = chosen if who.refs and not self.queries_only else "query"
        self.kinds[kind] += 1
        ref = rng.choice(who.refs) if who.refs else rng.choice(who.all_refs)
        n = self.sent
        if kind == "query":
            await self.say(session, who, rng.choice(QUERIES).format(ref=rng.choice(who.all_refs)))
        elif kind == "update":
            rag = rng.choice(("green", "amber"))
            activity = message(
                f"{ref} {rag}: partner returns reviewed, soak round {n}", who.account, who.tenant, self.service_url
            )
            activity["id"] = self.new_id()
            self.updates.add(activity["id"])
            await self.post(session, activity)
            if rng.random() < REDELIVER:
                self.redelivered += 1
                self.sent_twice.add(activity["id"])
                await self.post(session, activity)
        elif kind == "card":
            data = {"verb": "save_update", "ref": ref, "rag": "green", "note": f"Card update {n}, audit on track"}
            activity = invoke("save_update", data, who.account, who.tenant, self.service_url)
            activity["id"] = self.new_id()
            self.updates.add(activity["id"])
            for attempt in range(2 if rng.random() < REDELIVER else 1):
                self.redelivered += attempt
                if attempt:
                    self.sent_twice.add(activity["id"])
                status, body = await self.post(session, activity)
                if status == 200 and b"Updated by" in body:
                    self.card_saved.add(activity["id"])
        else:  # the guided dialog: update, the action, a rating, a note, skip the revised date, save
            for text in ("update", ref, "green", f"Dialog note {n}, training delivered", "skip"):
                await self.say(session, who, text)
            await self.say(session, who, "save", update=True)

    async def go(self, everyone: list[Someone]) -> float:
        loopback(self.url)
        rng = random.Random(self.seed)
        free: asyncio.Queue[Someone] = asyncio.Queue()
        for who in rng.sample(everyone, len(everyone)):  # one session at a time per person, as in Teams
            free.put_nowait(who)
        deadline = time.perf_counter() + self.seconds
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def worker(number: int) -> None:
                mine = random.Random(self.seed * 1000 + number)
                while self.sent < self.messages and time.perf_counter() < deadline and self.alive():
                    who = await free.get()
                    try:
                        await self.session_of(session, who, mine)
                    finally:
                        free.put_nowait(who)

            start = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(self.concurrency)))
            return time.perf_counter() - start


# --- Resident memory, sampled ----------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), None)
    return round(int(line.split()[1]) / 1024, 1) if line else None


async def sample_rss(
    pid: int, load: Load, samples: list[tuple[float, int, float]], stop: asyncio.Event, traced: bool = False
) -> None:
    """VmRSS every SAMPLE_EVERY seconds; with `traced`, the server first counts what it holds after
    TRACE_FROM of the messages (bench.serve_bot --memory)."""
    start = time.perf_counter()
    while not stop.is_set():
        mb = rss_mb(pid)
        if mb is not None:
            samples.append((round(time.perf_counter() - start, 1), load.sent, mb))
        if traced and load.sent >= TRACE_FROM * load.messages:
            os.kill(pid, signal.SIGUSR1)
            traced = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)


def second_snapshot(pid: int, out: Path) -> None:
    """Ask the server for what grew since its first count, and wait for it to be written."""
    out.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 300  # comparing snapshots of a large heap takes a while
    while time.monotonic() < deadline and not out.exists():
        time.sleep(1)
    time.sleep(1)


def rss_figures(samples: list[tuple[float, int, float]], messages: int) -> dict[str, Any]:
    settled = [s for s in samples if s[1] >= WARMUP * messages] or samples[-1:]
    if not settled:
        return {"samples": 0}
    first, last = settled[0][2], settled[-1][2]
    top = max(s[2] for s in settled)
    return {
        "samples": len(samples),
        "start_mb": samples[0][2],
        "first_after_warmup_mb": first,
        "last_mb": last,
        "max_after_warmup_mb": top,
        "growth_pct": round(100 * (last - first) / first, 1),
        "max_over_first_pct": round(100 * (top - first) / first, 1),
        "flat": top <= 1.10 * first and last <= 1.10 * first,
    }


# --- The checks -------------------------------------------------------------------------------------------


def query(url: str, sql: str, *params: str) -> list[tuple[str, ...]]:
    """Rows of a read-only query on the working database, as text (SQLite in process, PostgreSQL by psql)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as db:
            return [tuple(str(v) for v in row) for row in db.execute(sql.replace("%s", "?"), params).fetchall()]
    for value in params:
        sql = sql.replace("%s", "'" + value.replace("'", "''") + "'", 1)
    out = subprocess.run(
        ["psql", "-h", HOST, "-U", "postgres", "-d", url.rsplit("/", 1)[1], "-tA", "-F", "\t", "-c", sql],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]


def plan_size(url: str) -> int:
    """Every progress update in the plans (the history a plan's snapshot holds grows with it)."""
    return int(query(url, "SELECT count(*) FROM progress_update")[0][0])


def stored(url: str, run: str) -> Counter[str]:
    """progress_update rows whose activity id is one of this run's, counted per activity id."""
    rows = query(
        url,
        "SELECT activity_id, count(*) FROM progress_update WHERE activity_id LIKE %s GROUP BY activity_id",
        f"soak{run}-%",
    )
    return Counter({activity: int(n) for activity, n in rows})


def reported(log: Path) -> tuple[set[str], Counter[str]]:
    """Activity ids the bot's log names in a warning or error, and how many such lines of each kind."""
    ids: set[str] = set()
    kinds: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if " WARNING " not in line and " ERROR " not in line:
            continue
        if (found := ACTIVITY.search(line)) is not None:
            ids.add(found.group(1).rstrip(".,;:"))
        head = line.split(": ", 1)[1] if ": " in line else line
        kinds[re.sub(r"soak\w+-\d+|\d+(\.\d+)?", "N", head)[:90]] += 1
    return ids, kinds


def check(load: Load, outcomes: list[dict[str, Any]], rows: Counter[str], log: Path) -> dict[str, Any]:
    mine = [o for o in outcomes if str(o["reply_to"]).startswith(f"soak{load.run}-")]
    said_saved = {o["reply_to"] for o in mine if o["outcome"] == "delivered" and o["text"].startswith("Saved:")}
    acknowledged = said_saved | load.card_saved
    stored_ids = set(rows)
    delivered = {(o["reply_to"], o["text"]) for o in mine if o["outcome"] == "delivered"}
    # the same reply delivered twice to an activity Teams delivered once: a send that timed out had
    # arrived after all, and was sent again (bot.adapter's choice)
    twice = Counter((o["reply_to"], o["text"]) for o in mine if o["outcome"] == "delivered")
    repeated = [k for k, n in twice.items() if n > 1 and k[0] not in load.sent_twice]
    faulted = [o for o in mine if o["outcome"] != "delivered"]
    named, log_kinds = reported(log)
    retried_ok = [o for o in faulted if (o["reply_to"], o["text"]) in delivered]
    unaccounted = [o for o in faulted if (o["reply_to"], o["text"]) not in delivered and o["reply_to"] not in named]
    answered = {o["reply_to"] for o in mine}
    return {
        "updates_sent": len(load.updates),
        "acknowledged": len(acknowledged),
        "acknowledged_by_reply": len(said_saved),
        "acknowledged_by_card": len(load.card_saved),
        "stored": len(stored_ids),
        "lost": sorted(acknowledged - stored_ids)[:10],
        "lost_count": len(acknowledged - stored_ids),
        "duplicates": {k: v for k, v in rows.items() if v > 1},
        "stored_not_acknowledged": len(stored_ids - acknowledged),
        "stored_not_meant": len(stored_ids - load.updates),
        "replies_attempted": len(mine),
        "replies_delivered": len(mine) - len(faulted),
        "faults": dict(Counter(o["outcome"] for o in faulted)),
        "faulted_then_delivered": len(retried_ok),
        "faulted_reported": len(faulted) - len(retried_ok) - len(unaccounted),
        "faulted_unaccounted": len(unaccounted),
        "replies_delivered_twice": len(repeated),
        "unaccounted_sample": unaccounted[:5],
        "messages_without_reply": len(load.messages_ok - answered),
        "log_warnings": dict(log_kinds.most_common(12)),
    }


# --- One run against one backend --------------------------------------------------------------------------


def working_database(backend: str, folder: Path) -> str:
    cached, _ = prepare(SIZE, backend, print)
    if backend == "sqlite":
        copy = folder / "soak.db"
        shutil.copyfile(cached, copy)
        return sqlite_url(copy)
    _psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    _psql(f"CREATE DATABASE {PG_DATABASE} TEMPLATE {cached}")
    return pg_url(PG_DATABASE)


def outcomes_of(port: int) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(f"http://{HOST}:{port}/soak/outcomes", timeout=60) as response:
        found: list[dict[str, Any]] = json.load(response)
        return found


def soak_one(backend: str, args: argparse.Namespace, folder: Path, mock_port: int) -> dict[str, Any]:
    url = working_database(backend, folder)
    service_url = f"http://{HOST}:{mock_port}"
    authenticated = args.auth == "authenticated"
    env = {
        "DATABASE_URL": url,
        "PLANBOT_SCHEDULER": "false",
        "PLANBOT_LINK_SECRET": "soak",
        "PLANBOT_SEND_TIMEOUT": str(SEND_TIMEOUT),
    }
    if authenticated:  # tokens signed by the run's key, checked against the mock's OpenID keys (bench.patches)
        env.update(MicrosoftAppId=APP_ID, MicrosoftAppPassword="not-used-offline", MicrosoftAppTenantId=APP_TENANT)
    argv = [
        sys.executable,
        "-m",
        "bench.serve_bot",
        "--tasks",
        str(folder / f"tasks-{backend}.txt"),
        *(["--memory", str(folder / f"memory-{backend}.txt")] if args.memory else []),
        *(["--trace-allocations"] if args.memory == "trace" else []),
        *(["--openid", f"{service_url}/openid"] if authenticated else []),
        "--",
        "serve",
        "--host",
        HOST,
        "--port",
        "{port}",
    ]
    server = Server(f"planbot-{backend}", argv, free_port(), folder / f"planbot-{backend}.log", env)
    server.argv = [a.replace("{port}", str(server.port)) for a in argv]
    sign = (lambda: token(folder / "signing-key.pem", service_url)) if authenticated else None
    load = Load(
        server.url,
        service_url,
        args.messages,
        args.concurrency,
        args.seconds,
        queries_only=args.queries_only,
        sign=sign,
        alive=lambda: server.process is not None and server.process.poll() is None,
    )
    samples: list[tuple[float, int, float]] = []
    plan_before = plan_size(url)
    try:
        server.start()
        assert server.process is not None
        print(f"{backend}: serving on port {server.port} (started in {server.startup_s:.1f} s); sending", flush=True)

        async def drive() -> float:
            stop = asyncio.Event()
            pid = server.process.pid  # type: ignore[union-attr]
            sampler = asyncio.create_task(sample_rss(pid, load, samples, stop, bool(args.memory)))

            async def progress() -> None:
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(stop.wait(), 60)
                    except TimeoutError:
                        rss = samples[-1][2] if samples else float("nan")
                        print(f"  {load.sent} messages, {dict(load.statuses)}, RSS {rss} MB", flush=True)

            reporter = asyncio.create_task(progress())
            try:
                return await load.go(people())
            finally:
                stop.set()
                await asyncio.gather(sampler, reporter)

        elapsed = asyncio.run(drive())
        time.sleep(2 * SEND_TIMEOUT + 1)  # replies still held by a "timeout" fault finish
        if args.memory and server.process.poll() is None:
            second_snapshot(server.process.pid, folder / f"memory-{backend}.txt")
            print(f"{backend}: what grew after {TRACE_FROM:.0%} of the messages: {folder / f'memory-{backend}.txt'}")
        rss_end = rss_mb(server.process.pid)
        exited = server.process.poll()  # before the stop below: did the server end during the load?
    finally:
        server.stop()
    outcomes = outcomes_of(mock_port)
    rows = stored(url, load.run)
    plan_after = plan_size(url)
    checks = check(load, outcomes, rows, server.log)
    if backend == "postgresql" and not args.keep:
        _psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    fives = sum(n for s, n in load.statuses.items() if s.startswith("5"))
    return {
        "backend": backend,
        "auth": args.auth,
        "messages": load.sent,
        "sessions": dict(load.kinds),
        "redelivered": load.redelivered,
        "resent_after_5xx": dict(load.resent),
        "statuses": dict(load.statuses),
        "status_5xx": fives,
        "errors_sample": load.errors,
        "seconds": round(elapsed, 1),
        "throughput": round(load.sent / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(load.took, 0.5), 1),
        "p99_ms": round(percentile(load.took, 0.99), 1),
        "startup_s": round(server.startup_s or float("nan"), 1),
        "rss": {**rss_figures(samples, load.sent), "after_quiet_mb": rss_end},
        "rss_samples": samples,
        "plan_updates": {"before": plan_before, "after": plan_after},
        "server_exited": exited,
        "checks": checks,
        "log": str(server.log),
    }


# --- Figures ----------------------------------------------------------------------------------------------


def verdicts(r: dict[str, Any]) -> list[tuple[str, bool, str]]:
    c, m = r["checks"], r["rss"]
    return [
        ("zero 5xx from the bot", r["status_5xx"] == 0, f"{r['status_5xx']} ({r['statuses']})"),
        (
            "every acknowledged update stored exactly once",
            c["lost_count"] == 0 and not c["duplicates"] and c["stored_not_meant"] == 0,
            f"{c['acknowledged']} acknowledged, {c['stored']} stored; lost {c['lost_count']}, "
            f"duplicated {len(c['duplicates'])}, stored but not meant {c['stored_not_meant']}",
        ),
        (
            "every reply delivered or reported",
            c["faulted_unaccounted"] == 0 and c["messages_without_reply"] == 0,
            f"{c['replies_attempted']} attempted, {c['replies_delivered']} delivered, faults {c['faults']}: "
            f"{c['faulted_then_delivered']} delivered on retry, {c['faulted_reported']} reported in the log, "
            f"{c['faulted_unaccounted']} unaccounted; messages without any reply {c['messages_without_reply']}; "
            f"the same reply delivered twice (a timed-out send that had arrived) {c['replies_delivered_twice']}",
        ),
        (
            "RSS flat within 10% after warm-up",
            bool(m.get("flat")),
            f"first {m.get('first_after_warmup_mb')} MB, last {m.get('last_mb')} MB, "
            f"max {m.get('max_after_warmup_mb')} MB "
            f"(start {m.get('start_mb')} MB, {m.get('samples')} samples); the plans meanwhile grew from "
            f"{r['plan_updates']['before']} to {r['plan_updates']['after']} progress updates",
        ),
    ]


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Soak, {results['date']}",
        "",
        f"`{results['command']}` on {results['machine']}; load average at the end {results['load_average']}. "
        f"{results['note']}",
        "",
    ]
    for r in results["runs"]:
        lines += [
            f"## {r['backend']}, {r.get('auth', 'anonymous')}",
            "",
            f"- messages: {r['messages']} in {r['seconds']} s ({r['throughput']} msg/s), "
            f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms; sessions {r['sessions']}; "
            f"sent twice (as Teams may): {r['redelivered']}; delivered again after a 5xx (as Teams does): "
            f"{r.get('resent_after_5xx') or 'none'}; start-up {r['startup_s']} s",
            f"- HTTP statuses from the bot: {r['statuses']}",
            *(
                [f"- **the server ended during the load** (exit status {r['server_exited']}); the load stopped"]
                if r.get("server_exited") is not None
                else []
            ),
            "",
            "| target | met | figures |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {name} | {'yes' if ok else '**no**'} | {text} |" for name, ok, text in verdicts(r)]
        lines += ["", f"Warnings and errors in the bot's log, by kind: {r['checks']['log_warnings']}", ""]
    return "\n".join(lines) + "\n"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--messages", type=int, default=50_000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--seconds", type=float, default=2400.0, help="the most seconds of load per backend")
    p.add_argument("--backends", default="postgresql", help="postgresql, sqlite or both (comma-separated)")
    p.add_argument("--fault-rate", type=float, default=0.1)
    p.add_argument("--auth", choices=("anonymous", "authenticated"), default="anonymous")
    p.add_argument("--queries-only", action="store_true", help="no updates, dialogs or cards (a memory check)")
    p.add_argument(
        "--memory",
        choices=("census", "trace"),
        help="what grew in the server from a quarter of the messages to the end: live objects by type "
        "(census), and the allocations still held by traceback (trace: several times slower)",
    )
    p.add_argument("--keep", action="store_true", help="keep the working database afterwards")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mock"]:
        mock_main(argv[1:])
        return 0
    args = parse(argv)
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d-%H%M")
    folder = ROOT / ".runs" / f"soak-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    make_key(folder)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and not pg_available():
        raise SystemExit("PostgreSQL is not reachable at 127.0.0.1:5432 (try --backends sqlite)")
    for backend in backends:
        prepare(SIZE, backend, print)
    port = free_port()
    mock_argv = [sys.executable, "-m", "bench.soak", "mock", "--port", str(port), "--jwks", str(folder / "jwks.json")]
    mock_argv += ["--fault-rate", str(args.fault_rate)]
    connector = Server("mock", mock_argv, port, folder / "mock.log", ready_path="/stats")
    runs = []
    try:
        connector.start()
        for backend in backends:
            runs.append(soak_one(backend, args, folder, port))
    finally:
        connector.stop()
    results = {
        "date": stamp,
        "command": "python -m bench.soak " + " ".join(argv),
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "note": "A shared machine: other engineers' test suites may have been running.",
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (folder / "soak.json").write_text(json.dumps(results, indent=1))
    out = RESULTS / f"soak-{stamp}.md"
    out.write_text(markdown(results))
    print()
    print(markdown(results))
    print(f"wrote {out} (and every figure, RSS samples included, to {folder / 'soak.json'})")
    met = all(ok for r in runs for _, ok, _ in verdicts(r))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())

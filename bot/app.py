"""The aiohttp app: POST /api/messages through the Bot Framework adapter, and health endpoints."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

from aiohttp import web
from botbuilder.schema import Activity
from msrest.exceptions import DeserializationError  # type: ignore[attr-defined]
from msrest.serialization import Deserializer
from sqlalchemy import text

from bot import privacy
from bot.adapter import DatabaseUnavailable, PlanTrackerAdapter, create_adapter
from bot.clock import Clock, SystemClock
from bot.handler import PlanBot
from bot.language import warm
from bot.messenger import Messenger
from bot.refusals import refused
from bot.scheduler import Scheduler, run_forever
from bot.settings import Settings
from bot.summaries import Timetable
from storage.bot_state import SqlStorage, TurnConversationState
from storage.db import Database
from storage.models import Partnership

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
ADAPTER = web.AppKey("adapter", PlanTrackerAdapter)
BOT = web.AppKey("bot", PlanBot)
SCHEDULER = web.AppKey("scheduler", Scheduler)


ACCESS_LOG = "aiohttp.access"
_PAPER_TOKEN = re.compile(r"(/papers/)[^\s?\"]+")


class HidePaperTokens(logging.Filter):
    """Masks the token of a paper link (`/papers/<token>` becomes `/papers/…`) in the access log: while it
    is valid, anyone holding the link can download the paper."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/papers/" in message:
            record.msg, record.args = _PAPER_TOKEN.sub(r"\1…", message), None
        return True


def _hide_paper_tokens() -> None:
    """On whichever server runs the app (`planbot serve`, a test server, gunicorn's aiohttp worker)."""
    logger = logging.getLogger(ACCESS_LOG)
    if not any(isinstance(f, HidePaperTokens) for f in logger.filters):
        logger.addFilter(HidePaperTokens())


async def _open_pool(database: Database) -> None:
    try:
        await database.open_pool()
    except Exception as exc:  # not reachable now: connections are opened as turns need them
        log.warning("the database's connections were not opened at start-up: %s", exc.__class__.__name__)


async def _settle(warming: Awaitable[None]) -> None:
    """Once start-up has made what the server keeps for its life (the language model, the names and
    patterns of the identifying-details check, the plans' modules): out of the garbage collector's way.
    Each full collection otherwise went through all of it again, stopping every turn for about 100 ms
    (the slowest answers of a busy server)."""
    try:
        await warming
    except Exception:  # the check's own failure is the server's concern, not this
        return
    gc.collect()
    gc.freeze()


def timetable(settings: Settings) -> Timetable:
    return Timetable(settings.nudge_days, settings.final_nudge_days, settings.summary_days)


def create_app(
    settings: Settings, clock: Clock | None = None, database: Database | None = None, settle: bool = False
) -> web.Application:
    """Build the app from settings; the database and adapter are made when it starts, not at import.
    `settle`: the app is the process's one server (`planbot serve`), whose start-up may move what it made
    out of the garbage collector's way for good (not a test's, which starts many)."""
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    _hide_paper_tokens()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(warm)  # the language model, from its cache (or trained from the corpus)
        # Presidio takes a second or two to set up: beside start-up, so /readyz answers meanwhile;
        # a note checked before it is ready waits for it.
        warming = asyncio.get_running_loop().run_in_executor(None, privacy.warm)
        settling = asyncio.create_task(_settle(warming)) if settle else None
        owned = database is None
        db = database or Database(settings.database_url, pool_size=settings.db_pool_size)
        app[DATABASE] = db
        app[ADAPTER] = adapter = create_adapter(settings)
        app[BOT] = PlanBot(db, clock or SystemClock(), settings, TurnConversationState(SqlStorage(db)))
        app[SCHEDULER] = Scheduler(db, clock or SystemClock(), Messenger(adapter, settings.app_id), timetable(settings))
        opening = asyncio.create_task(_open_pool(db))  # beside start-up: a database not there yet is 503s, not a crash
        stop = asyncio.Event()
        task = (
            asyncio.create_task(run_forever(app[SCHEDULER], settings.scheduler_interval, stop))
            if settings.scheduler
            else None
        )
        yield
        await warming
        if settling is not None:
            await settling
        await opening
        stop.set()
        if task is not None:
            await task
        await adapter.close()
        if owned:
            await db.dispose()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/papers/{token}", paper)
    return app


MAX_BODY = 512 * 1024  # Teams sends at most about 100 KB; anything much larger is refused with 413
ROUTED = {"message", "invoke", "conversationUpdate", "installationUpdate", "messageReaction", "event"}


def envelope_problem(body: object) -> str | None:
    """What is wrong with the activity's envelope, for the sender; None if a turn can be run on it.

    An activity the bot would answer needs to say where it came from and where to reply: without
    them botbuilder fails half-way through the turn and tries to apologise to nowhere.
    """
    if not isinstance(body, dict):
        return "the body is not an activity (a JSON object)"
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        return "the activity has no type"
    if kind not in ROUTED:
        return None
    for key in ("channelId", "serviceUrl"):
        if not isinstance(body.get(key), str) or not body[key]:
            return f"the activity has no {key}"
    for key in ("conversation", "from", "recipient"):
        account = body.get(key)
        if not isinstance(account, dict) or not isinstance(account.get("id"), str) or not account["id"]:
            return f"the activity has no {key}.id"
    for key in ("text", "id", "replyToId", "name"):
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"the activity's {key} is not text"
    if body.get("entities") is not None and not isinstance(body["entities"], list):
        return "the activity's entities is not a list"
    if body.get("channelData") is not None and not isinstance(body["channelData"], dict):
        return "the activity's channelData is not an object"
    return None


# msrest builds a deserializer, and its table of every schema class, for each `Activity().deserialize`:
# one made once reads the same.
_ACTIVITIES = Deserializer(Activity._infer_class_models())  # type: ignore[no-untyped-call]


def read_activity(body: dict[str, Any]) -> Activity:
    """The activity as `Activity().deserialize(body)` reads it."""
    activity: Activity = _ACTIVITIES("Activity", body)
    return activity


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)


async def messages(request: web.Request) -> web.StreamResponse:
    if "application/json" not in request.headers.get("Content-Type", ""):
        return _problem(415, "send the activity as application/json")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _problem(400, "the body is not JSON")
    except RecursionError:
        return _problem(400, "the body is nested too deeply to be an activity")
    problem = envelope_problem(body)
    if problem:
        return _problem(400, problem)
    try:
        activity = read_activity(body)
    except DeserializationError:
        return _problem(400, "the activity has a field that is not of the type Teams sends")
    adapter, bot = request.app[ADAPTER], request.app[BOT]
    try:
        # process_activity rather than adapter.process: 4.17.1's process serialises an invoke
        # response body that is already a dict a second time, and answers 500.
        response = await adapter.process_activity(request.headers.get("Authorization", ""), activity, bot.on_turn)
    except PermissionError:
        return _problem(401, "a valid Bot Framework token is required")
    except DatabaseUnavailable:
        unavailable = _problem(503, "the plan's database is not reachable just now; Teams will try again")
        unavailable.headers["Retry-After"] = "5"
        return unavailable
    if response is None:
        return web.Response(status=201)
    return web.json_response(_plain(response.body), status=response.status)


def _plain(body: Any) -> Any:
    return body.serialize() if hasattr(body, "serialize") else body


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def paper(request: web.Request) -> web.Response:
    """The BMG paper behind a link the bot gave the business unit; the link works for an hour."""
    bot = request.app[BOT]
    partnership_id = bot.links.check(request.match_info["token"])
    if partnership_id is None:
        refused("paper link not valid or expired")
        return _problem(403, "this link has expired or is not valid; ask Plan Tracker for a new one (say: BMG paper)")
    # Word's library and the spreadsheet one under it (9 MB, 0.2 s) are loaded by the first paper asked
    # for, not by every server: most never make one (three meetings a year, one paper each).
    from bot.paper import write_paper

    now = bot.clock.now()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "paper.docx"
        async with request.app[DATABASE].reading() as session:  # the paper only reads
            partnership = await session.get_one(Partnership, partnership_id)
            await write_paper(session, partnership, out, now)
            name = f"{partnership.short_name} BMG paper {now:%Y-%m-%d}.docx"
        body = out.read_bytes()
    return web.Response(body=body, content_type=DOCX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def healthz(request: web.Request) -> web.Response:
    """The process is alive."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers."""
    try:
        async with request.app[DATABASE].engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        log.warning("not ready: %s", exc)
        return _problem(503, "the database is not reachable")
    return web.json_response({"status": "ready"})

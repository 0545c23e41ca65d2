"""The server's edges: health, bad requests, and the fixes for botbuilder 4.17.1's defects."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.universal_http.requests import ClientRetryPolicy
from sqlalchemy import event, func, select

from bot.adapter import create_adapter
from bot.app import ADAPTER, BOT, create_app
from bot.clock import FixedClock
from bot.demo import load_demo
from bot.identity import tenant_of
from bot.privacy import warm as privacy_warm
from bot.settings import Settings
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Update
from tests.harness import NCSCP_TENANT, NOW, Harness, InstantWaits, ncscp_plan, start_harness, teams_user
from tests.teams import BOT_ID, Connector, card_texts, make_invoke, make_message

FIONA = teams_user(ncscp_plan(), "fiona.mcleod@ncscp.example.org")


def invoke(harness: Harness, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    return make_invoke(verb, data, FIONA, harness.tenant, harness.connector.url)


async def test_an_adaptive_card_action_is_answered_with_the_card_to_show(bot: Harness) -> None:
    response = await bot.post(invoke(bot, "show", {"ref": "4.2"}))
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Action 4.2" in card_texts(body["value"])
    assert bot.connector.take() == [], "the card is replaced through the response, not a new message"


async def test_the_stock_route_fails_on_the_same_invoke(bot: Harness, demo_db: Database) -> None:
    """The defect the route works around: CloudAdapter.process serialises the body twice."""
    adapter: CloudAdapter = bot.client.app[ADAPTER]
    planbot = bot.client.app[BOT]

    class Request:
        method = "POST"
        headers: ClassVar[dict[str, str]] = {"Content-Type": "application/json"}

        async def json(self) -> dict[str, Any]:
            return invoke(bot, "show", {"ref": "4.2"})

    with pytest.raises(AttributeError, match="'dict' object has no attribute 'is_xml_model'"):
        await adapter.process(Request(), planbot)


def test_the_tenant_comes_from_channel_data() -> None:
    payload = make_message("help", FIONA, NCSCP_TENANT, "http://127.0.0.1:1")
    activity = Activity().deserialize(payload)
    assert activity.conversation.tenant_id is None, "botbuilder 4.17.1 loses conversation.tenantId"
    assert tenant_of(activity) == NCSCP_TENANT


def test_the_per_turn_msrest_cost_is_removed() -> None:
    before = list(ClientRetryPolicy.safe_codes)
    expected = ClientRetryPolicy().policy.status_forcelist  # type: ignore[no-untyped-call]
    create_adapter(Settings())
    retried = ClientRetryPolicy().policy.status_forcelist  # type: ignore[no-untyped-call]
    assert retried == expected, "the same codes are retried"
    assert sorted(ClientRetryPolicy.safe_codes) == sorted(before)
    assert isinstance(ClientRetryPolicy.safe_codes, frozenset)


async def test_remove_recipient_mention_leaves_clean_text() -> None:
    activity = Activity().deserialize(
        make_message("overdue", FIONA, NCSCP_TENANT, "http://127.0.0.1:1", channel=None)
        | {
            "text": "<at>Plan Tracker</at>   overdue",
            "entities": [
                {
                    "type": "mention",
                    "mentioned": {"id": BOT_ID, "name": "Plan Tracker"},
                    "text": "<at>Plan Tracker</at>",
                }
            ],
        }
    )
    assert TurnContext.remove_recipient_mention(activity).strip() == "overdue"


async def test_with_the_database_down_teams_is_asked_to_retry_and_the_bot_recovers(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    database = Database(f"sqlite+aiosqlite:///{folder / 'bot.db'}")  # its folder does not exist yet
    connector = Connector()
    await connector.start()
    app = create_app(Settings(database_url=database.url, scheduler=False), FixedClock(NOW), database)
    try:
        async with TestClient(TestServer(app)) as client:
            message = make_message("my actions", FIONA, NCSCP_TENANT, connector.url)
            down = await client.post("/api/messages", json=message)
            assert down.status == 503, "so that Teams delivers it again"
            assert down.headers["Retry-After"] == "5"
            assert "Traceback" not in await down.text()
            assert connector.take() == [], "no apology: the turn did not happen"
            assert (await client.get("/readyz")).status == 503
            folder.mkdir()  # the database comes back
            await upgrade(database.url)
            async with database.transaction() as session:
                await load_demo(session, NOW.date())
            assert (await client.get("/readyz")).status == 200
            again = await client.post("/api/messages", json={**message, "id": "retried-1"})
            assert again.status in {200, 201}
            [answer] = connector.take()
            assert answer["summary"].startswith("Actions you lead, Fiona"), "served again, by itself"
    finally:
        await connector.close()
        await database.dispose()


async def test_health_and_readiness(bot: Harness) -> None:
    assert (await bot.client.get("/healthz")).status == 200
    ready = await bot.client.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"status": "ready"}


async def test_not_ready_when_the_database_is_unreachable() -> None:
    broken = Database("postgresql://nobody@127.0.0.1:1/nothing")
    app = create_app(Settings(database_url=broken.url), FixedClock(NOW), broken)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert await ready.json() == {"error": "the database is not reachable"}
        message = await client.post(
            "/api/messages", json=make_message("help", FIONA, NCSCP_TENANT, "http://127.0.0.1:9")
        )
        assert message.status == 503, "PostgreSQL refusing connections: Teams is asked to retry"
    await broken.dispose()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        ("hello", "text/plain", 415, "send the activity as application/json"),
        ("{not json", "application/json", 400, "the body is not JSON"),
        ("[1, 2]", "application/json", 400, "the body is not an activity (a JSON object)"),
        ("{}", "application/json", 400, "the activity has no type"),
        ("[" * 100_000 + "]" * 100_000, "application/json", 400, "the body is nested too deeply to be an activity"),
        ('{"type": 5}', "application/json", 400, "the activity has no type"),
    ],
)
async def test_malformed_requests(bot: Harness, body: str, content_type: str, status: int, error: str) -> None:
    response = await bot.client.post("/api/messages", data=body, headers={"Content-Type": content_type})
    assert response.status == status
    assert await response.json() == {"error": error}
    assert bot.connector.take() == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"channelId": None}, "the activity has no channelId"),
        ({"serviceUrl": None}, "the activity has no serviceUrl"),
        ({"conversation": None}, "the activity has no conversation.id"),
        ({"from": None}, "the activity has no from.id"),
        ({"from": {"name": "no id"}}, "the activity has no from.id"),
        ({"conversation": "a string"}, "the activity has no conversation.id"),
        ({"text": {"not": "text"}}, "the activity's text is not text"),
        ({"entities": "mentions"}, "the activity's entities is not a list"),
        ({"channelData": [1, 2]}, "the activity's channelData is not an object"),
        ({"timestamp": "yesterday"}, "the activity has a field that is not of the type Teams sends"),
        ({"attachments": "a card"}, "the activity has a field that is not of the type Teams sends"),
    ],
)
async def test_an_activity_missing_what_a_turn_needs_is_refused_and_nothing_runs(
    bot: Harness, change: dict[str, Any], error: str
) -> None:
    activity = {
        **make_message("4.2 amber: delayed by late returns from two agencies", FIONA, bot.tenant, bot.connector.url)
    }
    activity.update(change)
    response = await bot.post(activity)
    assert response.status == 400
    assert await response.json() == {"error": error}
    assert bot.connector.take() == [], "no turn ran: nothing sent, no apology to nowhere"


async def test_an_oversized_request_is_refused(bot: Harness) -> None:
    activity = make_message("help", FIONA, bot.tenant, bot.connector.url)
    activity["value"] = {"padding": "x" * (600 * 1024)}
    response = await bot.post(activity)
    assert response.status == 413
    assert bot.connector.take() == []


def test_the_send_timeout_is_a_setting() -> None:
    assert create_adapter(Settings()).send_timeout == 30.0
    assert create_adapter(Settings(send_timeout=2.5)).send_timeout == 2.5


async def test_a_first_turn_holds_one_database_connection_at_a_time(bot: Harness) -> None:
    """A new conversation's state is read once, before the turn's transaction: botbuilder would read
    it again from inside that transaction, on a second pooled connection, and with more concurrent
    turns than connections every turn waited on another (the soak of issue 12 deadlocked so)."""
    held, most = [0], [0]

    def checkout(*_: Any) -> None:
        held[0] += 1
        most[0] = max(most[0], held[0])

    def checkin(*_: Any) -> None:
        held[0] -= 1

    pool = bot.database.engine.sync_engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        reply = await bot.one("my actions", FIONA)  # her first message: no conversation state yet
        assert reply["summary"].startswith("Actions you lead, Fiona")
        await bot.say("update", FIONA)  # a dialog begins: its state is asked for inside the transaction
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)
    assert most[0] == 1, f"a turn held {most[0]} connections at once"


@pytest.mark.parametrize("failure", ["late", "drop", (500, {}), (429, {"Retry-After": "1"})])
async def test_a_reply_teams_did_not_take_is_logged_and_the_turn_stands(
    demo_db: Database, failure: tuple[int, dict[str, str]] | str, caplog: pytest.LogCaptureFixture
) -> None:
    """The connector timing out, dropping the connection or answering an error, every time it is tried,
    after an update was stored: not 503 (Teams would deliver it again: a dialog would take its step
    twice), not an apology (it would say the update was not made, and a retyped one would be stored
    twice); a warning naming the activity. A timeout used to be taken for the database going away (the
    soak of issue 12). tests/test_replies.py has the replies that arrive when sent again."""
    settings = Settings(database_url=demo_db.url, scheduler=False, send_timeout=0.3)
    async for bot in start_harness(demo_db, settings):
        InstantWaits().install(bot)
        bot.connector.late_by = 1.0
        bot.connector.fail_sends = [failure] * 10
        message = make_message("4.2 amber: partner returns reviewed", FIONA, NCSCP_TENANT, bot.connector.url)
        response = await bot.post(message)
        assert response.status == 201
        await asyncio.sleep(1.2)  # a late reply is answered, too late, by now
        texts = [r.get("text") or r.get("summary") or "" for r in bot.connector.take()]
        assert not any(t.startswith("Sorry") for t in texts), texts
        assert f"the reply to activity {message['id']} was not delivered" in caplog.text
        async with demo_db.transaction() as session:
            stored = await session.scalar(
                select(func.count()).select_from(Update).where(Update.activity_id == message["id"])
            )
        assert stored == 1


def test_an_activity_is_read_as_botbuilder_reads_it() -> None:
    """Read with one deserializer made once, a Teams message, a channel message, a card's invoke and a
    malformed field come out as `Activity().deserialize` makes them."""
    from botbuilder.schema import Activity

    from bot.app import read_activity
    from tests.harness import ncscp_plan, teams_user
    from tests.teams import Channel, make_invoke, make_message

    lead = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")
    channel = Channel(id="19:channel@thread.tacv2", name="CDOP", team_id="19:team@thread.tacv2")
    bodies = [
        make_message("4.2 amber: analysis delayed", lead, "tenant", "https://smba.example.org/"),
        make_message("overdue", lead, "tenant", "https://smba.example.org/", channel=channel),
        make_invoke("save_update", {"ref": "7.3", "rag": "green", "note": "done"}, lead, "tenant", "https://x/"),
        {"type": "message", "text": "hi", "channelData": {"tenant": {"id": "t"}}, "value": {"a": [1, {"b": None}]}},
    ]
    for body in bodies:
        assert read_activity(body).serialize() == Activity().deserialize(body).serialize()


async def test_the_postgresql_pool_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sized for the turns a process serves at once (SQLAlchemy's five made every turn beyond the fifth
    open a connection of its own); an operator sizes it against the server's `max_connections`."""
    monkeypatch.setenv("PLANBOT_DB_POOL_SIZE", "7")
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing")
    database = Database(settings.database_url, pool_size=settings.db_pool_size)  # as the app makes it
    try:
        assert database.engine.pool.size() == 7  # type: ignore[attr-defined]
        assert Database(settings.database_url).engine.pool.size() == 10  # type: ignore[attr-defined]
    finally:
        await database.dispose()


async def test_a_server_opens_its_postgresql_connections_as_it_starts(database: Database) -> None:
    """Opened later, as busy moments first needed each, the server's memory went on rising for the
    first third of the soak; a database not there at start-up is the usual 503s, not a crash (above)."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no pool of connections to a server")
    await database.engine.dispose()  # none open (a new pool)
    pool: Any = database.engine.pool
    assert pool.checkedin() == 0
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(Settings(scheduler=False), FixedClock(NOW), database))
    )
    await client.start_server()
    try:
        for _ in range(100):
            if pool.checkedin() == pool.size():
                break
            await asyncio.sleep(0.05)
        assert (pool.checkedin(), pool.checkedout()) == (10, 0)
    finally:
        await client.close()


async def test_the_server_moves_what_start_up_made_out_of_the_collectors_way(database: Database) -> None:
    """`planbot serve`'s app, once its identifying-details check is set up, leaves everything start-up
    made to the collector's permanent generation, so that a full collection no longer goes through it
    (each had stopped every turn for about 100 ms); an app started as the tests start theirs does not."""
    before = gc.get_freeze_count()
    plain = create_app(Settings(database_url=database.url, scheduler=False), FixedClock(NOW), database)
    async with TestClient(TestServer(plain)) as client:
        assert (await client.get("/readyz")).status == 200
        await asyncio.to_thread(privacy_warm)  # set up, as the app does beside start-up
        await asyncio.sleep(0.2)
        assert gc.get_freeze_count() == before, "a test's app leaves the collector as it was"
    app = create_app(Settings(database_url=database.url, scheduler=False), FixedClock(NOW), database, settle=True)
    try:
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/readyz")).status == 200
            for _ in range(100):
                if gc.get_freeze_count() > before:
                    break
                await asyncio.sleep(0.1)
            assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()

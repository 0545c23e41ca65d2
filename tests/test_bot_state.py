"""SqlStorage on SQLite and PostgreSQL: botbuilder's own Storage contract, then what the bot's users would notice.
A conversation carries on after a restart, two replicas writing one conversation cannot both win, and the table
holds readable JSON.

The `database` fixture is shared by the whole session and SqlStorage commits its own work, so every test removes
the rows it wrote (or writes under keys no other test uses).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any
from uuid import uuid4

import pytest
from botbuilder.core import ConversationState, MessageFactory, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.core.bot_state import CachedBotState
from botbuilder.dialogs import (
    DialogInstance,
    DialogSet,
    DialogState,
    DialogTurnResult,
    DialogTurnStatus,
    PromptOptions,
    PromptValidatorContext,
    TextPrompt,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.choices import Choice, ListStyle
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from botbuilder.testing import StorageBaseTests
from sqlalchemy import String, cast, event, select, text

from bot.rules import LONDON
from storage.bot_state import EtagConflictError, SqlStorage
from storage.db import POOL_SIZE, Database
from storage.models import BotState
from storage.state_codec import DEFAULT_MODULES, StateCodec, UnstorableStateError

CONTRACT = sorted(name for name, _ in inspect.getmembers(StorageBaseTests, inspect.iscoroutinefunction))
STARTED = datetime(2026, 3, 31, 9, 30, tzinfo=LONDON)
DUE = date(2026, 4, 30)


class TidyStorage(SqlStorage):
    """SqlStorage that remembers the keys it wrote, so a test can remove exactly its own rows."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.written: set[str] = set()

    async def write(self, changes: Mapping[str, object] | None) -> None:
        self.written.update(changes or ())
        await super().write(changes)


@pytest.fixture
async def storage(database: Database) -> AsyncIterator[TidyStorage]:
    tidy = TidyStorage(database)
    yield tidy
    await tidy.delete(tidy.written)


@pytest.fixture
async def replica(database: Database) -> AsyncIterator[TidyStorage]:
    """A second server process on the same database: its own engine, its own storage."""
    engine = Database(database.url)
    tidy = TidyStorage(engine)
    yield tidy
    await tidy.delete(tidy.written)
    await engine.dispose()


@pytest.fixture
async def conversation(database: Database) -> AsyncIterator[str]:
    """A Teams conversation id of this test's own; its conversation state is removed afterwards."""
    conversation_id = f"19:{uuid4().hex}@thread.tacv2"
    yield conversation_id
    await SqlStorage(database).delete([state_key(conversation_id)])


def fresh(name: str) -> str:
    return f"test_bot_state/{name}/{uuid4().hex}"


def state_key(conversation_id: str) -> str:
    """Where ConversationState keeps a Teams conversation."""
    return f"msteams/conversations/{conversation_id}"


async def item(storage: SqlStorage, key: str) -> dict[str, Any]:
    found = (await storage.read([key]))[key]
    assert isinstance(found, dict)
    return found


# botbuilder's contract


def test_the_whole_contract_suite_is_run() -> None:
    assert len(CONTRACT) >= 11
    assert "proceeds_through_waterfall" in CONTRACT


@pytest.mark.parametrize("check", CONTRACT)
async def test_botbuilder_storage_contract(storage: TidyStorage, check: str) -> None:
    assert await getattr(StorageBaseTests, check)(storage) is True


# A conversation, as a Teams user has it


def teams_activity(conversation_id: str) -> Activity:
    return Activity(
        channel_id="msteams",
        service_url="https://smba.example.test/",
        from_property=ChannelAccount(id="29:ann", name="Ann"),
        recipient=ChannelAccount(id="28:plan-tracker", name="Plan Tracker"),
        conversation=ConversationAccount(id=conversation_id),
    )


async def ask_name(step: WaterfallStepContext) -> DialogTurnResult:
    step.values["started"] = STARTED
    step.values["due"] = DUE
    options = PromptOptions(
        prompt=MessageFactory.text("What's your name?"),
        retry_prompt=MessageFactory.text("Names are longer than one letter."),
    )
    return await step.prompt("name", options)


async def thank(step: WaterfallStepContext) -> DialogTurnResult:
    started, due = step.values["started"], step.values["due"]
    await step.context.send_activity(f"Thanks {step.result}: started {started:%H:%M %Z %d %B}, due {due:%d %B}.")
    return await step.end_dialog()


async def longer_than_a_letter(prompt: PromptValidatorContext) -> bool:
    return bool(prompt.recognized.succeeded and len(prompt.recognized.value.strip()) > 1)


def name_bot(storage: SqlStorage, conversation_id: str) -> TestAdapter:
    """A bot with one waterfall, its dialog stack in ConversationState as our Teams bot keeps it."""
    state = ConversationState(storage)
    dialogs = DialogSet(state.create_property("DialogState"))
    dialogs.add(WaterfallDialog("welcome", [ask_name, thank]))
    dialogs.add(TextPrompt("name", longer_than_a_letter))

    async def turn(context: TurnContext) -> None:
        dialog_context = await dialogs.create_context(context)
        result = await dialog_context.continue_dialog()
        if result.status == DialogTurnStatus.Empty:
            await dialog_context.begin_dialog("welcome")
        await state.save_changes(context)

    return TestAdapter(turn, teams_activity(conversation_id))


async def test_a_conversation_carries_on_after_a_restart(database: Database, conversation: str) -> None:
    before = name_bot(SqlStorage(database), conversation)
    await (await before.send("hello")).assert_reply("What's your name?")

    restarted = Database(database.url)  # a new process: new engine, new storage, new dialogs
    try:
        after = name_bot(SqlStorage(restarted), conversation)
        retried = await (await after.send("A")).assert_reply("Names are longer than one letter.")
        await (await retried.send("Ann")).assert_reply("Thanks Ann: started 09:30 BST 31 March, due 30 April.")
    finally:
        await restarted.dispose()


async def test_the_stored_record_is_readable_json(database: Database, conversation: str) -> None:
    bot = name_bot(SqlStorage(database), conversation)
    await (await bot.send("hello")).assert_reply("What's your name?")

    async with database.sessions() as session:
        raw = await session.scalar(select(cast(BotState.data, String)).where(BotState.key == state_key(conversation)))
    assert raw is not None
    stack = json.loads(raw)["DialogState"]["value"]["_dialog_stack"]
    assert [frame["value"]["id"] for frame in stack] == ["name", "welcome"]
    prompt_options = stack[0]["value"]["state"]["options"]["value"]
    assert prompt_options["prompt"]["value"]["text"] == "What's your name?"
    waterfall = stack[1]["value"]["state"]
    assert waterfall["stepIndex"] == 0
    assert waterfall["values"]["started"] == {
        "__type__": "datetime",
        "value": "2026-03-31T09:30:00+01:00",
        "zone": "Europe/London",
    }
    assert waterfall["values"]["due"] == {"__type__": "date", "value": "2026-04-30"}
    assert "py/" not in raw, "not jsonpickle's format"
    assert "e_tag" not in raw, "the e-tag lives in its own column"


# Replicas and e-tags


async def test_two_replicas_holding_one_etag_only_the_first_writer_wins(
    storage: TidyStorage, replica: TidyStorage
) -> None:
    key = fresh("replicas")
    await storage.write({key: {"count": 0}})
    mine, theirs = await item(storage, key), await item(replica, key)
    assert mine["e_tag"] == theirs["e_tag"]

    await storage.write({key: {**mine, "count": 1}})
    with pytest.raises(EtagConflictError) as conflict:
        await replica.write({key: {**theirs, "count": 2}})

    assert isinstance(conflict.value, KeyError), "the exception botbuilder's MemoryStorage raises"
    assert conflict.value.args[0].startswith("Etag conflict.\nOriginal: ")
    assert (await item(replica, key))["count"] == 1


async def test_concurrent_writers_holding_one_etag_exactly_one_wins(storage: TidyStorage, replica: TidyStorage) -> None:
    key = fresh("race")
    await storage.write({key: {"count": 0}})
    etag = (await item(storage, key))["e_tag"]

    writers = [storage, replica] * 3
    await asyncio.gather(*(writer.read([key]) for writer in writers))  # open the connections, so the writes overlap
    results = await asyncio.gather(
        *(writer.write({key: {"count": n, "e_tag": etag}}) for n, writer in enumerate(writers, start=1)),
        return_exceptions=True,
    )

    winners = [n for n, result in enumerate(results, start=1) if result is None]
    assert len(winners) == 1, results
    assert all(isinstance(result, EtagConflictError) for result in results if result is not None), results
    assert (await item(storage, key))["count"] == winners[0]


async def test_concurrent_writers_of_a_deleted_item_exactly_one_recreates_it(
    storage: TidyStorage, replica: TidyStorage
) -> None:
    key = fresh("deleted")
    await storage.write({key: {"count": 0}})
    etag = (await item(storage, key))["e_tag"]
    await replica.delete([key])

    writers = [storage, replica] * 3
    await asyncio.gather(*(writer.read([key]) for writer in writers))
    results = await asyncio.gather(
        *(writer.write({key: {"count": n, "e_tag": etag}}) for n, writer in enumerate(writers)),
        return_exceptions=True,
    )

    assert sum(result is None for result in results) == 1, results
    assert all(isinstance(result, EtagConflictError) for result in results if result is not None), results


async def test_two_turns_of_one_conversation_on_two_replicas(
    storage: TidyStorage, replica: TidyStorage, conversation: str
) -> None:
    adapter = TestAdapter(template_or_conversation=teams_activity(conversation))

    async def take_turn(state: ConversationState, text: str) -> TurnContext:
        turn = TurnContext(adapter, MessageFactory.text(text))
        turn.activity.channel_id, turn.activity.conversation = "msteams", ConversationAccount(id=conversation)
        await state.load(turn)
        await state.create_property("said").set(turn, text)
        return turn

    first = ConversationState(storage)
    await first.save_changes(await take_turn(first, "hello"))

    on_a, on_b = ConversationState(storage), ConversationState(replica)
    turn_a, turn_b = await take_turn(on_a, "update 6.1"), await take_turn(on_b, "update 6.2")
    await on_a.save_changes(turn_a)
    with pytest.raises(EtagConflictError):
        await on_b.save_changes(turn_b)

    assert (await item(storage, state_key(conversation)))["said"] == "update 6.1"


async def test_star_or_no_etag_overwrites_whatever_is_stored(storage: TidyStorage, replica: TidyStorage) -> None:
    key = fresh("star")
    await storage.write({key: {"count": 0}})
    stale = await item(replica, key)
    await storage.write({key: {"count": 1}})

    await replica.write({key: {**stale, "count": 2, "e_tag": "*"}})
    assert (await item(storage, key))["count"] == 2
    await replica.write({key: {"count": 3}})
    assert (await item(storage, key))["count"] == 3
    with pytest.raises(EtagConflictError):
        await replica.write({key: {**stale, "count": 4}})


async def test_a_conflict_leaves_the_whole_batch_unwritten(storage: TidyStorage) -> None:
    new, changed = fresh("batch-new"), fresh("batch-changed")
    await storage.write({changed: {"count": 0}})
    stale = await item(storage, changed)
    await storage.write({changed: {"count": 1}})

    with pytest.raises(EtagConflictError):
        await storage.write({new: {"count": 1}, changed: {**stale, "count": 2}})

    assert await storage.read([new]) == {}
    assert (await item(storage, changed))["count"] == 1


# Keys and values


@pytest.mark.parametrize(
    "tail",
    ["x" * 3000, "nul \x00 byte", "lone \ud800 surrogate", "émoji 🗂️ / ? # * \\ \t\n '\" ; --"],
    ids=["long", "nul", "surrogate", "punctuation"],
)
async def test_any_key_round_trips(storage: TidyStorage, tail: str) -> None:
    key = fresh("key") + tail
    await storage.write({key: {"id": 1}})
    assert (await item(storage, key))["id"] == 1
    await storage.delete([key])
    assert await storage.read([key]) == {}


async def test_long_keys_that_differ_only_at_the_end_are_different_items(storage: TidyStorage) -> None:
    stem = fresh("stem") + "y" * 2000
    await storage.write({f"{stem}a": {"id": "a"}, f"{stem}b": {"id": "b"}})
    found = await storage.read([f"{stem}a", f"{stem}b"])
    assert {key[-1]: value["id"] for key, value in found.items() if isinstance(value, dict)} == {"a": "a", "b": "b"}


@pytest.mark.parametrize("value", [print, float("nan")], ids=["function", "nan"])
async def test_a_value_that_cannot_be_stored_is_refused_when_written(storage: TidyStorage, value: object) -> None:
    key = fresh("unstorable")
    with pytest.raises(UnstorableStateError):
        await storage.write({key: {"value": value}})
    assert await storage.read([key]) == {}


def test_the_codec_round_trips_what_dialogs_store() -> None:
    options = PromptOptions(
        prompt=MessageFactory.text("Which action?"),
        choices=[Choice("6.1"), Choice("6.2")],
        style=ListStyle.hero_card,
    )
    state = {
        "DialogState": DialogState([DialogInstance("pick", {"options": options, "state": {}})]),
        "expires": datetime(2026, 3, 31, 10, 0),  # noqa: DTZ001  naive, as OAuthPrompt stores it
        "started": STARTED,
        "due": DUE,
        "kind": ActivityTypes.message,
        "pair": (1, "two"),
        "by_number": {3: "three"},
        "looks_tagged": {"__type__": "object", "class": "os:system"},
    }
    codec = StateCodec()

    restored = codec.decode(json.loads(json.dumps(codec.encode(state))))

    # BotState saves when this hash changes: state read back must look unchanged, down to types and time zones.
    assert CachedBotState(restored).hash == CachedBotState(state).hash
    assert restored["started"].tzinfo is LONDON


def test_a_record_cannot_make_the_bot_import_anything_else() -> None:
    codec = StateCodec()
    for record in [
        {"__type__": "object", "class": "this:s", "value": {}},
        {"__type__": "enum", "class": "this:d", "value": 1},
        {"__type__": "object", "class": "botbuilder.core:MessageFactory.text", "value": {}},
        {"__type__": "object", "class": "bot.no_such_module:Moved", "value": {}},
    ]:
        with pytest.raises(UnstorableStateError):
            codec.decode(record)
    assert "this" not in sys.modules, "refused before importing"


class Reminder:
    """A class of ours that a dialog might keep in state."""

    def __init__(self, text: str) -> None:
        self.text = text


def test_classes_from_other_packages_are_stored_only_when_allowed() -> None:
    with pytest.raises(UnstorableStateError, match=r"tests\.test_bot_state:Reminder"):
        StateCodec().encode(Reminder("chase 6.1"))
    codec = StateCodec(allowed_modules=(*DEFAULT_MODULES, "tests"))
    restored = codec.decode(codec.encode(Reminder("chase 6.1")))
    assert isinstance(restored, Reminder)
    assert restored.text == "chase 6.1"


async def test_a_glance_reads_what_read_reads_and_the_data_stamp(storage: TidyStorage, replica: TidyStorage) -> None:
    """The turn's first read (on SQLite made through the driver on the event loop) finds the same item,
    e-tag included, as `read`, what another replica wrote, and a long key by its hash."""
    key, long_key = fresh("glance"), fresh("glance") + "/" + "x" * 2000
    assert (await storage.glance(key, None))[1] is None
    await replica.write({key: {"listing": {"refs": ["4.2", "7.3"], "shown": 1}, "note": "‘quoted’ ✓"}})
    await storage.write({long_key: {"n": 1}})
    stamp, found = await storage.glance(key, None)
    assert stamp is not None and stamp.epoch
    assert found == (await storage.read([key]))[key]
    assert isinstance(found, dict) and found["listing"]["refs"] == ["4.2", "7.3"] and found["note"] == "‘quoted’ ✓"
    assert (await storage.glance(long_key, None))[1] == (await storage.read([long_key]))[long_key]


async def test_turns_at_once_share_the_pool_without_opening_connections(database: Database) -> None:
    """Each turn's first read, as many at once as the pool keeps connections, again and again, opens no
    connection after the first burst: with SQLAlchemy's default pool of five, every turn beyond the
    fifth opened and closed a PostgreSQL connection of its own, which cost more than the turn."""
    storage = SqlStorage(database)
    opened = [0]

    def connected(*_: Any) -> None:
        opened[0] += 1

    async def burst() -> None:
        await asyncio.gather(*(storage.glance(fresh("burst"), None) for _ in range(POOL_SIZE)))

    await burst()
    event.listen(database.engine.sync_engine, "connect", connected)
    try:
        for _ in range(5):
            await burst()
    finally:
        event.remove(database.engine.sync_engine, "connect", connected)
    assert opened[0] == 0


async def test_a_glance_on_a_connection_the_server_has_closed_still_answers(database: Database) -> None:
    """PostgreSQL: the turn's first read goes through asyncpg itself; on a pooled connection the server
    has since closed (a restart, an idle timeout), it is read again the usual way, on a new connection,
    and the closed one is not handed out again."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no connection that a server could close")
    own = Database(database.url)
    try:
        storage = SqlStorage(own)
        key = fresh("closed")
        await storage.write({key: {"said": "before the restart"}})
        assert (await storage.glance(key, None))[1]["said"] == "before the restart"  # type: ignore[index]
        async with own.one_statement.connect() as connection:  # the pool's one connection
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        async with database.one_statement.connect() as admin:
            assert await admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(2):
            assert (await storage.glance(key, None))[1]["said"] == "before the restart"  # type: ignore[index]
        await storage.delete([key])
    finally:
        await own.dispose()

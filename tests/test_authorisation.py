"""Who may do what, in Teams and on the command line: the policy as a table, each row tried for real.

People of the NCSCP demo plan, asked about an action they are (or are not) responsible for: the
Children's QA subgroup leads 4.2 (Fiona chairs it, Tom is a member); 13.2's lead is the
Education Safeguarding Coordinator, Helen, by name; Sarah is in other sub-groups and has no part in
4.2; Karen is NSCP's business unit (another partnership); nobody knows the unknown person. The
README's "Who may do what" is this table. A refusal changes nothing and says why; an allowed
change is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, text, update

from bot import messages
from bot.cli import Context, cli
from bot.clock import FixedClock
from bot.settings import Settings
from storage.db import Database, async_url
from storage.models import Dispatch, SubGroup, Update
from tests.harness import NCSCP_TENANT as PEOPLE_TENANT
from tests.harness import NOW, Harness, ncscp_plan, teams_user
from tests.teams import Channel, TeamsUser, card_texts, make_message

PLAN = ncscp_plan()
ADMINS = ["Gareth Lloyd", "Priya Shah"]

ADMIN, CHAIR, MEMBER, LEAD, ORDINARY, OTHER, UNKNOWN = (
    "business unit",
    "sub-group chair",
    "sub-group member",
    "named lead",
    "ordinary member",
    "another partnership",
    "unknown",
)
PEOPLE: dict[str, TeamsUser] = {
    ADMIN: teams_user(PLAN, "priya.shah@ncscp.example.org"),
    CHAIR: teams_user(PLAN, "fiona.mcleod@ncscp.example.org"),
    MEMBER: teams_user(PLAN, "tom.aldridge@ncscp.example.org"),
    LEAD: teams_user(PLAN, "helen.marsh@ncscp.example.org"),
    ORDINARY: teams_user(PLAN, "sarah.whitfield@ncscp.example.org"),
    OTHER: TeamsUser("Karen Whitaker", "62585544-e903-4499-9fda-e7439e2e7441", "karen.whitaker@nscp.example.org"),
    UNKNOWN: TeamsUser("Pat Nobody", "0d0d0d0d-0000-4000-8000-00000000dead", "pat.nobody@example.com"),
}
ACTION = {LEAD: "13.2"}  # everyone else is asked about 4.2 (the QA subgroup's)
KNOWN = {ADMIN, CHAIR, MEMBER, LEAD, ORDINARY}
UPDATERS = {ADMIN, CHAIR, MEMBER, LEAD}
EVERYONE = set(PEOPLE)
CHANNEL = Channel("19:authz-qa@thread.tacv2", "Children's QA")
NOTE = "Scoping meeting held; the audit sample is agreed"


def ref_of(who: str) -> str:
    return ACTION.get(who, "4.2")


# What a refusal says (given the action's reference); None where the command is refused to nobody known.
Refusal = Callable[[str], str]
NOT_YOURS: Refusal = lambda ref: messages.not_yours(  # noqa: E731
    ref, "the chair and members of Children's QA subgroup, or the business unit"
)
FOR_ADMINS: dict[str, Refusal] = {
    "set BMG": lambda ref: messages.meetings_are_for_admins(ADMINS),
    "accept a date": lambda ref: messages.dates_are_for_admins(ADMINS),
    "link this channel": lambda ref: messages.link_needs_admin(ADMINS),
    "BMG paper": lambda ref: messages.paper_is_for_admins(ADMINS),
}


@dataclass(frozen=True)
class Rule:
    """One command: who may, what a refusal says, and whether it changes the database when allowed."""

    allowed: set[str]
    refusal: Refusal | None
    writes: bool
    stores: str = ""  # the count an allowed change moves


# The policy. Another partnership's person and an unknown person are refused everything with
# "I don't know you yet" (see unknown_refusal); the rest as the table says.
POLICY: dict[str, Rule] = {
    "my actions": Rule(KNOWN, None, writes=False),
    "overdue": Rule(KNOWN, None, writes=False),
    "show": Rule(KNOWN, None, writes=False),
    "history": Rule(KNOWN, None, writes=False),
    "plan status": Rule(KNOWN, None, writes=False),
    "summary preview": Rule(KNOWN, None, writes=False),
    "update in one message": Rule(UPDATERS, NOT_YOURS, writes=True, stores="progress_update"),
    "guided update": Rule(UPDATERS, NOT_YOURS, writes=True, stores="progress_update"),
    "card: update_form": Rule(UPDATERS, NOT_YOURS, writes=False),
    "card: save_update": Rule(UPDATERS, NOT_YOURS, writes=True, stores="progress_update"),
    "undo": Rule(
        UPDATERS, lambda ref: messages.nothing_to_undo(), writes=True, stores="progress_update"
    ),  # one's own update only
    "redact": Rule(
        UPDATERS, lambda ref: messages.redaction_refused(ref, ADMINS), writes=True, stores="note_review"
    ),  # own note, or admin
    "set BMG": Rule({ADMIN}, FOR_ADMINS["set BMG"], writes=True, stores="bmg_meeting"),
    "accept a date": Rule({ADMIN}, FOR_ADMINS["accept a date"], writes=True, stores="milestone_revision"),
    "link this channel": Rule({ADMIN}, FOR_ADMINS["link this channel"], writes=True, stores="subgroup.channel_id"),
    "BMG paper": Rule({ADMIN}, FOR_ADMINS["BMG paper"], writes=False),
    "snooze": Rule(KNOWN, None, writes=True, stores="dispatch"),  # one's own reminders
}
WHERE = ("1:1 chat", "channel")
CASES = [(command, who, where) for command in POLICY for who in PEOPLE for where in WHERE]


def unknown_refusal() -> str:
    return messages.unknown_person(ADMINS, "NCSCP")


async def counts(db: Database) -> dict[str, int]:
    """The rows a change in Teams or on the command line can add or alter."""
    async with db.transaction() as session:
        found = {
            table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("progress_update", "audit_event", "bmg_meeting", "note_review", "milestone_revision")
        }
        found["dispatch"] = int(await session.scalar(select(func.count()).select_from(Dispatch)) or 0)
        found["subgroup.channel_id"] = int(
            await session.scalar(select(func.count()).select_from(SubGroup).where(SubGroup.channel_id.is_not(None)))
            or 0
        )
        found["redacted notes"] = int(
            await session.scalar(select(func.count()).select_from(Update).where(Update.comment == "[note redacted]"))
            or 0
        )
    return found


def texts_of(replies: list[dict[str, Any]]) -> list[str]:
    """Everything a person would read in these replies (and invoke responses)."""
    found: list[str] = []
    for reply in replies:
        value = reply.get("value")
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found.extend(card_texts(value))
        for key in ("text", "summary"):
            if reply.get(key):
                found.append(str(reply[key]))
        for attachment in reply.get("attachments") or []:
            found.extend(card_texts(attachment["content"]))
    return found


class Person:
    """One persona in one place, talking to the bot."""

    def __init__(self, bot: Harness, who: str, where: str) -> None:
        self.bot, self.who, self.user = bot, who, PEOPLE[who]
        self.channel = CHANNEL if where == "channel" else None
        self.ref = ref_of(who)
        self.heard: list[dict[str, Any]] = []
        self.thread: str | None = None

    async def say(self, said: str, privately: bool = False) -> None:
        """In a channel, the first message starts a thread and the rest reply in it, as in Teams."""
        if privately or self.channel is None:
            self.heard += await self.bot.say(said, self.user)
            return
        activity = make_message(said, self.user, self.bot.tenant, self.bot.connector.url, self.channel)
        self.thread = self.thread or activity["id"]
        activity["conversation"]["id"] = f"{self.channel.id};messageid={self.thread}"
        response = await self.bot.post(activity)
        assert response.status in {200, 201}, await response.text()
        self.heard += self.bot.connector.take()

    async def submit(self, value: dict[str, Any]) -> None:
        """A card's Action.Submit (the fallback of Action.Execute) in this place."""
        self.heard += await self.bot.say("", self.user, self.channel, value=value)

    async def execute(self, verb: str, data: dict[str, Any]) -> None:
        """A card's Action.Execute, as an invoke in this place."""
        activity = make_message("", self.user, self.bot.tenant, self.bot.connector.url, self.channel)
        activity.pop("text")
        activity.pop("entities")
        activity.update(
            type="invoke",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        )
        response = await self.bot.post(activity)
        assert response.status == 200, await response.text()
        self.heard += [await response.json(), *self.bot.connector.take()]

    def read(self) -> list[str]:
        return texts_of(self.heard)


async def _setup_update(bot: Harness, who: str) -> None:
    """The persona's own fresh update on their action (those who may), so there is something to undo
    or redact; and, for accepting, a proposed date on 4.2."""
    if who in UPDATERS:
        await bot.say(f"{ref_of(who)} amber: {NOTE}", PEOPLE[who])


DO: dict[str, Callable[[Person], Awaitable[None]]] = {}


def does(command: str) -> Callable[[Callable[[Person], Awaitable[None]]], Callable[[Person], Awaitable[None]]]:
    def register(func: Callable[[Person], Awaitable[None]]) -> Callable[[Person], Awaitable[None]]:
        DO[command] = func
        return func

    return register


@does("my actions")
async def _my_actions(p: Person) -> None:
    await p.say("my actions")


@does("overdue")
async def _overdue(p: Person) -> None:
    await p.say("what's overdue?")


@does("show")
async def _show(p: Person) -> None:
    await p.say(f"show {p.ref}")


@does("history")
async def _history(p: Person) -> None:
    await p.say(f"history {p.ref}")


@does("plan status")
async def _status(p: Person) -> None:
    await p.say("plan status")


@does("summary preview")
async def _preview(p: Person) -> None:
    await p.say("summary preview for the QA subgroup")


@does("update in one message")
async def _one_message(p: Person) -> None:
    await p.say(f"{p.ref} amber: {NOTE}")


@does("guided update")
async def _guided(p: Person) -> None:
    await p.say(f"update {p.ref}")
    if p.who in UPDATERS:  # the questions come in the 1:1 chat, wherever it began
        for answer in ("amber", NOTE, "skip", "save"):
            await p.say(answer, privately=True)


@does("card: update_form")
async def _update_form(p: Person) -> None:
    await p.execute("update_form", {"verb": "update_form", "ref": p.ref})


@does("card: save_update")
async def _save_update(p: Person) -> None:
    await p.execute("save_update", {"verb": "save_update", "ref": p.ref, "rag": "amber", "note": NOTE})


@does("undo")
async def _undo(p: Person) -> None:
    await p.say("undo")


@does("redact")
async def _redact(p: Person) -> None:
    await p.say(f"redact my last update on {p.ref}" if p.who in UPDATERS else f"redact {p.ref}")
    if p.who in UPDATERS:  # it shows the note and asks why: in the 1:1 chat, wherever it began
        await p.say("it was posted on the wrong action", privately=True)


@does("set BMG")
async def _set_bmg(p: Person) -> None:
    day = date(2027, 1, 4) + timedelta(days=7 * list(PEOPLE).index(p.who) + (1 if p.channel else 0))
    await p.say(f"set BMG {day.isoformat()}")


@does("accept a date")
async def _accept(p: Person) -> None:
    await p.say("accept the new date for 4.2")


@does("link this channel")
async def _link(p: Person) -> None:
    await p.say("link this channel to the QA subgroup")


@does("BMG paper")
async def _paper(p: Person) -> None:
    await p.say("BMG paper")


@does("snooze")
async def _snooze(p: Person) -> None:
    await p.say("snooze")


@pytest.fixture(autouse=True)
async def fresh_state(bot: Harness, demo_db: Database) -> None:
    """Each row starts alike: the clock at the tests' Monday, no channel linked, nobody snoozed, no
    accepted dates."""
    bot.clock.instant = NOW
    async with demo_db.transaction() as session:
        await session.execute(update(SubGroup).values(channel_id=None))
        await session.execute(text("DELETE FROM bot_state"))  # no conversation left half-way by another row
        await session.execute(delete(Dispatch).where(Dispatch.detail == "snoozed"))
    other = PEOPLE[OTHER]  # Teams would say who they are: their own partnership's address
    bot.connector.members[other.user_id] = other.member()
    bot.connector.take()


def _what(command: str, who: str, where: str) -> str:
    return f"{who} in a {where}: {command}"


@pytest.mark.parametrize(("command", "who", "where"), CASES, ids=[_what(*c) for c in CASES])
async def test_who_may_do_what_in_teams(
    bot: Harness, demo_db: Database, caplog: pytest.LogCaptureFixture, command: str, who: str, where: str
) -> None:
    rule = POLICY[command]
    person = Person(bot, who, where)
    if who in KNOWN:  # they have a 1:1 chat with the bot, where an update begun in a channel goes on
        await bot.say("hello", PEOPLE[who])
    bot.clock.instant = NOW + timedelta(seconds=1)  # after any setup the command makes
    if command in {"undo", "redact", "accept a date"}:  # their setup is part of the command: counted from there
        await (_setup_update(bot, who) if command != "accept a date" else _accept_setup(bot))
        bot.connector.take()
    before = await counts(demo_db)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await DO[command](person)
    after = await counts(demo_db)
    said = person.read()
    refused = _refusal(rule, command, who, where)

    if refused is None:
        assert said, "an answer"
        assert not any(r.getMessage().startswith("refused:") for r in caplog.records), said
        assert not any(t in said for t in (unknown_refusal(), messages.link_needs_channel())), said
        if rule.writes:
            assert after[rule.stores] > before[rule.stores], f"allowed, so it was stored: {said}"
            if command == "redact":
                assert after["redacted notes"] == before["redacted notes"] + 1, said
    else:
        assert refused in said, said
        assert after == before, f"refused, so nothing changed: {said}"
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        if refused not in {messages.nothing_to_undo(), messages.link_needs_channel()}:
            assert any(r.getMessage().startswith("refused:") for r in warnings), "every refusal is logged"
        _no_personal_data(caplog.records)


def _refusal(rule: Rule, command: str, who: str, where: str) -> str | None:
    """What the person should be told, if refused; None if allowed."""
    if who in {OTHER, UNKNOWN}:
        return unknown_refusal()
    if command == "link this channel" and where == "1:1 chat":
        return messages.link_needs_channel()  # only in the channel it links, for anyone
    if who in rule.allowed:
        return None
    assert rule.refusal is not None
    return rule.refusal(ref_of(who))


async def _accept_setup(bot: Harness) -> None:
    await bot.say(f"4.2 amber: {NOTE} (revised date: March 2027)", PEOPLE[CHAIR])


PERSONAL = ("priya.shah", "fiona.mcleod", "tom.aldridge", "helen.marsh", "sarah.whitfield", "karen.whitaker")
NAMES = ("Priya", "Fiona", "Tom", "Helen", "Sarah", "Karen", "Pat Nobody", "Shah", "McLeod", "Whitaker")


def _no_personal_data(records: list[logging.LogRecord]) -> None:
    """No warning names anyone, gives an address or quotes a note."""
    for record in records:
        if record.levelno < logging.WARNING:
            continue
        message = record.getMessage()
        assert "@" not in message, message
        assert not any(name in message for name in (*PERSONAL, *NAMES)), message
        assert NOTE not in message and "audit moved" not in message, message


def test_the_table_covers_every_command() -> None:
    assert set(DO) == set(POLICY)
    assert len(CASES) == len(POLICY) * 7 * 2


# The command line: whoever runs planbot holds the database, so backup, restore and retention run
# are the operator's; where a command names a person with --by, that person must be allowed.
TOM, PRIYA, EMMA = "tom.aldridge@ncscp.example.org", "priya.shah@ncscp.example.org", "emma.clarke@ncscp.example.org"
CLI_POLICY = [
    # (what, arguments, allowed --by, refused --by, what the refusal says)
    ("import", ["import", "{ncscp_file}"], PRIYA, TOM, "only NCSCP's business unit may do this"),
    ("meetings add", ["meetings", "add", "2027-02-01", "--partnership", "NCSCP"], PRIYA, TOM, "only NCSCP's"),
    ("meetings remove", ["meetings", "remove", "2027-03-01", "--partnership", "NCSCP"], PRIYA, TOM, "only NCSCP's"),
    ("dates accept", ["dates", "accept", "8.1", "--partnership", "NCSCP"], None, TOM, "Only the business unit"),
    ("redact", ["redact", "--partnership", "NCSCP", "--update", "{update}", "--reason", "r"], PRIYA, TOM, "neither"),
    (
        "notes clear",
        ["notes", "clear", "--partnership", "NCSCP", "--update", "{update}", "--reason", "r"],
        PRIYA,
        TOM,
        "only the business unit clears notes",
    ),
    ("people erase", ["people", "erase", EMMA, "--partnership", "NCSCP"], PRIYA, TOM, "only NCSCP's"),
]


@pytest.mark.parametrize("row", CLI_POLICY, ids=[row[0] for row in CLI_POLICY])
async def test_who_may_do_what_on_the_command_line(
    tmp_path: Path, ncscp_file: Path, caplog: pytest.LogCaptureFixture, row: tuple[Any, ...]
) -> None:
    what, args, allowed, refused_by, says = row
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    context = Context(Settings(database_url=url), FixedClock(NOW), os_user="ops")
    run = CliRunner().invoke
    for setup in (["demo", "--rebase"], ["meetings", "add", "2027-03-01", "--partnership", "NCSCP"]):
        assert (await asyncio.to_thread(run, cli, setup, obj=context)).exit_code == 0
    db = Database(async_url(url))
    try:
        async with db.transaction() as session:  # a note Priya (the business unit) wrote, on 1.1
            update_id = await session.scalar(select(Update.id).where(Update.author_name == "Priya Shah").limit(1))
        filled = [a.format(ncscp_file=ncscp_file, update=update_id) for a in args]

        before = await counts(db)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            result = await asyncio.to_thread(run, cli, [*filled, "--by", refused_by], obj=context)
        assert result.exit_code != 0 and says in result.output, result.output
        assert await counts(db) == before, f"{what} --by a lead changed nothing"
        assert any(r.getMessage().startswith("refused:") for r in caplog.records), "every refusal is logged"
        _no_personal_data(caplog.records)

        if allowed is not None:
            result = await asyncio.to_thread(run, cli, [*filled, "--by", allowed], obj=context)
            assert result.exit_code == 0, result.output
            assert await counts(db) != before, f"{what} --by the business unit changed something"
    finally:
        await db.dispose()


# Card payloads are checked on the server: Fiona (who may update 4.2) sends cards edited by hand.
SENSITIVE = "Audit of ENC1234567 found the plan was late"  # NCSCP's own case-id pattern
FORGED = [
    ("a ref she may not update", "save_update", {"ref": "13.2", "rag": "amber", "note": NOTE}, "Only "),
    ("a ref that does not exist", "save_update", {"ref": "99.9", "rag": "amber", "note": NOTE}, "I can't find"),
    ("another partnership's ref", "save_update", {"ref": "6.2", "rag": "red", "note": NOTE}, "I can't find"),
    ("a form for a ref that does not exist", "update_form", {"ref": "99.9"}, "I can't find"),
    ("an unknown verb", "delete_update", {"ref": "4.2", "rag": "amber", "note": NOTE}, "Sorry, I did not"),
    ("another card's verb", "history", {"ref": "4.2", "rag": "red", "note": NOTE}, "History of 4.2"),
    (
        "a forged confirmation",
        "save_update",
        {"ref": "4.2", "rag": "amber", "note": SENSITIVE, "confirmed": "0" * 64},
        "identif",
    ),
]


@pytest.mark.parametrize("how", ["Action.Execute", "Action.Submit"])
@pytest.mark.parametrize(("what", "verb", "data", "says"), FORGED, ids=[f[0] for f in FORGED])
async def test_an_edited_card_changes_nothing(
    bot: Harness,
    demo_db: Database,
    caplog: pytest.LogCaptureFixture,
    how: str,
    what: str,
    verb: str,
    data: dict[str, Any],
    says: str,
) -> None:
    fiona = Person(bot, CHAIR, "1:1 chat")
    before = await counts(demo_db)
    with caplog.at_level(logging.INFO):
        if how == "Action.Execute":
            await fiona.execute(verb, {"verb": verb, **data})
        else:
            await fiona.submit({"verb": verb, **data})
    assert any(says in t for t in fiona.read()), fiona.read()
    assert await counts(demo_db) == before
    assert "Saved" not in " ".join(fiona.read())
    if what not in {"another card's verb"} and not (what == "an unknown verb" and how == "Action.Submit"):
        assert any(r.getMessage().startswith("refused:") for r in caplog.records), "logged"
    _no_personal_data(caplog.records)
    assert "ENC1234567" not in " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


async def test_a_person_of_another_partnership_is_unknown_in_this_one(
    bot: Harness, demo_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    karen = PEOPLE[OTHER]
    bot.connector.members[karen.user_id] = karen.member()  # Teams gives her NSCP address
    before = await counts(demo_db)
    with caplog.at_level(logging.INFO):
        for said in ("my actions", "show 6.2", "6.2 red: the other partnership's note", "BMG paper"):
            [reply] = await bot.say(said, karen)
            assert reply["text"] == unknown_refusal()
            assert "NSCP" not in reply["text"].replace("NCSCP", "") and "2023-27" not in reply["text"]
    assert await counts(demo_db) == before
    assert sum(r.getMessage().startswith("refused: unknown") for r in caplog.records) == 4
    _no_personal_data(caplog.records)

    bot.tenant = "7a2d3b5f-1d2e-4f8b-8c2b-3e4d5f6a7b02"  # in her own partnership she is known
    try:
        assert "Karen" in texts_of(await bot.say("my actions", karen))[0]
    finally:
        bot.tenant = PEOPLE_TENANT


async def test_a_paper_link_opens_only_its_own_partnership_s_paper(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    [reply] = await bot.say("BMG paper", PEOPLE[ADMIN])
    path = urlparse(reply["attachments"][0]["content"]["actions"][0]["url"]).path
    token = path.removeprefix("/papers/")
    partnership, expires, signature = token.split(".")
    assert (await bot.client.get(path)).status == 200
    with caplog.at_level(logging.WARNING):
        other = await bot.client.get(f"/papers/{int(partnership) + 1}.{expires}.{signature}")
    assert other.status == 403
    assert "Business Plan 2023-27" not in await other.text()
    assert any(r.getMessage().startswith("refused: paper link") for r in caplog.records)
    assert not any(token in r.getMessage() or signature in r.getMessage() for r in caplog.records)

"""`planbot`: the business unit's command line (database, demo, import, export)."""

from __future__ import annotations

import asyncio
import getpass
import logging
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages
from bot.clock import Clock, FixedClock, SystemClock
from bot.demo import load_demo
from bot.refusals import refused
from bot.rules import last_meeting, local_today, next_meeting
from bot.settings import Settings, UnsafeConfigurationError
from manifests.build import AppDetails, ManifestError, build
from storage.audit import Actor, Operator
from storage.db import Database
from storage.errors import NotAllowedError, NotFoundError, PlanFileError
from storage.importer import ImportReport
from storage.models import Partnership, Update
from storage.repositories import MeetingRepository, PartnershipRepository, counts

if TYPE_CHECKING:
    from bot.scheduler import Done, Preview

P = ParamSpec("P")
R = TypeVar("R")


class Context:
    def __init__(self, settings: Settings, clock: Clock, os_user: str | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.os_user = os_user or _os_user()

    def operator(self, email: str | None, business_unit: bool = False) -> Operator:
        """Who runs a command, for the audit log: the person with `email`, or else the OS user.
        `business_unit`: the command is the business unit's, so a person named who is not in it is refused."""
        return Operator(self.os_user, email, business_unit)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers): say so rather than guess
        return "unknown user"


BY_HELP = "Email of the person doing this, for the audit log (default: the OS user running planbot)."


def run_async(func: Callable[P, Awaitable[R]]) -> Callable[P, R]:
    """Run an async command; a person's mistake becomes a one-line error, not a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return asyncio.run(func(*args, **kwargs))  # type: ignore[arg-type]
        except (PlanFileError, NotFoundError) as exc:
            raise click.ClickException(str(exc)) from None
        except NotAllowedError as exc:
            refused("a command for the business unit, --by someone else", command=func.__name__)
            raise click.ClickException(str(exc)) from None

    return wrapper


async def _open(ctx: Context) -> Database:
    """The configured database, migrated to the latest schema."""
    from storage.migrate import upgrade

    await upgrade(ctx.settings.database_url)
    return Database(ctx.settings.database_url)


@asynccontextmanager
async def _transaction(ctx: Context) -> AsyncIterator[AsyncSession]:
    """One transaction on the configured database, for a command that needs nothing more."""
    database = await _open(ctx)
    try:
        async with database.transaction() as session:
            yield session
    finally:
        await database.dispose()


@click.group()
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """Plan Tracker: keep a safeguarding partnership's business plan alive between meetings."""
    click_ctx.obj = click_ctx.obj or Context(Settings(), SystemClock())


@cli.group()
def db() -> None:
    """The database (DATABASE_URL; a SQLite file in the working directory by default)."""


@db.command("upgrade")
@click.pass_obj
@run_async
async def db_upgrade(ctx: Context) -> None:
    """Apply every migration the database lacks."""
    from storage.migrate import upgrade

    await upgrade(ctx.settings.database_url)
    click.echo(f"database is up to date: {_safe(ctx.settings.database_url)}")


@cli.command()
@click.option("--rebase", is_flag=True, help="Move the plans' dates so each next BMG is a week from today.")
@click.option("--if-empty", is_flag=True, help="Load only into a database that holds no partnership yet.")
@click.pass_obj
@run_async
async def demo(ctx: Context, rebase: bool, if_empty: bool) -> None:
    """Load both demo plans (the NCSCP 2019-22 and NSCP 2023-27 business plans)."""
    database = await _open(ctx)
    try:
        async with database.transaction() as session:
            if if_empty and await PartnershipRepository(session).all():
                click.echo("the database already holds plans; the demo was not loaded again")
            else:
                today = local_today(ctx.clock.now(), ctx.settings.tz) if rebase else None
                for item in await load_demo(session, today, Actor.cli(ctx.os_user), ctx.clock.now()):
                    click.echo(_loaded(item))
        await _print_counts(database)
    finally:
        await database.dispose()


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--partnership", "short_name", help="Short name of the partnership (needed for XLSX and CSV).")
@click.option("--plan", "plan_title", help="Plan title for a table (default: the partnership's current plan).")
@click.option(
    "--allow-identifying-details",
    "allow_identifying",
    is_flag=True,
    help="Keep progress notes that seem to identify a child or family (otherwise the import is refused, naming them).",
)
@click.option("--by", "by_email", help=BY_HELP)
@click.pass_obj
@run_async
async def import_command(
    ctx: Context,
    file: Path,
    short_name: str | None,
    plan_title: str | None,
    allow_identifying: bool,
    by_email: str | None,
) -> None:
    """Import a plan file (YAML) or a plan table (XLSX, CSV); on any error nothing is written.

    What changed (actions added, changed and archived; people added, removed and given another role)
    is printed and recorded in the audit log."""
    from storage.plan_io import import_file

    async with _transaction(ctx) as session:
        if by_email:  # checked before the file can change anyone's role
            await _business_unit_before_import(ctx, session, file, short_name, by_email)
        report = await import_file(
            session,
            file,
            now=ctx.clock.now(),
            partnership=short_name,
            plan_title=plan_title,
            allow_identifying=allow_identifying,
            by=ctx.operator(by_email, business_unit=True),
        )
    click.echo(_loaded(report))
    click.echo(f"changes: {report.changes()}")


async def _business_unit_before_import(
    ctx: Context, session: AsyncSession, file: Path, short_name: str | None, by_email: str
) -> None:
    """A plan already in the database is re-imported only by its business unit, as it stands now."""
    from storage.plan_io import PLAN_FILE_SUFFIXES
    from storage.planfile import load_plan_file

    if short_name is None and file.suffix.lower() in PLAN_FILE_SUFFIXES:
        short_name = load_plan_file(file).partnership.short_name
    existing = await PartnershipRepository(session).find(short_name) if short_name else None
    if existing is not None:
        await ctx.operator(by_email, business_unit=True).actor(session, existing)


@cli.command("export")
@click.option("--partnership", "short_name", required=True, help="Short name of the partnership.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "docx"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="File to write.")
@click.option("--plan", "plan_title", help="Plan title (default: the partnership's current plan).")
@click.pass_obj
@run_async
async def export_command(ctx: Context, short_name: str, fmt: str, out: Path, plan_title: str | None) -> None:
    """Export the plan with current RAG and latest comments: a table (xlsx, csv) or the BMG paper (docx)."""
    if out.suffix.lower() != f".{fmt}":
        raise click.BadParameter(f"the file name should end in .{fmt}", param_hint="--out")
    from storage.plan_io import export_file

    async with _transaction(ctx) as session:
        if fmt == "docx":
            from bot.paper import write_paper

            partnership = await PartnershipRepository(session).by_short_name(short_name)
            summary = await write_paper(session, partnership, out, ctx.clock.now())
            click.echo(f"wrote the BMG paper to {out}: {summary.describe()}")
            return
        written = await export_file(session, short_name, out, plan_title)
    click.echo(f"wrote {written} actions to {out}")


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="File to write (JSON Lines).")
@click.pass_obj
@run_async
async def backup(ctx: Context, out: Path) -> None:
    """Write everything in the database to one file: every table, every row, the whole history.

    The file holds personal data (names, emails, every note as written): keep it as safely as the
    database. The format is described in docs/backup-format.md.
    """
    from storage.backup import write_backup

    database = await _open(ctx)
    try:
        summary = await write_backup(database, out, ctx.clock.now())
    finally:
        await database.dispose()
    click.echo(f"wrote the backup to {out}: {summary.describe()}")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
@run_async
async def restore(ctx: Context, file: Path) -> None:
    """Restore a backup into an empty database (DATABASE_URL), exactly as it was, ids included."""
    from storage.backup import read_backup, restore_backup

    backup = read_backup(file)  # a damaged file is refused before the database is touched
    database = await _open(ctx)
    try:
        summary = await restore_backup(database, backup)
    finally:
        await database.dispose()
    click.echo(f"restored {file} into {_safe(ctx.settings.database_url)}: {summary.describe()}")
    await _print_restored(ctx)


async def _print_restored(ctx: Context) -> None:
    database = Database(ctx.settings.database_url)
    try:
        await _print_counts(database)
    finally:
        await database.dispose()


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default PLANBOT_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default PLANBOT_PORT or 3978).")
@click.option("--playground", is_flag=True, help="Also start the Agents Playground (a local Teams client).")
@click.option("--playground-port", type=int, default=56150, show_default=True)
@click.option("--as", "as_email", default=None, help="Email of the demo person at the playground's keyboard.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes serving the port, each with its own event loop and database pool (Linux); "
    "the scheduler runs in the first.",
)
@click.pass_obj
def serve(
    ctx: Context,
    host: str | None,
    port: int | None,
    playground: bool,
    playground_port: int,
    as_email: str | None,
    workers: int,
) -> None:
    """Run the bot: POST /api/messages for Teams, GET /healthz and /readyz."""
    from aiohttp import web

    from bot.app import create_app

    settings = ctx.settings
    host = host or settings.host
    port = port or settings.port
    try:
        settings.check_safe_to_serve(host)
    except UnsafeConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    if workers > 1:
        _serve_workers(ctx, host, port, workers, playground, playground_port, as_email)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mode = "anonymous (local development)" if settings.anonymous else f"app {settings.app_id}"
    client = (
        _start_playground(ctx, f"http://127.0.0.1:{port}/api/messages", playground_port, as_email)
        if playground
        else None
    )
    click.echo(f"Plan Tracker listening on http://{host}:{port}/api/messages, {mode}")
    try:
        web.run_app(create_app(settings, ctx.clock, settle=True), host=host, port=port, print=None)
    finally:
        if client is not None:
            client.terminate()


def _serve_workers(
    ctx: Context, host: str, port: int, workers: int, playground: bool, playground_port: int, as_email: str | None
) -> None:
    """`planbot serve --workers N` (bot/workers.py): N forked processes on one port, supervised here."""
    from aiohttp import web

    from bot.app import create_app
    from bot.language import warm
    from bot.workers import LOG_FORMAT, WorkersUnavailableError, check_available, run_workers

    settings = ctx.settings
    try:
        check_available()
    except WorkersUnavailableError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # The language model, trained (if this corpus is new) and kept once, here: every worker then has it
    # without training it again at the same moment, and shares its memory.
    warm()
    only_first = settings.model_copy(update={"scheduler": False})  # one scheduler is enough (its claims keep
    # several safe together, but each would read every partnership's timetable on every interval)

    def make_app(index: int) -> web.Application:
        return create_app(settings if index == 0 else only_first, ctx.clock, settle=True)

    mode = "anonymous (local development)" if settings.anonymous else f"app {settings.app_id}"
    client = (
        _start_playground(ctx, f"http://127.0.0.1:{port}/api/messages", playground_port, as_email)
        if playground
        else None
    )
    click.echo(f"Plan Tracker listening on http://{host}:{port}/api/messages, {mode}, {workers} workers")
    try:
        code = run_workers(host, port, workers, make_app)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        if client is not None:
            client.terminate()
    if code != 0:
        raise click.ClickException("a worker stopped unexpectedly, so the server has stopped (see the log)")


def _start_playground(ctx: Context, endpoint: str, port: int, as_email: str | None) -> subprocess.Popen[bytes] | None:
    """Write a playground config with the first partnership's people and start it; say where to open it."""
    from bot import playground

    async def prepare() -> playground.PlaygroundSetup | None:
        database = Database(ctx.settings.database_url)
        try:
            async with database.transaction() as session:
                partnerships = await PartnershipRepository(session).all()
                return await playground.setup_for(session, partnerships[0], as_email) if partnerships else None
        finally:
            await database.dispose()

    setup = asyncio.run(prepare())
    if setup is None:
        click.echo("no partnership is loaded, so the playground was not started (try planbot demo)")
        return None
    folder = Path(".playground")
    folder.mkdir(exist_ok=True)
    setup.write(folder)
    log = folder / "playground.log"
    try:
        process = playground.start(endpoint, port, folder, log)
        playground.wait_until_ready(port, process, log)
    except playground.PlaygroundUnavailableError as exc:
        click.echo(f"the Agents Playground was not started: {exc}")
        return None
    me = setup.config["currentUser"]
    click.echo(f"Agents Playground: open http://localhost:{port} to chat as {me['name']} ({me['email']})")
    return process


@cli.group()
def meetings() -> None:
    """BMG meeting dates."""


@meetings.command("list")
@click.option("--partnership", "short_name", required=True)
@click.pass_obj
@run_async
async def meetings_list(ctx: Context, short_name: str) -> None:
    """The partnership's BMG meetings, the next one marked."""
    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        days = await MeetingRepository(session).dates(partnership)
    upcoming = next_meeting(days, ctx.clock.now(), ctx.settings.tz)
    for day in days:
        click.echo(f"{day.isoformat()}  {messages.day(day)}" + ("  <- next" if day == upcoming else ""))


@meetings.command("add")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--partnership", "short_name", required=True)
@click.option("--by", "by_email", help=BY_HELP)
@click.pass_obj
@run_async
async def meetings_add(ctx: Context, day: datetime, short_name: str, by_email: str | None) -> None:
    """Add a BMG meeting (YYYY-MM-DD)."""
    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        by = await ctx.operator(by_email, business_unit=True).actor(session, partnership)
        added = await MeetingRepository(session).add(partnership, day.date(), by=by, at=ctx.clock.now())
    when = messages.day(day.date())
    click.echo(f"added the BMG on {when}" if added else f"there is already a BMG on {when}")


@meetings.command("remove")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--partnership", "short_name", required=True)
@click.option("--by", "by_email", help=BY_HELP)
@click.pass_obj
@run_async
async def meetings_remove(ctx: Context, day: datetime, short_name: str, by_email: str | None) -> None:
    """Remove a BMG meeting (YYYY-MM-DD)."""
    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        by = await ctx.operator(by_email, business_unit=True).actor(session, partnership)
        removed = await MeetingRepository(session).remove(partnership, day.date(), by=by, at=ctx.clock.now())
    if not removed:
        raise click.ClickException(f"there is no BMG on {messages.day(day.date())} for {partnership.short_name}")
    click.echo(f"removed the BMG on {messages.day(day.date())}")


@cli.group()
def dates() -> None:
    """Revised dates leads proposed, for the business unit to accept."""


@dates.command("list")
@click.option("--partnership", "short_name", required=True)
@click.pass_obj
@run_async
async def dates_list(ctx: Context, short_name: str) -> None:
    """Proposed dates waiting to be accepted, and which milestone each would replace."""
    from bot.rules import revised_milestone
    from bot.views import load_snapshot
    from storage.models import Update

    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        snapshot = await load_snapshot(session, partnership, ctx.clock.now())
        lines = []
        for action in snapshot.actions:
            if action.proposed is None or action.proposal_id is None or action.proposed_at is None:
                continue
            proposal = await session.get_one(Update, action.proposal_id)
            target = revised_milestone(action.milestones, action.proposed_at, snapshot.tz)
            by = f" by {proposal.author_name}" if proposal.author_name else ""
            at = action.proposed_at.astimezone(snapshot.tz)
            replaces = f", to replace {target.due.label}" if target else ""
            lines.append(f"{action.ref}  {action.proposed.label}{replaces} (proposed{by} on {at.day} {at:%B %Y})")
    for line in lines or [f"no proposed dates are waiting for {partnership.short_name}"]:
        click.echo(line)


@dates.command("accept")
@click.argument("ref")
@click.option("--partnership", "short_name", required=True)
@click.option("--by", "by_email", help="Email of the business unit member accepting it (default: the only one).")
@click.pass_obj
@run_async
async def dates_accept(ctx: Context, ref: str, short_name: str, by_email: str | None) -> None:
    """Accept action REF's proposed date: it replaces the milestone it revised."""
    from bot.revisions import accept
    from bot.views import load_snapshot
    from storage.models import Accepted, Role
    from storage.repositories import PeopleRepository

    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        people = PeopleRepository(session)
        if by_email:
            person = await people.by_address(partnership, by_email)
            if person is None:
                raise click.ClickException(f"nobody in {partnership.short_name} has the email address {by_email}")
        else:
            admins = [p for p in await people.people(partnership) if p.role is Role.ADMIN]
            if len(admins) != 1:
                names = ", ".join(f"{p.name} <{p.email}>" for p in admins) or "nobody yet"
                raise click.ClickException(f"say who accepts it with --by EMAIL (the business unit: {names})")
            person = admins[0]
        now = ctx.clock.now()
        snapshot = await load_snapshot(session, partnership, now)
        accepted, text = await accept(session, snapshot, person, ref, now, Accepted.CLI)
    if not accepted:
        raise click.ClickException(text)
    click.echo(text)


@cli.command("audit")
@click.option("--partnership", "short_name", required=True)
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only from this day on (YYYY-MM-DD).")
@click.pass_obj
@run_async
async def audit_command(ctx: Context, short_name: str, since: datetime | None) -> None:
    """The audit log of administrative changes, oldest first: when, who, what."""
    from storage.audit import AuditRepository

    tz = ctx.settings.tz
    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        start = since.replace(tzinfo=tz) if since else None
        events = await AuditRepository(session).events(partnership, start)
    for event in events:
        click.echo(
            f"{event.at.astimezone(tz):%Y-%m-%d %H:%M}  {event.kind.value:<15}  {event.actor_name}: {event.summary}"
        )
    if not events:
        click.echo(f"nothing recorded for {partnership.short_name}" + (f" since {since:%Y-%m-%d}" if since else ""))


@cli.command("redact")
@click.option("--partnership", "short_name", required=True)
@click.option("--update", "update_id", type=int, required=True, help="The update's id (see planbot notes list).")
@click.option("--reason", required=True, help="Why the note is redacted (recorded).")
@click.option("--by", "by_email", help=BY_HELP)
@click.pass_obj
@run_async
async def redact_command(ctx: Context, short_name: str, update_id: int, reason: str, by_email: str | None) -> None:
    """Replace an update's note with "[note redacted]"; the update and a record of the redaction stay."""
    from bot import redaction

    async with _transaction(ctx) as session:
        partnership, update, ref = await _note_of(session, short_name, update_id)
        by = await ctx.operator(by_email).actor(session, partnership)
        if by.person_id is not None:
            from storage.models import Person

            person = await session.get_one(Person, by.person_id)
            if not redaction.may_redact(person, update):
                refused("not theirs to redact", command="redact", person=person.id, update=update_id)
                raise click.ClickException(
                    f"{person.name} neither wrote update {update_id} nor is in the business unit; nothing was redacted"
                )
        done = await redaction.redact(session, update, partnership.id, by, reason, ctx.clock.now(), ref)
    if done.again:
        click.echo(f"update {update_id} on {ref} was already redacted; nothing changed")
    else:
        click.echo(f'redacted the note of update {update_id} on {ref}: it now reads "{update.comment}"')


@cli.group()
def notes() -> None:
    """Progress notes: find them, and clear one the identifying-details check flags."""


@notes.command("list")
@click.option("--partnership", "short_name", required=True)
@click.option("--ref", required=True, help="The action's reference, e.g. 4.2.")
@click.pass_obj
@run_async
async def notes_list(ctx: Context, short_name: str, ref: str) -> None:
    """An action's updates, oldest first, with their ids (for redact and notes clear)."""
    from bot.privacy import kinds as sensitive
    from storage.repositories import NoteRepository, PlanRepository, UpdateRepository

    tz = ctx.settings.tz
    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        plan = await PlanRepository(session).current(partnership)
        action = await PlanRepository(session).action(plan, ref)
        if action is None:
            raise click.ClickException(messages.unknown_action(ref, partnership.short_name, plan.title))
        history = await UpdateRepository(session).history(action.id)
        reviews = await NoteRepository(session).reviews(u.id for u in history)
    for u in history:
        rating = "withdrawal" if u.withdraws_id else (u.rag.label if u.rag else "no rating")
        marks = sorted(k.value for k in reviews.get(u.id, set()))
        flagged = sensitive(u.comment)
        tags = [*marks, *(["flagged: " + ", ".join(flagged)] if flagged and "cleared" not in marks else [])]
        extra = f"  [{'; '.join(tags)}]" if tags else ""
        click.echo(f"{u.id:>6}  {u.created_at.astimezone(tz):%Y-%m-%d %H:%M}  {u.author_name or '-'}  {rating}{extra}")
        if u.comment:
            click.echo(f"        {u.comment}")
    if not history:
        click.echo(f"{ref} has no updates yet")


@notes.command("clear")
@click.option("--partnership", "short_name", required=True)
@click.option("--update", "update_id", type=int, required=True, help="The update's id (see planbot notes list).")
@click.option("--reason", required=True, help="Why the note may be shown as written (recorded).")
@click.option("--by", "by_email", help=BY_HELP)
@click.pass_obj
@run_async
async def notes_clear(ctx: Context, short_name: str, update_id: int, reason: str, by_email: str | None) -> None:
    """Clear a note the identifying-details check flags: it is shown as written on the way out."""
    from storage.models import Person, ReviewKind, Role
    from storage.repositories import NoteRepository

    async with _transaction(ctx) as session:
        partnership, update, ref = await _note_of(session, short_name, update_id)
        by = await ctx.operator(by_email).actor(session, partnership)
        if by.person_id is not None and (await session.get_one(Person, by.person_id)).role is not Role.ADMIN:
            refused("clearing notes is for the business unit", command="notes clear", person=by.person_id)
            raise click.ClickException("only the business unit clears notes; nothing was cleared")
        repo = NoteRepository(session)
        kinds = {r.kind for r in await repo.history(update_id)}
        if ReviewKind.REDACTED in kinds:
            raise click.ClickException(f"update {update_id}'s note was redacted; there is nothing to show")
        if ReviewKind.CLEARED in kinds:
            click.echo(f"update {update_id} on {ref} was already cleared; nothing changed")
            return
        await repo.clear(update, partnership.id, by, reason, ctx.clock.now(), ref)
    click.echo(f"cleared the note of update {update_id} on {ref}: it will be shown as written")


async def _note_of(session: AsyncSession, short_name: str, update_id: int) -> tuple[Partnership, Update, str]:
    """The partnership, the update (which must be one of its plans') and its action's reference."""
    from storage.models import Action, Plan

    partnership = await PartnershipRepository(session).by_short_name(short_name)
    update = await session.get(Update, update_id)
    action = await session.get(Action, update.action_id) if update else None
    plan = await session.get(Plan, action.plan_id) if action else None
    if update is None or action is None or plan is None or plan.partnership_id != partnership.id:
        raise click.ClickException(f"{partnership.short_name} has no update {update_id}; see planbot notes list")
    if not update.comment:
        raise click.ClickException(f"update {update_id} has no note")
    return partnership, update, action.ref


@cli.group()
def people() -> None:
    """The partnership's people."""


@people.command("erase")
@click.argument("email")
@click.option("--partnership", "short_name", required=True)
@click.option("--by", "by_email", help=BY_HELP)
@click.pass_obj
@run_async
async def people_erase(ctx: Context, email: str, short_name: str, by_email: str | None) -> None:
    """Erase a person: pseudonymised everywhere ("a former member of staff"); their updates stay."""
    from storage.erasure import erase_person, find_by_email

    async with _transaction(ctx) as session:
        partnership = await PartnershipRepository(session).by_short_name(short_name)
        by = await ctx.operator(by_email, business_unit=True).actor(session, partnership)
        person = await find_by_email(session, partnership, email)
        if person is None:
            click.echo(
                f"nobody in {partnership.short_name} has the address {email} (already erased, or never there); "
                "nothing changed"
            )
            return
        if by.person_id == person.id:
            raise click.ClickException("someone else in the business unit must erase you; nothing changed")
        erased = await erase_person(session, partnership, person, by, ctx.clock.now())
    click.echo(
        f"erased: person {erased.person_id} is now a former member of staff on {erased.updates} updates; "
        f"{erased.notes} notes and records that named them rewritten; {erased.memberships} memberships and "
        f"{erased.chairs} chairs removed; {erased.conversations} conversations forgotten"
    )
    click.echo("If the plan file still lists them, take them out of it before the next import.")


@cli.group()
def retention() -> None:
    """The retention policy for notes (PLANBOT_RETENTION_YEARS)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.pass_obj
@run_async
async def retention_run(ctx: Context, dry_run: bool) -> None:
    """Remove the notes of plans that ended more than PLANBOT_RETENTION_YEARS years ago."""
    from storage import retention as policy
    from storage.audit import Actor

    years = ctx.settings.retention_years
    if years is None:
        click.echo("PLANBOT_RETENTION_YEARS is not set: every note is kept; nothing to do")
        return
    now = ctx.clock.now()
    async with _transaction(ctx) as session:
        due = await policy.expired(session, years, local_today(now, ctx.settings.tz))
        for item in due:
            verb = "would remove" if dry_run else "removing"
            click.echo(
                f"{item.partnership} '{item.plan}' (ended {messages.day(item.ends_on)}): {verb} {len(item.notes)} notes"
            )
        if not dry_run and due:
            await policy.apply(session, due, years, Actor.cli(ctx.os_user), now)
    if not due:
        click.echo(f"no notes are due for removal under the {years}-year retention policy")
    elif dry_run:
        click.echo("a dry run: nothing was changed")


@cli.group("summaries")
def summaries_group() -> None:
    """Nudges, sub-group summaries and the exception report before each BMG."""


@summaries_group.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be sent, send nothing, claim nothing.")
@click.pass_obj
@run_async
async def summaries_run(ctx: Context, dry_run: bool) -> None:
    """Send whatever is due now (for cron; the server also does this by itself)."""
    from bot.adapter import create_adapter
    from bot.app import timetable
    from bot.messenger import Messenger
    from bot.scheduler import Scheduler

    database = await _open(ctx)
    adapter = create_adapter(ctx.settings)
    try:
        messenger = None if dry_run else Messenger(adapter, ctx.settings.app_id)
        scheduler = Scheduler(database, ctx.clock, messenger, timetable(ctx.settings))
        report = await scheduler.run_once(dry_run=dry_run)
        for line in report.lines or ["nothing is due now"]:
            click.echo(line)
        if report.failed:
            raise click.ClickException(f"{len(report.failed)} could not be sent; the business unit has been told")
    finally:
        await adapter.close()
        await database.dispose()


class Moment(click.ParamType[datetime]):
    """YYYY-MM-DD (09:00 that day, when the steps before a BMG start) or YYYY-MM-DDTHH:MM, in the
    CLI's timezone (PLANBOT_TIMEZONE, Europe/London by default)."""

    name = "moment"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        from bot.summaries import WORK_START

        text = str(value).strip()
        context = ctx.find_object(Context) if ctx else None
        tz = context.settings.tz if context else ZoneInfo("Europe/London")
        try:
            if len(text) == len("YYYY-MM-DD"):
                return datetime.combine(date.fromisoformat(text), WORK_START, tzinfo=tz)
            return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=tz)
        except ValueError:
            self.fail(f"'{text}' is not a day (YYYY-MM-DD) or a day and time (YYYY-MM-DDTHH:MM)", param, ctx)


@summaries_group.command("preview")
@click.option("--partnership", "short_name", required=True, help="Short name of the partnership.")
@click.option(
    "--at",
    type=Moment(),
    metavar="DATE",
    help="The moment to rehearse: a day, YYYY-MM-DD, read as 09:00 Europe/London (PLANBOT_TIMEZONE) that day, "
    "when the steps before a BMG start; or a day and time, YYYY-MM-DDTHH:MM, in the same timezone. "
    "Default: now.",
)
@click.pass_obj
@run_async
async def summaries_preview(ctx: Context, short_name: str, at: datetime | None) -> None:
    """Rehearse the BMG cycle: what each step would send at a moment. Sends and records nothing.

    Shows the next BMG, when each step falls due (first nudge, final nudge, summaries), which steps
    would run at that moment and every message they would send, where one could not go, and what
    has already gone out for that meeting. The plan is read as it stands now; only the clock moves.
    """
    from bot.app import timetable
    from bot.scheduler import Scheduler

    clock = FixedClock(at) if at else ctx.clock
    database = await _open(ctx)
    try:
        preview = await Scheduler(database, clock, None, timetable(ctx.settings)).preview(short_name)
    finally:
        await database.dispose()
    for line in _preview_lines(preview, past=at is not None and at < ctx.clock.now()):
        click.echo(line)


def _preview_lines(preview: Preview, past: bool) -> list[str]:
    from bot.scheduler import StepState

    tz, scene, short = preview.tz, preview.scene, preview.partnership
    lines = [
        f"{short}{': ' + scene.snapshot.plan if scene else ''}",
        f"At {_when(preview.now, tz)} ({tz.key}); a rehearsal: nothing is sent or recorded.",
    ]
    if past:
        lines.append("This moment is in the past: the plan is read as it stands now, with any updates made since.")
    upcoming = next_meeting(preview.meetings, preview.now, tz)
    if upcoming is None:
        last = last_meeting(preview.meetings, preview.now, tz)
        after = f" (the last was on {messages.day(last)})" if last else ""
        return [
            *lines,
            f"No BMG is set for {short} on or after {messages.day(local_today(preview.now, tz))}{after}, "
            "so nothing would be sent.",
            f"Add the next one with: planbot meetings add YYYY-MM-DD --partnership {short}",
        ]
    if scene is None:
        return [*lines, f"{short} has no plan yet. Import one with: planbot import FILE --partnership {short}"]
    last = scene.snapshot.last_bmg
    lines.append(
        f"Next BMG: {messages.day(scene.meeting)}"
        + (f" (the last was on {messages.day(last)})" if last else " (no BMG before it)")
    )
    lines.append("")
    width = max(len(step.name) for step in preview.steps)
    due_width = max(len(_when(step.due, tz)) for step in preview.steps)
    lines.append("Steps before it:")
    for step in preview.steps:
        state = step.state.value
        if step.state is StepState.RUNS and not step.messages:
            state += ": no lead owes an update, so no one to remind"
        lines.append(f"  {step.name:<{width}}  {_when(step.due, tz):<{due_width}}  {state}")
    sending = cannot = held = repeat = 0
    for step in preview.steps:
        if not step.messages:
            continue
        lines.append("")
        lines.append(f"{step.name.capitalize()}, {len(step.messages)} message(s):")
        previous = ""
        for item in step.messages:
            done = preview.already(item)
            if done is not None:
                repeat += 1
                lines.append(f"- {item.label}: not again, {_done(done, tz)}")
                continue
            if item.held:
                held += 1
                lines.append(f"- {item.label}: not posted, {item.missing_address} (the exception report says so)")
            elif item.to is None:
                cannot += 1
                lines.append(f"- {item.label}: cannot go, {item.missing_address}")
            else:
                sending += 1
                lines.append(f"- {item.label}: would send")
            if item.text == previous:
                lines.append("    (the same as above)")
            else:
                lines.extend(f"    {text}" for text in item.text.splitlines())
            previous = item.text
    lines.append("")
    lines.append(_preview_total(preview, sending, cannot, held, repeat))
    if preview.problem_reports:
        lines.append(
            "The business unit would be told in Teams what cannot go ("
            + ", ".join(item.label for item in preview.problem_reports)
            + ")."
        )
    elif cannot:
        lines.append("No one in the business unit has Plan Tracker installed to be told what cannot go.")
    lines.append("")
    lines.append(f"Already done for the BMG on {messages.day(scene.meeting)}:")
    lines.extend(
        f"- {done.kind.value.replace('_', ' ')}, {scene.who(done.target)}: {_done(done, tz)}" for done in preview.done
    )
    if not preview.done:
        lines.append("- nothing yet")
    return lines


def _preview_total(preview: Preview, sending: int, cannot: int, held: int, repeat: int) -> str:
    from bot.scheduler import StepState

    if not any(step.messages for step in preview.steps):
        waiting = [f"{s.name}: {s.state.value}" for s in preview.steps if s.state is not StepState.REPLACED]
        return "Nothing to send at this moment (" + "; ".join(waiting) + ")."
    parts = [f"{sending} would be sent"]
    if cannot:
        parts.append(f"{cannot} cannot go")
    if held:
        parts.append(f"{held} not posted for want of a linked channel")
    if repeat:
        parts.append(f"{repeat} already done, so not again")
    lead = "Nothing new to send at this moment" if not sending and not cannot else "At this moment"
    return f"{lead}: " + ", ".join(parts) + "."


def _done(done: Done, tz: ZoneInfo) -> str:
    from storage.models import DispatchStatus

    when = _when(done.at, tz)
    detail = f" ({done.detail})" if done.detail else ""
    match done.status:
        case DispatchStatus.SENT:
            return f"sent {when}"
        case DispatchStatus.SKIPPED:
            return f"skipped{detail} {when}"
        case DispatchStatus.FAILED:
            return f"could not go{detail} {when}"
        case DispatchStatus.UNKNOWN:
            return f"may or may not have arrived{detail} {when}; never sent twice"
        case _:
            return f"being sent by {done.by} since {when}"


def _when(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{messages.day(local.date())}, {local:%H:%M}"


@cli.group()
def manifest() -> None:
    """The Teams app package."""


@manifest.command("build")
@click.option("--app-id", required=True, help="The bot's Microsoft app id (a GUID).")
@click.option("--name", default="Plan Tracker", show_default=True, help="The app's name in Teams (30 characters).")
@click.option("--version", "app_version", default="1.0.0", show_default=True, help="The package version (semver).")
@click.option("--developer", default="Plan Tracker", show_default=True, help="Who publishes the app.")
@click.option("--website-url", default=AppDetails.website_url, show_default=True)
@click.option("--privacy-url", default=AppDetails.privacy_url, show_default=True)
@click.option("--terms-url", default=AppDetails.terms_url, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The .zip to write.")
def manifest_build(
    app_id: str,
    name: str,
    app_version: str,
    developer: str,
    website_url: str,
    privacy_url: str,
    terms_url: str,
    out: Path,
) -> None:
    """Build the app package (manifest.json and both icons), checked against the Teams schema."""
    details = AppDetails(app_id, name, app_version, developer, website_url, privacy_url, terms_url)
    try:
        build(details, out)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out}: upload it in Teams (Apps > Manage your apps > Upload an app)")


async def _print_counts(database: Database) -> None:
    async with database.transaction() as session:
        for partnership in await PartnershipRepository(session).all():
            c = await counts(session, partnership)
            click.echo(
                f"{partnership.short_name}: {c.plans} plan(s), {c.objectives} objectives, {c.actions} actions, "
                f"{c.subgroups} sub-groups, {c.meetings} BMG meetings, {c.updates} progress updates"
            )


def _loaded(item: ImportReport | str) -> str:
    return f"imported {item.summary()}" if isinstance(item, ImportReport) else item


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    cli(prog_name="planbot")


if __name__ == "__main__":
    main()

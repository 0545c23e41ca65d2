"""The records kept about administrative changes and notes (SQLite and PostgreSQL): the audit log
and what an import changed, people leaving the plan file, redaction and clearing, erasure, retention."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import JSON, String, Text, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules import Rag
from bot.views import load_snapshot
from storage import retention
from storage.audit import Actor, AuditRepository
from storage.erasure import erase_person, find_by_email
from storage.models import (
    FORMER_STAFF,
    REDACTED_NOTE,
    RETENTION_NOTE,
    AppendOnlyError,
    AuditEvent,
    AuditKind,
    Base,
    Membership,
    NoteReview,
    ReviewKind,
    Role,
    SubGroup,
    Update,
)
from storage.planfile import PlanFile
from storage.repositories import (
    MeetingRepository,
    NoteRepository,
    PartnershipRepository,
    PeopleRepository,
    UpdateRepository,
    cleared_update_ids,
)
from tests.conftest import london
from tests.factories import action, add_update, load, person

NOW = london(2026, 11, 23, 10)
PRIYA = "priya.shah@ncscp.example.org"
SARAH = "sarah.whitfield@ncscp.example.org"  # a member of the Training subgroup
EMMA = "emma.clarke@ncscp.example.org"  # a viewer, in no sub-group


async def events(session: AsyncSession, kind: AuditKind | None = None) -> list[AuditEvent]:
    partnership = await PartnershipRepository(session).by_short_name("NCSCP")
    return await AuditRepository(session).events(partnership, kind=kind)


def changed(spec: PlanFile, edit: dict[str, object]) -> PlanFile:
    data = spec.model_dump(mode="json")
    for key, value in edit.items():
        data[key] = value
    return PlanFile.model_validate(data)


async def test_an_import_that_adds_many_actions_names_twenty_and_counts_the_rest(
    session: AsyncSession, ncscp: PlanFile
) -> None:
    """A council's first import adds thousands of actions: its summary (the command's output, the audit
    log's line) stays readable, and the audit log's detail keeps every one."""
    await load(session, ncscp)
    data = ncscp.model_dump(mode="json")
    data["objectives"][0]["actions"] += [
        {"ref": f"1.{n}", "description": f"New action {n}", "lead": "CDOP"} for n in range(100, 145)
    ]
    report = await load(session, PlanFile.model_validate(data))
    listed = ", ".join(f"1.{n}" for n in range(100, 120))
    assert report.changes() == f"actions added: {listed} and 25 more"
    [_, second] = await events(session, AuditKind.IMPORT)
    assert second.summary.endswith(f"actions added: {listed} and 25 more")
    assert second.detail["actions_added"] == [f"1.{n}" for n in range(100, 145)]


async def test_an_import_is_recorded_with_who_and_what_changed(session: AsyncSession, ncscp: PlanFile) -> None:
    await load(session, ncscp)
    first = await events(session, AuditKind.IMPORT)
    assert len(first) == 1
    assert first[0].summary.startswith("imported test.yaml into 'Business Plan 2019-22': actions added: 1.1, 2.1, 2.2")
    assert first[0].detail["people_added"][0] == "Priya Shah"

    data = ncscp.model_dump(mode="json")
    objective4 = next(o for o in data["objectives"] if o["number"] == 4)
    objective4["actions"][1]["description"] = "Scrutinise local practice (reworded)"
    objective4["actions"][0]["measures"][0]["due"] = ["2019-07"]
    objective4["actions"] = objective4["actions"][:2]  # 4.3 leaves the plan
    data["objectives"][0]["actions"].append({"ref": "1.9", "description": "A new action", "lead": "CDOP"})
    next(p for p in data["people"] if p["email"] == "fiona.mcleod@ncscp.example.org")["role"] = "admin"
    data["people"].append({"name": "Jo Newman", "email": "jo.newman@ncscp.example.org", "role": "member"})
    report = await load(session, PlanFile.model_validate(data))
    assert report.changes() == (
        "actions added: 1.9; descriptions changed: 4.2; milestones changed: 4.1; actions archived: 4.3; "
        "people added: Jo Newman; roles changed: Fiona McLeod: lead -> admin"
    )
    [_, second] = await events(session, AuditKind.IMPORT)
    assert second.summary == f"imported test.yaml into 'Business Plan 2019-22': {report.changes()}"
    assert second.detail["actions_archived"] == ["4.3"]
    assert [e.summary for e in await events(session, AuditKind.ROLE_CHANGED)] == [
        "Fiona McLeod: lead -> admin: role changed by the plan file"
    ]
    assert "Jo Newman: added from the plan file" in [e.summary for e in await events(session, AuditKind.PERSON_ADDED)]


async def test_the_operator_of_an_import_is_recorded(session: AsyncSession, ncscp: PlanFile) -> None:
    await load(session, ncscp)
    from storage.importer import import_plan_file

    await import_plan_file(session, ncscp, "ncscp.yaml", by=Actor.cli("priya"), at=NOW)
    [last] = [e for e in await events(session, AuditKind.IMPORT) if "ncscp.yaml" in e.summary]
    assert (last.actor_name, last.actor_id, last.at) == ("planbot CLI (priya)", None, NOW)
    assert last.summary == "imported ncscp.yaml into 'Business Plan 2019-22': no changes"


async def test_someone_no_longer_in_the_plan_file_loses_their_role_and_entra_id(
    session: AsyncSession, ncscp: PlanFile
) -> None:
    await load(session, ncscp)
    data = ncscp.model_dump(mode="json")
    emma = await person(session, EMMA)
    assert emma.aad_object_id
    partnership = await PartnershipRepository(session).by_short_name("NCSCP")
    assert await PeopleRepository(session).by_aad_object_id(partnership, emma.aad_object_id) is not None
    data["people"] = [p for p in data["people"] if p["email"] != EMMA]
    report = await load(session, PlanFile.model_validate(data))
    assert report.people_removed == ["Emma Clarke"]
    emma = await person(session, EMMA)
    assert (emma.role, emma.aad_object_id) == (Role.REMOVED, None)
    assert await PeopleRepository(session).by_address(partnership, EMMA) is None, "not recognised in Teams"
    [removed] = await events(session, AuditKind.PERSON_REMOVED)
    assert removed.summary == "Emma Clarke: no longer in the plan file: role revoked, Entra id cleared"
    again = await load(session, PlanFile.model_validate(data))
    assert again.people_removed == [], "revoked once"


async def test_a_renamed_person_keeps_their_history(session: AsyncSession, ncscp: PlanFile) -> None:
    await load(session, ncscp)
    before = {a.ref: len(a.updates) for o in ncscp.objectives for a in o.actions}
    author = next(u.by for o in ncscp.objectives for a in o.actions for u in a.updates if u.by)
    assert author is not None
    original = await person(session, author)
    data = ncscp.model_dump(mode="json")
    next(p for p in data["people"] if p["email"] == author)["name"] = "Renamed Person"
    report = await load(session, PlanFile.model_validate(data))
    assert report.updates_added == 0, "the file's history is not added again under the new name"
    renamed = await person(session, author)
    assert (renamed.id, renamed.name) == (original.id, "Renamed Person")
    for ref, count in before.items():
        assert len(await UpdateRepository(session).history((await action(session, "NCSCP", ref)).id)) == count


async def test_meetings_set_and_removed_are_recorded(session: AsyncSession, ncscp: PlanFile) -> None:
    await load(session, ncscp)
    partnership = await PartnershipRepository(session).by_short_name("NCSCP")
    meetings = MeetingRepository(session)
    by = Actor.cli("gareth")
    assert await meetings.add(partnership, date(2026, 12, 9), by=by, at=NOW)
    assert not await meetings.add(partnership, date(2026, 12, 9), by=by, at=NOW)
    assert await meetings.remove(partnership, date(2026, 12, 9), by=by, at=NOW)
    recorded = [(e.kind, e.summary, e.actor_name) for e in await events(session) if e.kind.value.startswith("meeting")]
    assert recorded == [
        (AuditKind.MEETING_ADDED, "added a BMG on 2026-12-09", "planbot CLI (gareth)"),
        (AuditKind.MEETING_REMOVED, "removed the BMG on 2026-12-09", "planbot CLI (gareth)"),
    ]


async def test_records_are_never_edited_and_a_redaction_changes_only_the_note(
    session: AsyncSession, ncscp: PlanFile
) -> None:
    await load(session, ncscp)
    target = await action(session, "NCSCP", "4.2")
    fiona = await person(session, "fiona.mcleod@ncscp.example.org")
    note = await add_update(session, target, Rag.AMBER, "Child A at NG7 2RD not seen", NOW, fiona)
    with pytest.raises(AppendOnlyError):
        await session.execute(update(Update).where(Update.id == note.id).values(comment="edited"))
    with pytest.raises(AppendOnlyError):
        await session.execute(update(AuditEvent).values(summary="edited"))
    with pytest.raises(AppendOnlyError):
        await edit_in_place(session, note)
    await session.refresh(note)
    before = {c: getattr(note, c) for c in ("rag", "author_id", "author_name", "created_at", "source", "action_id")}

    await NoteRepository(session).redact(
        note, target.plan_id, Actor.of(fiona), "names a child", NOW, REDACTED_NOTE, "4.2"
    )
    stored = await session.scalar(select(Update.comment).where(Update.id == note.id))
    assert stored == REDACTED_NOTE
    await session.refresh(note)
    assert {c: getattr(note, c) for c in before} == before, "nothing else about the update changed"
    [review] = await NoteRepository(session).history(note.id)
    assert (review.kind, review.by_name, review.reason) == (ReviewKind.REDACTED, "Fiona McLeod", "names a child")
    with pytest.raises(AppendOnlyError):
        await session.execute(update(NoteReview).values(reason="edited"))


async def test_a_cleared_note_shows_as_cleared_and_a_redacted_one_as_redacted(
    session: AsyncSession, ncscp: PlanFile
) -> None:
    await load(session, ncscp)
    partnership = await PartnershipRepository(session).by_short_name("NCSCP")
    target = await action(session, "NCSCP", "4.1")
    priya = await person(session, PRIYA)
    kept = await add_update(session, target, Rag.GREEN, "Met the DSL at NG7 office", london(2026, 11, 20), priya)
    gone = await add_update(session, target, Rag.AMBER, "ring 07700 900123", london(2026, 11, 21), priya)
    notes = NoteRepository(session)
    await notes.clear(kept, partnership.id, Actor.of(priya), "NG7 is the office, not a family", NOW, "4.1")
    await notes.redact(gone, partnership.id, Actor.of(priya), "a family's phone number", NOW, REDACTED_NOTE, "4.1")
    assert await cleared_update_ids(session, [kept.id, gone.id]) == {kept.id}
    view = next(a for a in (await load_snapshot(session, partnership, NOW)).actions if a.ref == "4.1")
    shown = {u.comment: (u.cleared, u.redacted) for u in view.history}
    assert shown["Met the DSL at NG7 office"] == (True, False)
    assert shown[REDACTED_NOTE] == (False, True)
    assert [e.kind for e in await events(session) if e.kind.value.startswith("note")] == [
        AuditKind.NOTE_CLEARED,
        AuditKind.NOTE_REDACTED,
    ]


async def edit_in_place(session: AsyncSession, note: Update) -> None:
    async with session.begin_nested():
        note.comment = "edited"
        await session.flush()


async def mentions(session: AsyncSession, *needles: str) -> list[str]:
    """Every text column of every table that still holds one of `needles` (case ignored)."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON):
                continue
            for needle in needles:
                hits = await session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(func.lower(cast(column, Text)).contains(needle.lower(), autoescape=True))
                )
                if hits:
                    found.append(f"{table.name}.{column.name}: {needle}")
    return found


async def test_an_erased_person_leaves_no_trace_and_their_updates_stay(session: AsyncSession, ncscp: PlanFile) -> None:
    await load(session, ncscp)
    partnership = await PartnershipRepository(session).by_short_name("NCSCP")
    sarah = await person(session, SARAH)
    sarah.upn, sarah.teams_user_id = "s.whitfield@ncscp.example.org", "29:1sarah"
    target = await action(session, "NCSCP", "11.1")
    own = await add_update(session, target, Rag.GREEN, "Training delivered to 120 staff", london(2026, 11, 1), sarah)
    priya = await person(session, PRIYA)
    await add_update(session, target, Rag.GREEN, f"Thanks to Sarah Whitfield ({SARAH})", london(2026, 11, 2), priya)
    await MeetingRepository(session).add(partnership, date(2027, 1, 6), by=Actor.of(sarah), at=NOW)
    await NoteRepository(session).clear(own, partnership.id, Actor.of(sarah), "checked by Sarah Whitfield", NOW, "11.1")
    chaired = await session.scalar(select(SubGroup).where(SubGroup.partnership_id == partnership.id))
    assert chaired is not None
    chaired.chair_id = sarah.id
    await session.flush()
    assert await mentions(session, "Sarah Whitfield", SARAH), "she is there before"

    erased = await erase_person(session, partnership, sarah, Actor.of(priya), NOW)
    assert await mentions(session, "Whitfield", SARAH, "s.whitfield") == []
    await session.refresh(sarah)
    stored: tuple[object, ...] = (sarah.name, sarah.email, sarah.aad_object_id, sarah.upn, sarah.teams_user_id)
    assert (*stored, sarah.role) == (
        FORMER_STAFF,
        None,
        None,
        None,
        None,
        Role.REMOVED,
    )
    history = await UpdateRepository(session).history(target.id)
    assert [u.author_name for u in history if u.author_id == sarah.id] == [FORMER_STAFF], "the update stays"
    assert erased.memberships >= 1 and erased.chairs == 1
    assert (
        await session.scalar(select(func.count()).select_from(Membership).where(Membership.person_id == sarah.id)) == 0
    )
    [event] = await events(session, AuditKind.PERSON_ERASED)
    assert event.actor_name == "Priya Shah" and event.summary.startswith(
        f"erased person {sarah.id}: now {FORMER_STAFF}"
    )
    assert await find_by_email(session, partnership, SARAH) is None, "a second erasure finds nobody: nothing changes"


async def test_the_retention_policy_removes_old_plans_notes(
    session: AsyncSession, ncscp: PlanFile, nscp: PlanFile
) -> None:
    await load(session, ncscp)  # ended 31 March 2022
    await load(session, nscp)  # ends in 2027
    assert await retention.expired(session, 5, date(2026, 11, 23)) == [], "not more than five years ago"
    due = await retention.expired(session, 3, date(2026, 11, 23))
    assert [(d.partnership, d.plan, d.ends_on) for d in due] == [("NCSCP", "Business Plan 2019-22", date(2022, 3, 31))]
    count = len(due[0].notes)
    assert count > 0
    assert await retention.apply(session, due, 3, Actor.cli("ops"), NOW) == count
    comments = {
        u.comment for u in await session.scalars(select(Update).where(Update.id.in_([i for i, _ in due[0].notes])))
    }
    assert comments == {RETENTION_NOTE}
    assert await retention.expired(session, 3, date(2026, 11, 23)) == [], "done once"
    [run] = await events(session, AuditKind.RETENTION_RUN)
    assert run.summary == (
        f"removed {count} notes of 'Business Plan 2019-22' (ended 2022-03-31) under the 3-year retention policy"
    )
    reviews = await NoteRepository(session).reviews(i for i, _ in due[0].notes)
    assert all(kinds == {ReviewKind.REDACTED} for kinds in reviews.values()) and len(reviews) == count

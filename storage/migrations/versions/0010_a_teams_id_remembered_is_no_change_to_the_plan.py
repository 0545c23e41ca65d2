"""a Teams id remembered is no change to the plan

A person's first message remembers their Teams user id (and their UPN, when Teams found them by it)
on their row, and 0009's triggers took that for a change to their partnership's plan: the next
question, anyone's, read the whole plan again (on a council-wide plan of 3,000 actions and 2,000
people, a second of work for each person's first message). Neither is part of any view of the plan
(a person is known to a kept plan by their Entra object id), so an update of a person now moves the
version only when it changes something else.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a person's row holds that the plan's views use: everything but the Teams user id and the UPN.
IN_THE_PLAN = ("id", "partnership_id", "name", "email", "job_title", "role", "aad_object_id")
TRIGGER = "bump_plan_version_person_update"
# PostgreSQL runs 0009's function for the statement, as before, once for each row whose change is in
# the plan (row triggers may see the statement's transition tables).
_POSTGRESQL = (
    f"CREATE TRIGGER {TRIGGER} AFTER UPDATE ON person REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows "
    "FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION bump_plan_version_person()"
)
_POSTGRESQL_BEFORE = (
    f"CREATE TRIGGER {TRIGGER} AFTER UPDATE ON person REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION bump_plan_version_person()"
)
_SQLITE_ALWAYS = f"CREATE TRIGGER {TRIGGER} AFTER UPDATE ON person BEGIN"


def changed(postgresql: bool) -> str:
    """True for a row update that changes what the plan's views use of a person."""
    if postgresql:
        return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in IN_THE_PLAN)
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in IN_THE_PLAN)


def _sqlite_trigger() -> str:
    """0009's trigger as SQLite keeps it (its body is 0009's, unchanged here)."""
    found = op.get_bind().exec_driver_sql(f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = '{TRIGGER}'")
    return str(found.scalar_one())


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TRIGGER} ON person")
        op.execute(_POSTGRESQL.format(changed=changed(postgresql=True)))
        return
    sql = _sqlite_trigger()
    assert sql.startswith(_SQLITE_ALWAYS), sql[:120]
    op.execute(f"DROP TRIGGER {TRIGGER}")
    when = f"CREATE TRIGGER {TRIGGER} AFTER UPDATE ON person FOR EACH ROW WHEN {changed(postgresql=False)} BEGIN"
    op.execute(when + sql.removeprefix(_SQLITE_ALWAYS))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TRIGGER} ON person")
        op.execute(_POSTGRESQL_BEFORE)
        return
    sql = _sqlite_trigger()
    body = sql[sql.index(" BEGIN") + len(" BEGIN") :]
    op.execute(f"DROP TRIGGER {TRIGGER}")
    op.execute(_SQLITE_ALWAYS + body)

"""a version per partnership: a write to one partnership's plan leaves every other partnership's kept
snapshot good

The triggers of 0008 bumped one version for the whole database, so one lead's update made every
partnership's plan be read again. Now each write bumps the version of the partnership its row belongs
to (found through the row's plan, action, update or sub-group). The one version of 0008 still moves
when a partnership itself changes (its tenant, its time zone) or when a row's partnership cannot be
found (a child deleted after its parent): a snapshot is good while both are unchanged.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = (
    "partnership",
    "plan",
    "priority",
    "objective",
    "action",
    "milestone",
    "progress_update",
    "bmg_meeting",
    "person",
    "subgroup",
    "membership",
    "note_review",
    "milestone_revision",
)
OPERATIONS = ("INSERT", "UPDATE", "DELETE")

_BY_PLAN = "(SELECT partnership_id FROM plan WHERE plan.id = {row}.plan_id)"
_BY_ACTION = (
    "(SELECT plan.partnership_id FROM action JOIN plan ON plan.id = action.plan_id WHERE action.id = {row}.action_id)"
)

# How a row of each table finds its partnership; {row} is NEW or OLD (SQLite) or a transition table (PostgreSQL).
PARTNERSHIP_OF = {
    "partnership": "{row}.id",
    "plan": "{row}.partnership_id",
    "person": "{row}.partnership_id",
    "subgroup": "{row}.partnership_id",
    "bmg_meeting": "{row}.partnership_id",
    "priority": _BY_PLAN,
    "objective": _BY_PLAN,
    "action": _BY_PLAN,
    "milestone": _BY_ACTION,
    "progress_update": _BY_ACTION,
    "milestone_revision": _BY_ACTION,
    "membership": "(SELECT partnership_id FROM subgroup WHERE subgroup.id = {row}.subgroup_id)",
    "note_review": (
        "(SELECT plan.partnership_id FROM progress_update JOIN action ON action.id = progress_update.action_id "
        "JOIN plan ON plan.id = action.plan_id WHERE progress_update.id = {row}.update_id)"
    ),
}

_OLD_BUMP = "UPDATE data_version SET version = version + 1 WHERE id = 1"
_UPSERT = (
    "INSERT INTO plan_version (partnership_id, version) {select} "
    "ON CONFLICT (partnership_id) DO UPDATE SET version = plan_version.version + 1"
)


def _sqlite_body(table: str, operation: str) -> str:
    rows = {"INSERT": ("NEW",), "DELETE": ("OLD",), "UPDATE": ("NEW", "OLD")}[operation]
    statements = []
    for row in rows:
        owner = PARTNERSHIP_OF[table].format(row=row)
        # "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
        statements.append(_UPSERT.format(select=f"SELECT owner, 1 FROM (SELECT {owner} AS owner) WHERE owner IS NOT NULL"))
        statements.append(f"{_OLD_BUMP} AND ({owner} IS NULL{' OR true' if table == 'partnership' else ''})")
    return "; ".join(statements) + ";"


def _postgresql_function(table: str) -> str:
    def bump(rows: str) -> str:
        owner = PARTNERSHIP_OF[table].format(row="r")
        return (
            _UPSERT.format(
                select=f"SELECT DISTINCT owner, 1 FROM (SELECT {owner} AS owner FROM {rows} AS r) AS f "
                "WHERE owner IS NOT NULL ORDER BY owner"
            )
            + "; "
            + f"IF {'true' if table == 'partnership' else 'false'} OR EXISTS "
            f"(SELECT 1 FROM (SELECT {owner} AS owner FROM {rows} AS r) AS f WHERE owner IS NULL) THEN "
            f"{_OLD_BUMP}; END IF;"
        )

    return (
        f"CREATE FUNCTION bump_plan_version_{table}() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {bump('new_rows')} END IF; "
        f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {bump('old_rows')} END IF; "
        "RETURN NULL; END; $$ LANGUAGE plpgsql"
    )


def upgrade() -> None:
    op.create_table(
        "plan_version",
        sa.Column("partnership_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partnership_id", name=op.f("pk_plan_version")),
    )
    op.execute("INSERT INTO plan_version (partnership_id, version) SELECT id, 0 FROM partnership")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        if postgresql:
            op.execute(f"DROP TRIGGER bump_data_version_{table} ON {table}")
            op.execute(_postgresql_function(table))
            for operation in OPERATIONS:
                transitions = {
                    "INSERT": "NEW TABLE AS new_rows",
                    "DELETE": "OLD TABLE AS old_rows",
                    "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
                }[operation]
                op.execute(
                    f"CREATE TRIGGER bump_plan_version_{table}_{operation.lower()} AFTER {operation} ON {table} "
                    f"REFERENCING {transitions} FOR EACH STATEMENT EXECUTE FUNCTION bump_plan_version_{table}()"
                )
        else:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER bump_data_version_{table}_{operation.lower()}")
                op.execute(
                    f"CREATE TRIGGER bump_plan_version_{table}_{operation.lower()} AFTER {operation} ON {table} "
                    f"BEGIN {_sqlite_body(table, operation)} END"
                )
    if postgresql:
        op.execute("DROP FUNCTION bump_data_version()")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(
            "CREATE FUNCTION bump_data_version() RETURNS trigger AS $$ "
            f"BEGIN {_OLD_BUMP}; RETURN NULL; END; "
            "$$ LANGUAGE plpgsql"
        )
    for table in WATCHED:
        if postgresql:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER bump_plan_version_{table}_{operation.lower()} ON {table}")
            op.execute(f"DROP FUNCTION bump_plan_version_{table}()")
            op.execute(
                f"CREATE TRIGGER bump_data_version_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
            )
        else:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER bump_plan_version_{table}_{operation.lower()}")
                op.execute(
                    f"CREATE TRIGGER bump_data_version_{table}_{operation.lower()} AFTER {operation} ON {table} "
                    f"BEGIN {_OLD_BUMP}; END"
                )
    op.drop_table("plan_version")

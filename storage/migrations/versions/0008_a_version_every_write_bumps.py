"""a version every write to the plan bumps: answers may reuse a snapshot of the plan until it changes

Revision ID: 0008
Revises: 0007
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything a snapshot of a plan is read from (not conversations, bot state or dispatches).
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


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_version")),
    )
    op.execute(sa.text("INSERT INTO data_version (id, epoch, version) VALUES (1, :epoch, 0)").bindparams(
        epoch=uuid.uuid4().hex
    ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_data_version() RETURNS trigger AS $$ "
            "BEGIN UPDATE data_version SET version = version + 1 WHERE id = 1; RETURN NULL; END; "
            "$$ LANGUAGE plpgsql"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER bump_data_version_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
            )
        return
    for table in WATCHED:
        for operation in OPERATIONS:
            op.execute(
                f"CREATE TRIGGER bump_data_version_{table}_{operation.lower()} AFTER {operation} ON {table} "
                "BEGIN UPDATE data_version SET version = version + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER bump_data_version_{table} ON {table}")
        op.execute("DROP FUNCTION bump_data_version()")
    else:
        for table in WATCHED:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER bump_data_version_{table}_{operation.lower()}")
    op.drop_table("data_version")

"""dispatches claimed before they are sent

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("meeting_on", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "nudge", "final_nudge", "summary", "exceptions", name="dispatch_kind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "claimed",
                "sending",
                "sent",
                "failed",
                "unknown",
                "skipped",
                name="dispatch_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("claimed_by", sa.String(length=100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_dispatch_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch")),
        sa.UniqueConstraint(
            "partnership_id",
            "meeting_on",
            "kind",
            "target",
            name=op.f("uq_dispatch_partnership_id_meeting_on_kind_target"),
        ),
    )


def downgrade() -> None:
    op.drop_table("dispatch")

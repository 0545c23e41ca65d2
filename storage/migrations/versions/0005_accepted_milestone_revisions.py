"""accepted milestone revisions

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "milestone_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("replaces_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "precision",
            sa.Enum("month", "day", name="revision_precision", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("accepted_by_name", sa.String(length=200), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "source",
            sa.Enum("teams", "cli", name="revision_source", native_enum=False, length=16),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["action.id"],
            name=op.f("fk_milestone_revision_action_id_action"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["progress_update.id"],
            name=op.f("fk_milestone_revision_proposal_id_progress_update"),
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["person.id"],
            name=op.f("fk_milestone_revision_accepted_by_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone_revision")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_milestone_revision_proposal_id")),
    )
    with op.batch_alter_table("milestone_revision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_milestone_revision_action_id"), ["action_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("milestone_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestone_revision_action_id"))
    op.drop_table("milestone_revision")

"""audit log, redaction and review of notes

Revision ID: 0006
Revises: 0005

The audit log of administrative changes and the reviews of notes (redacted or cleared). A person
no longer in the plan file gets the role `removed`: the role column is a plain string (no database
enum, no check constraint), so the new value needs no change to it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_KINDS = (
    "import",
    "meeting_added",
    "meeting_removed",
    "channel_linked",
    "role_changed",
    "person_added",
    "person_removed",
    "note_redacted",
    "note_cleared",
    "person_erased",
    "retention_run",
    "date_accepted",
)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Enum(*AUDIT_KINDS, name="audit_kind", native_enum=False, length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("conversation_id", sa.String(length=512), nullable=True),
        sa.Column("activity_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_audit_event_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["person.id"], name=op.f("fk_audit_event_actor_id_person"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("conversation_id", "activity_id", name="uq_audit_event_delivery"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_partnership_at", ["partnership_id", "at", "id"], unique=False)

    op.create_table(
        "note_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", sa.Enum("redacted", "cleared", name="review_kind", native_enum=False, length=16), nullable=False
        ),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("by_name", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["progress_update.id"],
            name=op.f("fk_note_review_update_id_progress_update"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["by_id"], ["person.id"], name=op.f("fk_note_review_by_id_person"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_review")),
    )
    with op.batch_alter_table("note_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_review_update_id"), ["update_id"], unique=False)

    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.create_index("ix_progress_update_author_id", ["author_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_update_author_id")
    with op.batch_alter_table("note_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_review_update_id"))
    op.drop_table("note_review")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_partnership_at")
    op.drop_table("audit_event")

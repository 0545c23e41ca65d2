"""conversations, channel links and bot state

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_state",
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bot_state")),
    )
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=512), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("personal", "channel", "groupChat", name="conversation_kind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("service_url", sa.String(length=512), nullable=False),
        sa.Column("bot_id", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=512), nullable=True),
        sa.Column("team_aad_group_id", sa.String(length=64), nullable=True),
        sa.Column("team_name", sa.String(length=300), nullable=True),
        sa.Column("channel_id", sa.String(length=512), nullable=True),
        sa.Column("channel_name", sa.String(length=300), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_conversation_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_conversation_person_id_person"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_conversation_conversation_id")),
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_partnership_id"), ["partnership_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversation_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversation_team_id"), ["team_id"], unique=False)

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upn", sa.String(length=320), nullable=True))

    with op.batch_alter_table("subgroup", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_subgroup_channel_id_conversation"),
            "conversation",
            ["channel_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("subgroup", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_subgroup_channel_id_conversation"), type_="foreignkey")
        batch_op.drop_column("channel_id")

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("upn")

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_team_id"))
        batch_op.drop_index(batch_op.f("ix_conversation_person_id"))
        batch_op.drop_index(batch_op.f("ix_conversation_partnership_id"))

    op.drop_table("conversation")
    op.drop_table("bot_state")

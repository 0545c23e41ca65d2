"""update delivery and revised dates

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", sa.String(length=512), nullable=True))
        batch_op.add_column(
            sa.Column(
                "revised_precision",
                sa.Enum("month", "day", name="revised_precision", native_enum=False, length=16),
                nullable=True,
            )
        )
        batch_op.create_unique_constraint("uq_progress_update_delivery", ["conversation_id", "activity_id"])


def downgrade() -> None:
    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.drop_constraint("uq_progress_update_delivery", type_="unique")
        batch_op.drop_column("revised_precision")
        batch_op.drop_column("conversation_id")

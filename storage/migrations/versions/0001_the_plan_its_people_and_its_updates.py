"""the plan, its people and its updates

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partnership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("short_name", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership")),
        sa.UniqueConstraint("short_name", name=op.f("uq_partnership_short_name")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_partnership_tenant_id")),
    )
    op.create_table(
        "bmg_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("meets_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_bmg_meeting_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bmg_meeting")),
        sa.UniqueConstraint(
            "partnership_id",
            "meets_on",
            name=op.f("uq_bmg_meeting_partnership_id_meets_on"),
        ),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "lead",
                "member",
                "viewer",
                name="person_role",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("aad_object_id", sa.String(length=64), nullable=True),
        sa.Column("teams_user_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_person_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint(
            "partnership_id",
            "aad_object_id",
            name=op.f("uq_person_partnership_id_aad_object_id"),
        ),
        sa.UniqueConstraint(
            "partnership_id", "email", name=op.f("uq_person_partnership_id_email")
        ),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_aad_object_id"), ["aad_object_id"], unique=False
        )

    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_plan_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint(
            "partnership_id", "title", name=op.f("uq_plan_partnership_id_title")
        ),
    )
    op.create_table(
        "priority",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.id"],
            name=op.f("fk_priority_plan_id_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_priority")),
        sa.UniqueConstraint(
            "plan_id", "number", name=op.f("uq_priority_plan_id_number")
        ),
    )
    op.create_table(
        "subgroup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("chair_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chair_id"],
            ["person.id"],
            name=op.f("fk_subgroup_chair_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_subgroup_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subgroup")),
        sa.UniqueConstraint(
            "partnership_id", "name", name=op.f("uq_subgroup_partnership_id_name")
        ),
    )
    op.create_table(
        "membership",
        sa.Column("subgroup_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_membership_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subgroup_id"],
            ["subgroup.id"],
            name=op.f("fk_membership_subgroup_id_subgroup"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subgroup_id", "person_id", name=op.f("pk_membership")),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "objective",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("priority_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.id"],
            name=op.f("fk_objective_plan_id_plan"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["priority_id"],
            ["priority.id"],
            name=op.f("fk_objective_priority_id_priority"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objective")),
        sa.UniqueConstraint(
            "plan_id", "number", name=op.f("uq_objective_plan_id_number")
        ),
    )
    op.create_table(
        "action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("success_measure", sa.Text(), nullable=False),
        sa.Column("reporting_body", sa.String(length=40), nullable=True),
        sa.Column("lead_text", sa.String(length=200), nullable=True),
        sa.Column("lead_subgroup_id", sa.Integer(), nullable=True),
        sa.Column("lead_person_id", sa.Integer(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_person_id"],
            ["person.id"],
            name=op.f("fk_action_lead_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_subgroup_id"],
            ["subgroup.id"],
            name=op.f("fk_action_lead_subgroup_id_subgroup"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["objective.id"],
            name=op.f("fk_action_objective_id_objective"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.id"],
            name=op.f("fk_action_plan_id_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action")),
        sa.UniqueConstraint("plan_id", "ref", name=op.f("uq_action_plan_id_ref")),
    )
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_lead_person_id"), ["lead_person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_action_lead_subgroup_id"), ["lead_subgroup_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_action_objective_id"), ["objective_id"], unique=False
        )

    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "precision",
            sa.Enum("month", "day", name="due_precision", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("label", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["action.id"],
            name=op.f("fk_milestone_action_id_action"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone")),
    )
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_milestone_action_id"), ["action_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_milestone_due_on"), ["due_on"], unique=False
        )

    op.create_table(
        "progress_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column(
            "rag",
            sa.Enum(
                "red",
                "amber",
                "green",
                "blue",
                name="rag",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "import",
                "chat",
                "dialog",
                "card",
                "cli",
                name="update_source",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("activity_id", sa.String(length=200), nullable=True),
        sa.Column("revised_due_on", sa.Date(), nullable=True),
        sa.Column("withdraws_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["action.id"],
            name=op.f("fk_progress_update_action_id_action"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["person.id"],
            name=op.f("fk_progress_update_author_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["withdraws_id"],
            ["progress_update.id"],
            name=op.f("fk_progress_update_withdraws_id_progress_update"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_update")),
    )
    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.create_index(
            "ix_progress_update_action_latest",
            ["action_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("progress_update", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_update_action_latest")

    op.drop_table("progress_update")
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestone_due_on"))
        batch_op.drop_index(batch_op.f("ix_milestone_action_id"))

    op.drop_table("milestone")
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_objective_id"))
        batch_op.drop_index(batch_op.f("ix_action_lead_subgroup_id"))
        batch_op.drop_index(batch_op.f("ix_action_lead_person_id"))

    op.drop_table("action")
    op.drop_table("objective")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_person_id"))

    op.drop_table("membership")
    op.drop_table("subgroup")
    op.drop_table("priority")
    op.drop_table("plan")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_aad_object_id"))

    op.drop_table("person")
    op.drop_table("bmg_meeting")
    op.drop_table("partnership")

"""indicator snapshots and score schemes

Revision ID: a1c3e0f40008
Revises: a1c3e0f40007
Create Date: 2026-11-21 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40008'
down_revision = 'a1c3e0f40007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "score_scheme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=True),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by_id"], ["app_user.id"], name=op.f("fk_score_scheme_updated_by_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_scheme")),
        sa.UniqueConstraint("code", name=op.f("uq_score_scheme_code")),
    )
    op.create_table(
        "indicator_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=32), nullable=False),
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("group_by", sa.String(length=16), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("scheme_revision", sa.Integer(), nullable=False),
        sa.Column("scheme_parameters", sa.JSON(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "group_by IN ('city', 'district', 'subdistrict', 'community', 'grid', 'unit', 'post', 'worker')",
            name=op.f("ck_indicator_snapshot_group_by"),
        ),
        sa.CheckConstraint(
            "period_kind IN ('week', 'month', 'quarter', 'year', 'custom')",
            name=op.f("ck_indicator_snapshot_period_kind"),
        ),
        sa.ForeignKeyConstraint(["scheme_id"], ["score_scheme.id"], name=op.f("fk_indicator_snapshot_scheme_id_score_scheme")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_snapshot")),
        sa.UniqueConstraint("period_key", "group_by", "scheme_id", name="uq_indicator_snapshot_period_group_scheme"),
    )
    op.create_index(op.f("ix_indicator_snapshot_scheme_id"), "indicator_snapshot", ["scheme_id"], unique=False)
    # Evaluation counts a period's cases by each of these times, and its events by action.
    op.create_index("ix_case_event_action_at", "case_event", ["action", "at"], unique=False)
    op.create_index("ix_case_closed_at", "case_file", ["closed_at"], unique=False)
    op.create_index("ix_case_handle_due_at", "case_file", ["handle_due_at"], unique=False)
    op.create_index("ix_case_registered_at", "case_file", ["registered_at"], unique=False)
    op.create_index("ix_case_reported_at", "case_file", ["reported_at"], unique=False)


def downgrade():
    op.drop_index("ix_case_reported_at", table_name="case_file")
    op.drop_index("ix_case_registered_at", table_name="case_file")
    op.drop_index("ix_case_handle_due_at", table_name="case_file")
    op.drop_index("ix_case_closed_at", table_name="case_file")
    op.drop_index("ix_case_event_action_at", table_name="case_event")
    op.drop_index(op.f("ix_indicator_snapshot_scheme_id"), table_name="indicator_snapshot")
    op.drop_table("indicator_snapshot")
    op.drop_table("score_scheme")

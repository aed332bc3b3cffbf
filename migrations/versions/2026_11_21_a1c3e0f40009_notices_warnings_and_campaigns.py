"""notices warnings and campaigns

Revision ID: a1c3e0f40009
Revises: a1c3e0f40008
Create Date: 2026-11-21 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40009'
down_revision = 'a1c3e0f40008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('early_warning',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_by', sa.String(length=16), nullable=False),
    sa.Column('subject_key', sa.String(length=64), nullable=False),
    sa.Column('subject_label', sa.String(length=255), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('period_kind', sa.String(length=8), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("group_by IN ('unit', 'district', 'subdistrict', 'community')", name=op.f('ck_early_warning_group_by')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_early_warning_area_id_area')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_early_warning_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_early_warning')),
    sa.UniqueConstraint('group_by', 'subject_key', 'period_key', name=op.f('uq_early_warning_group_by'))
    )
    with op.batch_alter_table('early_warning', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_early_warning_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_early_warning_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_early_warning_period_key'), ['period_key'], unique=False)

    op.create_table('assistance_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('top_classes', sa.JSON(), nullable=False),
    sa.Column('top_grids', sa.JSON(), nullable=False),
    sa.Column('target_on_time_rate', sa.Double(), nullable=False),
    sa.Column('tracked_periods', sa.Integer(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('target_on_time_rate >= 0 AND target_on_time_rate <= 100', name=op.f('ck_assistance_plan_target_rate')),
    sa.CheckConstraint('tracked_periods >= 1 AND tracked_periods <= 12', name=op.f('ck_assistance_plan_tracked_periods')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_assistance_plan_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['warning_id'], ['early_warning.id'], name=op.f('fk_assistance_plan_warning_id_early_warning')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistance_plan')),
    sa.UniqueConstraint('warning_id', name=op.f('uq_assistance_plan_warning_id'))
    )
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('target_count', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_campaign_period_order')),
    sa.CheckConstraint('target_count > 0', name=op.f('ck_campaign_target_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_campaign_created_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign'))
    )
    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scope_key', sa.String(length=32), nullable=False),
    sa.Column('scope_area_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('generated_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('weekly', 'monthly', 'quarterly')", name=op.f('ck_notice_kind')),
    sa.CheckConstraint("status IN ('draft', 'published')", name=op.f('ck_notice_status')),
    sa.ForeignKeyConstraint(['generated_by_id'], ['app_user.id'], name=op.f('fk_notice_generated_by_id_app_user')),
    sa.ForeignKeyConstraint(['published_by_id'], ['app_user.id'], name=op.f('fk_notice_published_by_id_app_user')),
    sa.ForeignKeyConstraint(['scope_area_id'], ['area.id'], name=op.f('fk_notice_scope_area_id_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice')),
    sa.UniqueConstraint('kind', 'period_key', 'scope_key', name=op.f('uq_notice_kind'))
    )
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_period_key'), ['period_key'], unique=False)

    op.create_table('warning_interview',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('attendees', sa.Text(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_warning_interview_recorded_by_id_app_user')),
    sa.ForeignKeyConstraint(['warning_id'], ['early_warning.id'], name=op.f('fk_warning_interview_warning_id_early_warning')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_interview'))
    )
    with op.batch_alter_table('warning_interview', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warning_interview_warning_id'), ['warning_id'], unique=False)

    op.create_table('campaign_area',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_campaign_area_area_id_area')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_area_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'area_id', name=op.f('pk_campaign_area'))
    )
    op.create_table('campaign_small_class',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('small_class_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_small_class_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['small_class_id'], ['small_class.id'], name=op.f('fk_campaign_small_class_small_class_id_small_class')),
    sa.PrimaryKeyConstraint('campaign_id', 'small_class_id', name=op.f('pk_campaign_small_class'))
    )


def downgrade():
    op.drop_table('campaign_small_class')
    op.drop_table('campaign_area')
    with op.batch_alter_table('warning_interview', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warning_interview_warning_id'))

    op.drop_table('warning_interview')
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_period_key'))

    op.drop_table('notice')
    op.drop_table('campaign')
    op.drop_table('assistance_plan')
    with op.batch_alter_table('early_warning', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_early_warning_period_key'))
        batch_op.drop_index(batch_op.f('ix_early_warning_department_id'))
        batch_op.drop_index(batch_op.f('ix_early_warning_area_id'))

    op.drop_table('early_warning')

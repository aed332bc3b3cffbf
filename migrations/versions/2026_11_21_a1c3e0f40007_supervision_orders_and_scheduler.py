"""supervision orders and scheduler

Revision ID: a1c3e0f40007
Revises: a1c3e0f40006
Create Date: 2026-11-21 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40007'
down_revision = 'a1c3e0f40006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_state',
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('last_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_result', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job_state'))
    )
    op.create_table('scheduler_lease',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease'))
    )
    op.create_table('escalation_watch',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('clock', sa.String(length=16), nullable=False),
    sa.Column('next_step', sa.SmallInteger(), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("stage IN ('handling', 'hotline_reply')", name=op.f('ck_escalation_watch_stage')),
    sa.CheckConstraint('next_step BETWEEN 0 AND 3', name=op.f('ck_escalation_watch_next_step')),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_escalation_watch_case_id_case_file'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'stage', name=op.f('pk_escalation_watch'))
    )
    with op.batch_alter_table('escalation_watch', schema=None) as batch_op:
        batch_op.create_index('ix_escalation_watch_next_at', ['next_at'], unique=False)

    op.create_table('supervision_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('basis_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=False),
    sa.Column('reply_required', sa.Boolean(), nullable=False),
    sa.Column('reply_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('warning', 'timeout', 'leader', 'hotline_reminder', 'hotline_notice', 'hotline_criticism')", name=op.f('ck_supervision_order_kind')),
    sa.CheckConstraint('level BETWEEN 0 AND 3', name=op.f('ck_supervision_order_level')),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_supervision_order_case_id_case_file')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_supervision_order_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_supervision_order_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_order')),
    sa.UniqueConstraint('case_id', 'kind', 'level', 'basis_at', name='uq_supervision_order_once')
    )
    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_order_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_order_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_supervision_order_level_created', ['level', 'created_at'], unique=False)

    op.create_table('notification_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_notification_outbox_status')),
    sa.ForeignKeyConstraint(['order_id'], ['supervision_order.id'], name=op.f('fk_notification_outbox_order_id_supervision_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_outbox'))
    )
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_notification_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_outbox_order_id'), ['order_id'], unique=False)

    op.create_table('supervision_read',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['supervision_order.id'], name=op.f('fk_supervision_read_order_id_supervision_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_supervision_read_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'user_id', name=op.f('pk_supervision_read'))
    )
    op.create_table('supervision_recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.CheckConstraint("role IS NULL OR role IN ('shift_leader', 'leader', 'area_lead', 'unit_staff', 'hotline_operator')", name=op.f('ck_supervision_recipient_role')),
    sa.CheckConstraint('(department_id IS NOT NULL AND area_id IS NULL AND role IS NULL) OR (department_id IS NULL AND area_id IS NOT NULL AND role IS NULL) OR (department_id IS NULL AND area_id IS NULL AND role IS NOT NULL)', name=op.f('ck_supervision_recipient_one_addressee')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_supervision_recipient_area_id_area')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_supervision_recipient_department_id_department')),
    sa.ForeignKeyConstraint(['order_id'], ['supervision_order.id'], name=op.f('fk_supervision_recipient_order_id_supervision_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_recipient'))
    )
    with op.batch_alter_table('supervision_recipient', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_recipient_area', ['area_id', 'order_id'], unique=False)
        batch_op.create_index('ix_supervision_recipient_department', ['department_id', 'order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_recipient_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_supervision_recipient_role', ['role', 'order_id'], unique=False)

    op.create_table('supervision_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], name=op.f('fk_supervision_reply_author_id_app_user')),
    sa.ForeignKeyConstraint(['order_id'], ['supervision_order.id'], name=op.f('fk_supervision_reply_order_id_supervision_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_reply'))
    )
    with op.batch_alter_table('supervision_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_reply_order_id'), ['order_id'], unique=False)



def downgrade():
    with op.batch_alter_table('supervision_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_reply_order_id'))

    op.drop_table('supervision_reply')
    with op.batch_alter_table('supervision_recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_recipient_role')
        batch_op.drop_index(batch_op.f('ix_supervision_recipient_order_id'))
        batch_op.drop_index('ix_supervision_recipient_department')
        batch_op.drop_index('ix_supervision_recipient_area')

    op.drop_table('supervision_recipient')
    op.drop_table('supervision_read')
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_outbox_order_id'))
        batch_op.drop_index('ix_notification_outbox_due')

    op.drop_table('notification_outbox')
    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_order_level_created')
        batch_op.drop_index(batch_op.f('ix_supervision_order_department_id'))
        batch_op.drop_index(batch_op.f('ix_supervision_order_case_id'))

    op.drop_table('supervision_order')
    with op.batch_alter_table('escalation_watch', schema=None) as batch_op:
        batch_op.drop_index('ix_escalation_watch_next_at')

    op.drop_table('escalation_watch')
    op.drop_table('scheduler_lease')
    op.drop_table('job_state')

"""case merges

Revision ID: a1c3e0f40006
Revises: a1c3e0f40005
Create Date: 2026-11-21 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40006'
down_revision = 'a1c3e0f40005'
branch_labels = None
depends_on = None


OPEN_CASE_SQL = "state NOT IN ('closed', 'cancelled', 'merged')"


def upgrade():
    op.create_table(
        'case_merge',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('duplicate_id', sa.Integer(), nullable=False),
        sa.Column('master_id', sa.Integer(), nullable=False),
        sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('merged_by_id', sa.Integer(), nullable=True),
        sa.Column('previous_state', sa.String(length=16), nullable=False),
        sa.Column('cross_grid', sa.Boolean(), nullable=False),
        sa.Column('cross_class', sa.Boolean(), nullable=False),
        sa.Column('moved_photo_ids', sa.JSON(), nullable=False),
        sa.Column('moved_contact_ids', sa.JSON(), nullable=False),
        sa.Column('moved_order_id', sa.Integer(), nullable=True),
        sa.Column('repeat_added', sa.Integer(), nullable=False),
        sa.Column('urgency_raised', sa.Boolean(), nullable=False),
        sa.Column('duplicate_event_id', sa.Integer(), nullable=True),
        sa.Column('master_event_id', sa.Integer(), nullable=True),
        sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('undone_by_id', sa.Integer(), nullable=True),
        sa.Column('undo_event_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['duplicate_event_id'], ['case_event.id'], name=op.f('fk_case_merge_duplicate_event_id_case_event')),
        sa.ForeignKeyConstraint(['duplicate_id'], ['case_file.id'], name=op.f('fk_case_merge_duplicate_id_case_file')),
        sa.ForeignKeyConstraint(['master_event_id'], ['case_event.id'], name=op.f('fk_case_merge_master_event_id_case_event')),
        sa.ForeignKeyConstraint(['moved_order_id'], ['hotline_order.id'], name=op.f('fk_case_merge_moved_order_id_hotline_order')),
        sa.ForeignKeyConstraint(['master_id'], ['case_file.id'], name=op.f('fk_case_merge_master_id_case_file')),
        sa.ForeignKeyConstraint(['merged_by_id'], ['app_user.id'], name=op.f('fk_case_merge_merged_by_id_app_user')),
        sa.ForeignKeyConstraint(['undo_event_id'], ['case_event.id'], name=op.f('fk_case_merge_undo_event_id_case_event')),
        sa.ForeignKeyConstraint(['undone_by_id'], ['app_user.id'], name=op.f('fk_case_merge_undone_by_id_app_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_merge')),
    )
    with op.batch_alter_table('case_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_merge_duplicate_id'), ['duplicate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_merge_master_id'), ['master_id'], unique=False)

    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.create_index(
            'ix_case_open_class_position', ['small_class_id', 'layer_y', 'layer_x'], unique=False,
            postgresql_where=sa.text(OPEN_CASE_SQL), sqlite_where=sa.text(OPEN_CASE_SQL),
        )


def downgrade():
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index('ix_case_open_class_position', postgresql_where=sa.text(OPEN_CASE_SQL),
                            sqlite_where=sa.text(OPEN_CASE_SQL))

    with op.batch_alter_table('case_merge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_merge_master_id'))
        batch_op.drop_index(batch_op.f('ix_case_merge_duplicate_id'))

    op.drop_table('case_merge')

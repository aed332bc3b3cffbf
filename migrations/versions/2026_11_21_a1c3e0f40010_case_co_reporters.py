"""case co-reporters

Revision ID: a1c3e0f40010
Revises: a1c3e0f40009
Create Date: 2026-11-21 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40010'
down_revision = 'a1c3e0f40009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_reporter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('merge_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_case_reporter_case_id_case_file')),
        sa.ForeignKeyConstraint(['merge_id'], ['case_merge.id'], name=op.f('fk_case_reporter_merge_id_case_merge')),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_case_reporter_user_id_app_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_reporter')),
        sa.UniqueConstraint('case_id', 'user_id', name=op.f('uq_case_reporter_case_id')),
    )
    with op.batch_alter_table('case_reporter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_reporter_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('case_reporter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_reporter_user_id'))

    op.drop_table('case_reporter')

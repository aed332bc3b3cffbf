"""case assignee and fringe areas

Revision ID: a1c3e0f40004
Revises: d63bbcc40dc1
Create Date: 2026-11-21 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40004'
down_revision = 'd63bbcc40dc1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('area', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urban_rural_fringe', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_area_urban_rural_fringe'), ['urban_rural_fringe'], unique=False)
    with op.batch_alter_table('area', schema=None) as batch_op:
        batch_op.alter_column('urban_rural_fringe', server_default=None)

    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('in_fringe', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_case_file_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_case_file_assignee_id_app_user'), 'app_user', ['assignee_id'], ['id'])
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.alter_column('in_fringe', server_default=None)


def downgrade():
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_file_assignee_id_app_user'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_case_file_assignee_id'))
        batch_op.drop_column('in_fringe')
        batch_op.drop_column('assignee_id')

    with op.batch_alter_table('area', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_urban_rural_fringe'))
        batch_op.drop_column('urban_rural_fringe')

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
    pass


def downgrade():
    pass

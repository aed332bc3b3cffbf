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
    pass


def downgrade():
    pass

"""caller data retention and audit

Erased contacts (``hotline_contact.erased_at``, with the purge's partial index), the role of
whoever saw callers' data (``caller_data_view.user_role``, filled from the users' current
roles for the rows already logged), the audit page's indexes, and the record of purge runs.

Revision ID: b5d2e7a91c34
Revises: a1c3e0f40011
Create Date: 2026-11-21 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5d2e7a91c34'
down_revision = 'a1c3e0f40011'
branch_labels = None
depends_on = None

UNERASED = "erased_at IS NULL"


def upgrade():
    with op.batch_alter_table('hotline_contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            'ix_hotline_contact_unerased_at', ['contacted_at', 'id'], unique=False,
            postgresql_where=sa.text(UNERASED), sqlite_where=sa.text(UNERASED),
        )

    with op.batch_alter_table('caller_data_view', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_role', sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE caller_data_view SET user_role = "
        "(SELECT app_user.role FROM app_user WHERE app_user.id = caller_data_view.user_id)"
    )
    with op.batch_alter_table('caller_data_view', schema=None) as batch_op:
        batch_op.alter_column('user_role', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index('ix_caller_data_view_viewed_at', ['viewed_at'], unique=False)
        batch_op.create_index('ix_caller_data_view_phone_at', ['phone', 'viewed_at'], unique=False)

    op.create_table('caller_data_purge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('cutoff_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('callers', sa.Integer(), nullable=False),
    sa.Column('contacts', sa.Integer(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('batches', sa.Integer(), nullable=False),
    sa.CheckConstraint("origin IN ('scheduler', 'command')", name=op.f('ck_caller_data_purge_origin')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caller_data_purge'))
    )
    with op.batch_alter_table('caller_data_purge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caller_data_purge_started_at'), ['started_at'], unique=False)


def downgrade():
    with op.batch_alter_table('caller_data_purge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caller_data_purge_started_at'))
    op.drop_table('caller_data_purge')

    with op.batch_alter_table('caller_data_view', schema=None) as batch_op:
        batch_op.drop_index('ix_caller_data_view_phone_at')
        batch_op.drop_index('ix_caller_data_view_viewed_at')
        batch_op.drop_column('user_role')

    with op.batch_alter_table('hotline_contact', schema=None) as batch_op:
        batch_op.drop_index('ix_hotline_contact_unerased_at', postgresql_where=sa.text(UNERASED),
                            sqlite_where=sa.text(UNERASED))
        batch_op.drop_column('erased_at')

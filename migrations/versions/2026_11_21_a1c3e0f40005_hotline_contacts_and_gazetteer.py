"""hotline contacts and gazetteer

Revision ID: a1c3e0f40005
Revises: a1c3e0f40004
Create Date: 2026-11-21 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40005'
down_revision = 'a1c3e0f40004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gazetteer_place',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=True),
    sa.Column('aliases', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('datum', sa.String(length=8), nullable=False),
    sa.Column('geometry_wkb', sa.LargeBinary(), nullable=True),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('unit_grid_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('source_name', sa.String(length=255), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("datum IN ('wgs84', 'gcj02', 'bd09')", name=op.f('ck_gazetteer_place_datum')),
    sa.CheckConstraint("kind IN ('road', 'landmark', 'building', 'bridge', 'park', 'other')", name=op.f('ck_gazetteer_place_kind')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_gazetteer_place_area_id_area')),
    sa.ForeignKeyConstraint(['imported_by_id'], ['app_user.id'], name=op.f('fk_gazetteer_place_imported_by_id_app_user')),
    sa.ForeignKeyConstraint(['unit_grid_id'], ['area.id'], name=op.f('fk_gazetteer_place_unit_grid_id_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gazetteer_place')),
    sa.UniqueConstraint('kind', 'name', 'area_id', name='uq_gazetteer_place_kind_name_area')
    )
    with op.batch_alter_table('gazetteer_place', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gazetteer_place_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gazetteer_place_name'), ['name'], unique=False)

    op.create_table('caller_data_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('context', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('viewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_caller_data_view_case_id_case_file')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_caller_data_view_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caller_data_view'))
    )
    with op.batch_alter_table('caller_data_view', schema=None) as batch_op:
        batch_op.create_index('ix_caller_data_view_case_at', ['case_id', 'viewed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_caller_data_view_user_id'), ['user_id'], unique=False)

    op.create_table('hotline_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('caller_name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('consent_callback', sa.Boolean(), nullable=False),
    sa.Column('repeat', sa.Boolean(), nullable=False),
    sa.CheckConstraint("channel IN ('phone', 'web', 'wechat', 'sms', 'app', 'email', 'letter', 'visit')", name=op.f('ck_hotline_contact_channel')),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_hotline_contact_case_id_case_file')),
    sa.ForeignKeyConstraint(['operator_id'], ['app_user.id'], name=op.f('fk_hotline_contact_operator_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotline_contact'))
    )
    with op.batch_alter_table('hotline_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hotline_contact_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_hotline_contact_phone_at', ['phone', 'contacted_at'], unique=False)

    op.create_table('hotline_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reply_limit_kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reply_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replied_by_id', sa.Integer(), nullable=True),
    sa.Column('reply_note', sa.Text(), nullable=False),
    sa.Column('followup_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('followed_up_by_id', sa.Integer(), nullable=True),
    sa.Column('followup_note', sa.Text(), nullable=False),
    sa.Column('satisfaction', sa.String(length=24), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('territorial_fallback', sa.Boolean(), nullable=False),
    sa.Column('located_by', sa.String(length=8), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("located_by IN ('point', 'place', 'area')", name=op.f('ck_hotline_order_located_by')),
    sa.CheckConstraint("reply_limit_kind IN ('emergency', 'utility', 'general', 'complex')", name=op.f('ck_hotline_order_reply_limit_kind')),
    sa.CheckConstraint("satisfaction IS NULL OR satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')", name=op.f('ck_hotline_order_satisfaction')),
    sa.ForeignKeyConstraint(['case_id'], ['case_file.id'], name=op.f('fk_hotline_order_case_id_case_file')),
    sa.ForeignKeyConstraint(['followed_up_by_id'], ['app_user.id'], name=op.f('fk_hotline_order_followed_up_by_id_app_user')),
    sa.ForeignKeyConstraint(['place_id'], ['gazetteer_place.id'], name=op.f('fk_hotline_order_place_id_gazetteer_place')),
    sa.ForeignKeyConstraint(['replied_by_id'], ['app_user.id'], name=op.f('fk_hotline_order_replied_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotline_order')),
    sa.UniqueConstraint('case_id', name=op.f('uq_hotline_order_case_id'))
    )
    with op.batch_alter_table('hotline_order', schema=None) as batch_op:
        batch_op.create_index('ix_hotline_order_followup_due', ['followed_up_at', 'followup_due_at'], unique=False)
        batch_op.create_index('ix_hotline_order_reply_due', ['replied_at', 'reply_due_at'], unique=False)


def downgrade():
    with op.batch_alter_table('hotline_order', schema=None) as batch_op:
        batch_op.drop_index('ix_hotline_order_reply_due')
        batch_op.drop_index('ix_hotline_order_followup_due')

    op.drop_table('hotline_order')
    with op.batch_alter_table('hotline_contact', schema=None) as batch_op:
        batch_op.drop_index('ix_hotline_contact_phone_at')
        batch_op.drop_index(batch_op.f('ix_hotline_contact_case_id'))

    op.drop_table('hotline_contact')
    with op.batch_alter_table('caller_data_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caller_data_view_user_id'))
        batch_op.drop_index('ix_caller_data_view_case_at')

    op.drop_table('caller_data_view')
    with op.batch_alter_table('gazetteer_place', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gazetteer_place_name'))
        batch_op.drop_index(batch_op.f('ix_gazetteer_place_area_id'))

    op.drop_table('gazetteer_place')

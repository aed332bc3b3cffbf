"""escalation of every stage

Escalation watches the verification, registration, dispatch, signing and check stages as well
as handling; each order names the stage it is about (part of its once-only key), and an order
can be addressed to one person (the grid worker on site, their grid chief) or to the intake
operators and dispatchers.

Revision ID: a1c3e0f40011
Revises: a1c3e0f40010
Create Date: 2026-11-21 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c3e0f40011'
down_revision = 'a1c3e0f40010'
branch_labels = None
depends_on = None

OLD_STAGES = ('handling', 'hotline_reply')
NEW_STAGES = ('verification', 'registration', 'dispatch', 'signing', 'handling', 'check', 'hotline_reply')
OLD_ROLES = ('shift_leader', 'leader', 'area_lead', 'unit_staff', 'hotline_operator')
NEW_ROLES = ('intake_operator', 'dispatcher', *OLD_ROLES)
OLD_ADDRESSEES = ('department_id', 'area_id', 'role')
NEW_ADDRESSEES = (*OLD_ADDRESSEES, 'user_id')


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _one_of(columns):
    return " OR ".join(
        "(" + " AND ".join(f"{other} IS {'NOT ' if other == column else ''}NULL" for other in columns) + ")"
        for column in columns
    )


def upgrade():
    with op.batch_alter_table('escalation_watch', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_escalation_watch_stage'), type_='check')
        batch_op.create_check_constraint(op.f('ck_escalation_watch_stage'), _in('stage', NEW_STAGES))

    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sa.String(length=16), nullable=True))
    # Every order written so far is about handling or the 12345 reply; a leader's order is about the case.
    op.execute(
        "UPDATE supervision_order SET stage = CASE WHEN kind IN ('warning', 'timeout') THEN 'handling' "
        "WHEN kind IN ('hotline_reminder', 'hotline_notice', 'hotline_criticism') THEN 'hotline_reply' END"
    )
    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_supervision_order_stage'), 'stage IS NULL OR ' + _in('stage', NEW_STAGES))
        batch_op.drop_constraint('uq_supervision_order_once', type_='unique')
        batch_op.create_unique_constraint('uq_supervision_order_once', ['case_id', 'stage', 'kind', 'level', 'basis_at'])

    with op.batch_alter_table('supervision_recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_supervision_recipient_user_id_app_user'), 'app_user', ['user_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_supervision_recipient_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_supervision_recipient_role'), 'role IS NULL OR ' + _in('role', NEW_ROLES))
        batch_op.drop_constraint(op.f('ck_supervision_recipient_one_addressee'), type_='check')
        batch_op.create_check_constraint(op.f('ck_supervision_recipient_one_addressee'), _one_of(NEW_ADDRESSEES))
        batch_op.create_index('ix_supervision_recipient_user', ['user_id', 'order_id'], unique=False)


def downgrade():
    # The older schema knows only handling and the 12345 reply: the other stages' watches and
    # orders (with their recipients, replies and outbox rows, by cascade) cannot be kept.
    op.execute("DELETE FROM escalation_watch WHERE " + _in('stage', [s for s in NEW_STAGES if s not in OLD_STAGES]))
    op.execute("DELETE FROM supervision_order WHERE " + _in('stage', [s for s in NEW_STAGES if s not in OLD_STAGES]))
    op.execute("DELETE FROM supervision_recipient WHERE user_id IS NOT NULL OR role IN ('intake_operator', 'dispatcher')")
    with op.batch_alter_table('supervision_recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_recipient_user')
        batch_op.drop_constraint(op.f('ck_supervision_recipient_one_addressee'), type_='check')
        batch_op.create_check_constraint(op.f('ck_supervision_recipient_one_addressee'), _one_of(OLD_ADDRESSEES))
        batch_op.drop_constraint(op.f('ck_supervision_recipient_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_supervision_recipient_role'), 'role IS NULL OR ' + _in('role', OLD_ROLES))
        batch_op.drop_constraint(op.f('fk_supervision_recipient_user_id_app_user'), type_='foreignkey')
        batch_op.drop_column('user_id')

    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.drop_constraint('uq_supervision_order_once', type_='unique')
        batch_op.create_unique_constraint('uq_supervision_order_once', ['case_id', 'kind', 'level', 'basis_at'])
        batch_op.drop_constraint(op.f('ck_supervision_order_stage'), type_='check')
        batch_op.drop_column('stage')

    with op.batch_alter_table('escalation_watch', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_escalation_watch_stage'), type_='check')
        batch_op.create_check_constraint(op.f('ck_escalation_watch_stage'), _in('stage', OLD_STAGES))

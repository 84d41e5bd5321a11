"""The per-address caps on failed logins and reset requests count an IPv6 address with its /64
(identity.policy.address_group): each row keeps its address group beside its address.

Revision ID: 0012_address_groups
Revises: 0011_reset_requests
Create Date: 2026-12-04 22:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.identity.policy import address_group

revision = '0012_address_groups'
down_revision = '0011_reset_requests'
branch_labels = None
depends_on = None

TABLES = (('login_failures', 'ix_login_failures_ip_at', 'ix_login_failures_group_at'),
          ('password_reset_requests', 'ix_password_reset_requests_ip_at', 'ix_password_reset_requests_group_at'))


def upgrade() -> None:
    connection = op.get_bind()
    for table, old_index, new_index in TABLES:
        op.add_column(table, sa.Column('address_group', sa.String(length=64), nullable=True))
        rows = sa.table(table, sa.column('ip', sa.String), sa.column('address_group', sa.String))
        for (ip,) in connection.execute(sa.select(rows.c.ip).distinct()).all():  # an hour or a day of rows
            connection.execute(rows.update().where(rows.c.ip == ip).values(address_group=address_group(ip)))
        with op.batch_alter_table(table) as batch:
            batch.alter_column('address_group', existing_type=sa.String(length=64), nullable=False)
            batch.drop_index(old_index)
            batch.create_index(new_index, ['address_group', 'at'], unique=False)


def downgrade() -> None:
    for table, old_index, new_index in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(new_index)
            batch.create_index(old_index, ['ip', 'at'], unique=False)
            batch.drop_column('address_group')

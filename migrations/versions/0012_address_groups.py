"""The per-address caps on failed logins and reset requests count an IPv6 address with its /64
(identity.policy.address_group): each row keeps its address group beside its address.

Safe while the previous release still runs: its rows get the default "" (counted with no one until it has
been replaced), and its queries don't read the new column. The rows already there are grouped with the rules
of the code that runs the migration (they live an hour to a day); offline SQL (`alembic upgrade --sql`)
copies each address as its own group instead.

Revision ID: 0012_address_groups
Revises: 0011_reset_requests
Create Date: 2026-12-04 22:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from paydesk.identity.policy import address_group

revision = '0012_address_groups'
down_revision = '0011_reset_requests'
branch_labels = None
depends_on = None

TABLES = (('login_failures', 'ix_login_failures_ip_at', 'ix_login_failures_group_at'),
          ('password_reset_requests', 'ix_password_reset_requests_ip_at', 'ix_password_reset_requests_group_at'))


def upgrade() -> None:
    for table, old_index, new_index in TABLES:
        op.add_column(table, sa.Column('address_group', sa.String(length=64), server_default='', nullable=False))
        rows = sa.table(table, sa.column('ip', sa.String), sa.column('address_group', sa.String))
        if context.is_offline_mode():
            op.execute(rows.update().values(address_group=rows.c.ip))
        else:
            connection = op.get_bind()
            for (ip,) in connection.execute(sa.select(rows.c.ip).distinct()).all():
                connection.execute(rows.update().where(rows.c.ip == ip).values(address_group=address_group(ip)))
        op.drop_index(old_index, table_name=table)
        op.create_index(new_index, table, ['address_group', 'at'], unique=False)


def downgrade() -> None:
    for table, old_index, new_index in TABLES:
        op.drop_index(new_index, table_name=table)
        op.create_index(old_index, table, ['ip', 'at'], unique=False)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('address_group')

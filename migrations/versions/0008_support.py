"""The support desk's first tables: agents, contacts, conversations, numbered messages.

Revision ID: 0008_support
Revises: 0007_promotions
Create Date: 2026-11-29 20:40:28.426358
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime, UUIDType

revision = '0008_support'
down_revision = '0007_promotions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('support_canned',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('team', sa.String(length=40), nullable=False),
    sa.Column('shortcut', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_canned')),
    sa.UniqueConstraint('team', 'shortcut', name='uq_support_canned_team_shortcut')
    )
    op.create_table('support_agents',
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('team', sa.String(length=40), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('manual_status', sa.String(length=10), nullable=False),
    sa.Column('connections', sa.Integer(), nullable=False),
    sa.Column('last_assigned_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_support_agents_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_support_agents'))
    )
    op.create_table('support_contacts',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_support_contacts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_contacts')),
    sa.UniqueConstraint('channel', 'external_id', name='uq_support_contacts_channel_external')
    )
    op.create_table('support_conversations',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('contact_id', UUIDType(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('team', sa.String(length=40), nullable=False),
    sa.Column('assignee_id', UUIDType(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('snoozed_until', UTCDateTime(), nullable=True),
    sa.Column('csat', sa.Integer(), nullable=True),
    sa.Column('waiting_since', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['support_contacts.id'],
                            name=op.f('fk_support_conversations_contact_id_support_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_conversations'))
    )
    with op.batch_alter_table('support_conversations', schema=None) as batch_op:
        batch_op.create_index('ix_support_conversations_assignee_status', ['assignee_id', 'status'], unique=False)
        batch_op.create_index('ix_support_conversations_contact', ['contact_id'], unique=False)

    op.create_table('support_messages',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('conversation_id', UUIDType(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('author_id', UUIDType(), nullable=True),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['support_conversations.id'],
                            name=op.f('fk_support_messages_conversation_id_support_conversations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_messages')),
    sa.UniqueConstraint('conversation_id', 'seq', name='uq_support_messages_conversation_seq')
    )
    op.create_table('support_attachments',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('conversation_id', UUIDType(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('blob_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['support_conversations.id'],
                            name=op.f('fk_support_attachments_conversation_id_support_conversations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_attachments'))
    )


def downgrade() -> None:
    op.drop_table('support_attachments')
    op.drop_table('support_canned')
    op.drop_table('support_messages')
    with op.batch_alter_table('support_conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_support_conversations_contact')
        batch_op.drop_index('ix_support_conversations_assignee_status')

    op.drop_table('support_conversations')
    op.drop_table('support_contacts')
    op.drop_table('support_agents')

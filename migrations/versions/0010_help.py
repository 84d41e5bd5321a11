"""The help center: articles with revisions, votes, the search postings and the searches that found nothing.

Revision ID: 0010_help
Revises: 0009_presence
Create Date: 2026-11-29 22:50:47.073631
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime, UUIDType

revision = '0010_help'
down_revision = '0009_presence'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('help_articles',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('keywords', sa.String(length=500), nullable=False),
    sa.Column('related', sa.JSON(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('helpful', sa.Integer(), nullable=False),
    sa.Column('unhelpful', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_articles')),
    sa.UniqueConstraint('locale', 'key', name='uq_help_articles_locale_key')
    )
    op.create_table('help_misses',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('query', sa.String(length=200), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_misses'))
    )
    op.create_table('help_postings',
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.Column('article_id', UUIDType(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('in_title', sa.Integer(), nullable=False),
    sa.Column('in_keywords', sa.Integer(), nullable=False),
    sa.Column('in_body', sa.Integer(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['help_articles.id'],
                            name=op.f('fk_help_postings_article_id_help_articles')),
    sa.PrimaryKeyConstraint('term', 'article_id', name=op.f('pk_help_postings'))
    )
    with op.batch_alter_table('help_postings', schema=None) as batch_op:
        batch_op.create_index('ix_help_postings_article', ['article_id'], unique=False)
        batch_op.create_index('ix_help_postings_rank', ['locale', 'term', 'article_id', 'in_title', 'in_keywords',
                                                       'in_body', 'length'], unique=False)

    op.create_table('help_revisions',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('article_id', UUIDType(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('keywords', sa.String(length=500), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('related', sa.JSON(), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['help_articles.id'],
                            name=op.f('fk_help_revisions_article_id_help_articles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_revisions')),
    sa.UniqueConstraint('article_id', 'number', name='uq_help_revisions_article_number')
    )
    op.create_table('help_votes',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('article_id', UUIDType(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.String(length=1000), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['help_articles.id'],
                            name=op.f('fk_help_votes_article_id_help_articles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_votes'))
    )


def downgrade() -> None:
    op.drop_table('help_votes')
    op.drop_table('help_revisions')
    with op.batch_alter_table('help_postings', schema=None) as batch_op:
        batch_op.drop_index('ix_help_postings_rank')
        batch_op.drop_index('ix_help_postings_article')

    op.drop_table('help_postings')
    op.drop_table('help_misses')
    op.drop_table('help_articles')

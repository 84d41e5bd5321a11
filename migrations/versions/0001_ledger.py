"""The ledger: accounts, transfers (each with both accounts' balance history), remembered failures.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from paydesk.core.db import UTCDateTime, UUIDType

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", UUIDType(), primary_key=True),
        sa.Column("currency", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
    )
    op.create_index("uq_ledger_accounts_owner_code_currency", "ledger_accounts", ["owner", "code", "currency"],
                    unique=True)
    op.create_table(
        "ledger_transfers",
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("debit_account_id", UUIDType(), nullable=False),
        sa.Column("credit_account_id", UUIDType(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(10), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("pending_id", UUIDType(), nullable=True),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("metadata", _json, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        *[sa.Column(f"{side}_{name}", sa.BigInteger(), nullable=False)
          for side in ("dr", "cr")
          for name in ("seq", "debits_pending", "debits_posted", "credits_pending", "credits_posted")],
        sa.PrimaryKeyConstraint("id", name="pk_ledger_transfers"),
    )
    op.create_index("uq_ledger_transfers_pending_id", "ledger_transfers", ["pending_id"], unique=True,
                    postgresql_where=sa.text("pending_id IS NOT NULL"), sqlite_where=sa.text("pending_id IS NOT NULL"))
    op.create_index("ix_ledger_transfers_expires_at", "ledger_transfers", ["expires_at"],
                    postgresql_where=sa.text("expires_at IS NOT NULL"), sqlite_where=sa.text("expires_at IS NOT NULL"))
    op.create_index("ix_ledger_transfers_debit_history", "ledger_transfers",
                    ["debit_account_id", "created_at", "dr_seq"])
    op.create_index("ix_ledger_transfers_credit_history", "ledger_transfers",
                    ["credit_account_id", "created_at", "cr_seq"])
    op.create_table(
        "ledger_failures",
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("result", sa.String(48), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_failures"),
    )


def downgrade() -> None:
    op.drop_table("ledger_failures")
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_accounts")

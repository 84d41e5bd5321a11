"""Ledger tables and queries. Never commits: the caller's unit of work does. The batch path's bulk reads
and writes are in `bulk.py`.

Balance history lives on the transfer rows: each transfer records both accounts' totals right after it
(`dr_*` for the debit account, `cr_*` for the credit account) and their per-account sequence numbers, so
an account's history is two index range scans (one per side) and one row is written per transfer.
The hot tables carry no foreign keys: the engine posts only between accounts it has loaded and locked,
and `ledger check` verifies every reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    Select,
    String,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType, insert_ignoring_conflicts

JsonType = JSON().with_variant(JSONB(), "postgresql")


class AccountRow(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    currency: Mapped[str] = mapped_column(String(10))
    owner: Mapped[str] = mapped_column(String(64))  # "system" or the owning user's id
    code: Mapped[str] = mapped_column(String(64))  # what it is for: "wallet", "fees", "settlement:card" …
    flags: Mapped[int] = mapped_column(Integer, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    entry_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # entries in its balance history
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("uq_ledger_accounts_owner_code_currency", "owner", "code", "currency", unique=True),)


class TransferRow(Base):
    __tablename__ = "ledger_transfers"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    debit_account_id: Mapped[UUID] = mapped_column(UUIDType())
    credit_account_id: Mapped[UUID] = mapped_column(UUIDType())
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    pending_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    timeout_s: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    linked: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JsonType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The debit account's history entry: its sequence number and totals after this transfer.
    dr_seq: Mapped[int] = mapped_column(BigInteger)
    dr_debits_pending: Mapped[int] = mapped_column(BigInteger)
    dr_debits_posted: Mapped[int] = mapped_column(BigInteger)
    dr_credits_pending: Mapped[int] = mapped_column(BigInteger)
    dr_credits_posted: Mapped[int] = mapped_column(BigInteger)
    # The credit account's.
    cr_seq: Mapped[int] = mapped_column(BigInteger)
    cr_debits_pending: Mapped[int] = mapped_column(BigInteger)
    cr_debits_posted: Mapped[int] = mapped_column(BigInteger)
    cr_credits_pending: Mapped[int] = mapped_column(BigInteger)
    cr_credits_posted: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        # A pending transfer is resolved (posted, voided or expired) at most once.
        Index("uq_ledger_transfers_pending_id", "pending_id", unique=True,
              postgresql_where=text("pending_id IS NOT NULL"), sqlite_where=text("pending_id IS NOT NULL")),
        # The expiry job's look-up: unresolved pending transfers by deadline.
        Index("ix_ledger_transfers_expires_at", "expires_at",
              postgresql_where=text("expires_at IS NOT NULL"), sqlite_where=text("expires_at IS NOT NULL")),
        # Each account's history, one index per side: "as of" look-ups and statements.
        Index("ix_ledger_transfers_debit_history", "debit_account_id", "created_at", "dr_seq"),
        Index("ix_ledger_transfers_credit_history", "credit_account_id", "created_at", "cr_seq"),
    )


class FailureRow(Base):
    """Ids whose transfer failed: a retry of the same request gets the same result, never a second try."""

    __tablename__ = "ledger_failures"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    result: Mapped[str] = mapped_column(String(48))
    fingerprint: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


accounts_t = AccountRow.__table__
transfers_t = TransferRow.__table__
failures_t = FailureRow.__table__

# --- accounts -------------------------------------------------------------------------------------------

def insert_accounts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert accounts, skipping any whose id or (owner, code, currency) already exists."""
    if rows:
        dialect = session.get_bind().dialect.name
        session.execute(insert_ignoring_conflicts(dialect, accounts_t), list(rows))


def get_accounts(session: Session, ids: Iterable[UUID]) -> dict[UUID, AccountRow]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.scalars(select(AccountRow).where(AccountRow.id.in_(wanted)))
    return {row.id: row for row in rows}


def find_account_id(session: Session, owner: str, code: str, currency: str) -> UUID | None:
    return session.scalar(
        select(AccountRow.id).where(AccountRow.owner == owner, AccountRow.code == code, AccountRow.currency == currency)
    )


def accounts_of_owner(session: Session, owner: str) -> list[AccountRow]:
    return list(session.scalars(select(AccountRow).where(AccountRow.owner == owner).order_by(AccountRow.currency)))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an account's balance history: its totals right after `transfer_id`."""

    seq: int
    transfer_id: UUID
    created_at: datetime
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


def _side(account_id: UUID, debit: bool) -> Select[Any]:  # one side of an account's history
    t = TransferRow
    if debit:
        cols = (t.dr_seq, t.dr_debits_pending, t.dr_debits_posted, t.dr_credits_pending, t.dr_credits_posted)
        where = t.debit_account_id == account_id
    else:
        cols = (t.cr_seq, t.cr_debits_pending, t.cr_debits_posted, t.cr_credits_pending, t.cr_credits_posted)
        where = t.credit_account_id == account_id
    names = ("seq", "debits_pending", "debits_posted", "credits_pending", "credits_posted")
    labelled: list[Any] = [c.label(n) for c, n in zip(cols, names, strict=True)]
    return select(*labelled, t.id.label("transfer_id"), t.created_at.label("created_at")).where(where)


def balance_as_of(session: Session, account_id: UUID, moment: datetime) -> tuple[int, int, int, int]:
    """(debits_pending, debits_posted, credits_pending, credits_posted) at `moment`: the newest history
    entry at or before it, from one query over the two per-side indexes."""
    sides = [
        _side(account_id, debit).where(TransferRow.created_at <= moment)
        .order_by(TransferRow.created_at.desc(), (TransferRow.dr_seq if debit else TransferRow.cr_seq).desc())
        .limit(1).subquery()
        for debit in (True, False)
    ]
    both = union_all(select(sides[0]), select(sides[1])).subquery()
    row = session.execute(select(both).order_by(both.c.seq.desc()).limit(1)).first()
    if row is None:
        return (0, 0, 0, 0)
    return (row.debits_pending, row.debits_posted, row.credits_pending, row.credits_posted)


def history(
    session: Session, account_id: UUID, start: datetime, end: datetime, *, after_seq: int = 0, limit: int = 500,
) -> list[HistoryEntry]:
    """An account's balance history in [start, end), oldest first, after `after_seq` (for statements)."""
    sides = [
        _side(account_id, debit).where(
            TransferRow.created_at >= start, TransferRow.created_at < end,
            (TransferRow.dr_seq if debit else TransferRow.cr_seq) > after_seq,
        )
        for debit in (True, False)
    ]
    both = union_all(*sides).subquery()
    rows = session.execute(select(both).order_by(both.c.seq).limit(limit))
    return [
        HistoryEntry(r.seq, r.transfer_id, r.created_at, r.debits_pending, r.debits_posted, r.credits_pending,
                     r.credits_posted)
        for r in rows
    ]


def get_transfers(session: Session, ids: Iterable[UUID]) -> list[TransferRow]:
    wanted = list(ids)
    if not wanted:
        return []
    return list(session.scalars(select(TransferRow).where(TransferRow.id.in_(wanted))))


def expired_pending_ids(session: Session, now: datetime, limit: int, since: datetime | None = None) -> list[UUID]:
    """Pending transfers whose timeout passed in (since, now] and that nothing has resolved yet, oldest
    first. `since` keeps the scan to recent deadlines instead of every hold ever placed."""
    resolution = aliased(TransferRow)
    resolved = select(resolution.id).where(resolution.pending_id == TransferRow.id).exists()
    query = select(TransferRow.id).where(
        TransferRow.expires_at.is_not(None), TransferRow.expires_at <= now, ~resolved,
    )
    if since is not None:
        query = query.where(TransferRow.expires_at > since)
    return list(session.scalars(query.order_by(TransferRow.expires_at).limit(limit)))

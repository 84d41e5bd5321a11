"""Wallets, their transactions (what a user sees in their history), idempotency records and applied rail
events. Never commits. Money itself is only in the ledger; these rows describe and find it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, case, func, select, tuple_, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType


class WalletRow(Base):
    __tablename__ = "wallets"

    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TransactionRow(Base):
    __tablename__ = "wallet_transactions"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    operation_id: Mapped[UUID] = mapped_column(UUIDType())  # both sides of a payment share it
    type: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    counterparty_user_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    counterparty: Mapped[str] = mapped_column(String(320), default="")  # what the user sees: a name, a wallet id
    note: Mapped[str] = mapped_column(String(280), default="")
    method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    destination: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the rail's reference
    transfer_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # the ledger transfers behind it
    failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fee_rule: Mapped[str | None] = mapped_column(String(80), nullable=True)  # "<schedule version>:<rule id>"
    to_currency: Mapped[str | None] = mapped_column(String(10), nullable=True)  # an exchange's target
    to_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rate: Mapped[str | None] = mapped_column(String(40), nullable=True)
    promotion_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_wallet_transactions_user_time", "user_id", "created_at", "id"),
        Index("uq_wallet_transactions_method_reference", "method", "reference", unique=True),
    )


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)  # the transaction it made
    status_code: Mapped[int] = mapped_column(Integer)  # 0 while the request is still running
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RailEventRow(Base):
    __tablename__ = "rail_events"

    rail: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(48))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DestinationRow(Base):
    """A saved withdrawal destination (added after a step-up); removing one keeps the row for the record."""

    __tablename__ = "wallet_destinations"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    label: Mapped[str] = mapped_column(String(60))
    method: Mapped[str] = mapped_column(String(32))
    destination: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_wallet_destinations_user_id", "user_id"),)


def destinations_of(session: Session, user_id: UUID) -> list[DestinationRow]:
    return list(session.scalars(
        select(DestinationRow).where(DestinationRow.user_id == user_id, DestinationRow.removed_at.is_(None))
        .order_by(DestinationRow.created_at)
    ))


def destination(session: Session, user_id: UUID, destination_id: UUID) -> DestinationRow | None:
    return session.scalars(select(DestinationRow).where(
        DestinationRow.id == destination_id, DestinationRow.user_id == user_id, DestinationRow.removed_at.is_(None),
    )).first()


def count_destinations(session: Session, user_id: UUID) -> int:
    return int(session.scalar(select(func.count()).select_from(DestinationRow).where(
        DestinationRow.user_id == user_id, DestinationRow.removed_at.is_(None))) or 0)


def remove_destination(session: Session, user_id: UUID, destination_id: UUID, now: datetime) -> None:
    session.execute(update(DestinationRow).where(
        DestinationRow.id == destination_id, DestinationRow.user_id == user_id, DestinationRow.removed_at.is_(None),
    ).values(removed_at=now))


def wallet_of(session: Session, user_id: UUID) -> WalletRow | None:
    return session.get(WalletRow, user_id)


def wallet_by_public_id(session: Session, public_id: str) -> WalletRow | None:
    return session.scalars(select(WalletRow).where(WalletRow.public_id == public_id)).first()


def transaction(session: Session, user_id: UUID, tx_id: UUID) -> TransactionRow | None:
    return session.scalars(
        select(TransactionRow).where(TransactionRow.id == tx_id, TransactionRow.user_id == user_id)
    ).first()


def transaction_by_reference(session: Session, method: str, reference: str) -> TransactionRow | None:
    return session.scalars(
        select(TransactionRow).where(TransactionRow.method == method, TransactionRow.reference == reference)
        .with_for_update()
    ).first()


def transactions(
    session: Session, user_id: UUID, *, filters: dict[str, Any], before: tuple[datetime, UUID] | None, limit: int,
) -> list[TransactionRow]:
    """Newest first; `before` is the (created_at, id) of the last row of the previous page."""
    query = select(TransactionRow).where(TransactionRow.user_id == user_id)
    for name in ("currency", "type", "status"):
        if filters.get(name):
            query = query.where(getattr(TransactionRow, name) == filters[name])
    if filters.get("since"):
        query = query.where(TransactionRow.created_at >= filters["since"])
    if filters.get("until"):
        query = query.where(TransactionRow.created_at <= filters["until"])  # inclusive: the end of a day
    if before is not None:
        query = query.where(tuple_(TransactionRow.created_at, TransactionRow.id) < tuple_(*before))
    return list(session.scalars(
        query.order_by(TransactionRow.created_at.desc(), TransactionRow.id.desc()).limit(limit)
    ))


def pending_withdrawals_before(session: Session, method: str, cutoff: datetime, limit: int) -> list[TransactionRow]:
    return list(session.scalars(
        select(TransactionRow).where(TransactionRow.type == "withdrawal", TransactionRow.status == "pending",
                                     TransactionRow.method == method, TransactionRow.created_at <= cutoff)
        .order_by(TransactionRow.created_at).limit(limit).with_for_update(skip_locked=True)
    ))


def daily_usage(session: Session, user_id: UUID, kind: str, currency: str, since: datetime) -> tuple[int, int]:
    """(how many, how much in `currency`) of the user's not-failed `kind` transactions since `since`."""
    in_currency = func.sum(case((TransactionRow.currency == currency, TransactionRow.amount), else_=0))
    count, amount = session.execute(select(func.count(), func.coalesce(in_currency, 0)).where(
        TransactionRow.user_id == user_id, TransactionRow.type == kind, TransactionRow.status != "failed",
        TransactionRow.created_at >= since)).one()
    return int(count or 0), int(amount or 0)


def idempotency(session: Session, user_id: UUID, key: str) -> IdempotencyRow | None:
    return session.get(IdempotencyRow, (user_id, key))


def rail_event_seen(session: Session, rail: str, event_id: str) -> bool:
    return session.get(RailEventRow, (rail, event_id)) is not None


def charged_fees(session: Session, since: datetime, until: datetime) -> list[tuple[datetime, str, str | None, int]]:
    """(when, currency, fee rule, fee) of every completed transaction that charged a fee in [since, until]."""
    rows = session.execute(
        select(TransactionRow.created_at, TransactionRow.currency, TransactionRow.fee_rule, TransactionRow.fee)
        .where(TransactionRow.fee > 0, TransactionRow.status == "completed", TransactionRow.created_at >= since,
               TransactionRow.created_at <= until)
        .order_by(TransactionRow.created_at)
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]

"""Fee schedule versions and quotes. Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType


class FeeScheduleRow(Base):
    """One version of the fee schedule; versions are never edited or deleted, so old fees keep their rule."""

    __tablename__ = "fee_schedules"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)


class QuoteRow(Base):
    """What an operation will cost, promised until `expires_at`; the operation that uses it charges exactly this."""

    __tablename__ = "quotes"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    operation: Mapped[str] = mapped_column(String(12))
    binding: Mapped[str] = mapped_column(String(64))  # hash of what it was asked for
    currency: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    fee_rule: Mapped[str | None] = mapped_column(String(80), nullable=True)
    to_currency: Mapped[str | None] = mapped_column(String(10), nullable=True)
    to_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rate: Mapped[str | None] = mapped_column(String(40), nullable=True)
    promotion_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    fee_before: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the fee before the promotion
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_quotes_user_id", "user_id"),)


def schedules(session: Session) -> list[FeeScheduleRow]:
    return list(session.scalars(select(FeeScheduleRow).order_by(FeeScheduleRow.version)))


def latest_version(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(FeeScheduleRow.version), 0))) or 0)


def quote(session: Session, user_id: UUID, quote_id: UUID) -> QuoteRow | None:
    return session.scalars(select(QuoteRow).where(QuoteRow.id == quote_id, QuoteRow.user_id == user_id)).first()


def use_quote(session: Session, quote_id: UUID, now: datetime) -> bool:
    """Once: concurrent operations with one quote charge it once."""
    result = session.execute(
        update(QuoteRow).where(QuoteRow.id == quote_id, QuoteRow.used_at.is_(None), QuoteRow.expires_at > now)
        .values(used_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]

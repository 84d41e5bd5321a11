"""The outbox: messages written in the same transaction as the event they tell of, delivered by a job."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType


class OutboxRow(Base):
    __tablename__ = "outbox"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | sms
    recipient: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


def due(session: Session, now: datetime, limit: int, channel: str = "email") -> list[OutboxRow]:
    return list(session.scalars(
        select(OutboxRow).where(OutboxRow.channel == channel, OutboxRow.status == "pending",
                                OutboxRow.next_attempt_at <= now)
        .order_by(OutboxRow.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
    ))


def by_ids(session: Session, ids: list[UUID]) -> list[OutboxRow]:
    if not ids:
        return []
    return list(session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids))))


def recent(session: Session, limit: int) -> list[OutboxRow]:
    return list(session.scalars(
        select(OutboxRow).order_by(OutboxRow.created_at.desc(), OutboxRow.id.desc()).limit(limit)
    ))

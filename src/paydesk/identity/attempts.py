"""What the hourly caps count: failed logins (per account and per address group) and password-reset
requests (per address group, and the queue the reset-link job works through). Never commits."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType
from paydesk.core.ids import uuid7
from paydesk.identity.policy import address_group


class LoginFailureRow(Base):
    """One failed login, kept an hour or so: the per-account and per-address hourly caps count these (the
    latter by `address_group`: policy.address_group)."""

    __tablename__ = "login_failures"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    ip: Mapped[str] = mapped_column(String(64))
    address_group: Mapped[str] = mapped_column(String(64), server_default="")  # "": written by a release before it
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_login_failures_group_at", "address_group", "at"),
                      Index("ix_login_failures_user_at", "user_id", "at"))


class ResetRequestRow(Base):
    """One "forgot my password" request, for a known account or not: the request writes only this row either
    way (the same work, so the same time), a job sends the link later. The per-address cap counts these (by
    `address_group`: policy.address_group)."""

    __tablename__ = "password_reset_requests"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    ip: Mapped[str] = mapped_column(String(64))
    address_group: Mapped[str] = mapped_column(String(64), server_default="")  # "": written by a release before it
    user_agent: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_password_reset_requests_group_at", "address_group", "at"),
                      Index("ix_password_reset_requests_handled_at", "handled_at"))


def add_failure(session: Session, user_id: UUID | None, ip: str, at: datetime) -> None:
    session.add(LoginFailureRow(id=uuid7(), user_id=user_id, ip=ip[:64], address_group=address_group(ip), at=at))


def failures_since(session: Session, since: datetime, *, user_id: UUID | None = None, ip: str | None = None) -> int:
    query = select(func.count()).select_from(LoginFailureRow).where(LoginFailureRow.at >= since)
    if user_id is not None:
        query = query.where(LoginFailureRow.user_id == user_id)
    if ip is not None:  # and the addresses counted with it
        query = query.where(LoginFailureRow.address_group == address_group(ip))
    return int(session.scalar(query) or 0)


def add_reset_request(session: Session, user_id: UUID | None, ip: str, user_agent: str, at: datetime) -> None:
    session.add(ResetRequestRow(id=uuid7(), user_id=user_id, ip=ip[:64], address_group=address_group(ip),
                                user_agent=user_agent[:300], at=at, handled_at=None))


def pending_reset_requests(session: Session, limit: int) -> list[ResetRequestRow]:
    """The oldest requests not handled yet, locked; another worker skips them."""
    return list(session.scalars(
        select(ResetRequestRow).where(ResetRequestRow.handled_at.is_(None)).order_by(ResetRequestRow.id)
        .limit(limit).with_for_update(skip_locked=True)
    ))


def reset_requests_since(session: Session, since: datetime, ip: str) -> int:
    """Requests from `ip` and the addresses counted with it (policy.address_group)."""
    query = select(func.count()).select_from(ResetRequestRow).where(
        ResetRequestRow.at >= since, ResetRequestRow.address_group == address_group(ip))
    return int(session.scalar(query) or 0)


def prune_reset_requests(session: Session, before: datetime) -> None:
    session.execute(delete(ResetRequestRow).where(ResetRequestRow.handled_at.is_not(None),
                                                  ResetRequestRow.at < before))

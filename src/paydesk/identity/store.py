"""Users and sessions. Never commits."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(8))
    roles: Mapped[str] = mapped_column(String(100), default="")  # space-separated: agent supervisor operator
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SessionRow(Base):
    __tablename__ = "user_sessions"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)


def add_user(session: Session, row: UserRow) -> None:
    session.add(row)


def user_by_id(session: Session, user_id: UUID) -> UserRow | None:
    return session.get(UserRow, user_id)


def user_by_login(session: Session, *, email: str | None = None, phone: str | None = None) -> UserRow | None:
    if email is not None:
        return session.scalars(select(UserRow).where(UserRow.email == email)).first()
    if phone is not None:
        return session.scalars(select(UserRow).where(UserRow.phone == phone)).first()
    return None


def login_taken(session: Session, email: str | None, phone: str | None) -> bool:
    return any(
        user_by_login(session, email=email if kind == "email" else None, phone=phone if kind == "phone" else None)
        for kind, value in (("email", email), ("phone", phone)) if value
    )


def set_password_hash(session: Session, user_id: UUID, password_hash: str) -> None:
    session.execute(update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash))


def add_session(session: Session, row: SessionRow) -> None:
    session.add(row)


def session_by_token_hash(session: Session, digest: str) -> SessionRow | None:
    return session.scalars(select(SessionRow).where(SessionRow.token_hash == digest)).first()


def session_and_user(session: Session, digest: str) -> tuple[SessionRow, UserRow] | None:
    """The session with this token hash and its user, in one query (it runs on every request)."""
    row = session.execute(
        select(SessionRow, UserRow).join(UserRow, UserRow.id == SessionRow.user_id)
        .where(SessionRow.token_hash == digest)
    ).first()
    return (row[0], row[1]) if row else None


def touch_session(session: Session, session_id: UUID, now: datetime) -> None:
    session.execute(update(SessionRow).where(SessionRow.id == session_id).values(last_seen_at=now))


def revoke_session(session: Session, session_id: UUID, now: datetime) -> None:
    session.execute(
        update(SessionRow).where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None)).values(revoked_at=now)
    )

"""Users and sessions. Never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    case,
    delete,
    false,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType
from paydesk.core.ids import uuid7


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
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lock_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)  # sealed (core.crypto)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Payments since the last strong authentication of one (the low-value exemption's counters).
    sca_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sca_eur_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


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
    country: Mapped[str] = mapped_column(String(2), default="", server_default="")

    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)


class PasswordResetRow(Base):
    __tablename__ = "password_resets"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RecoveryCodeRow(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_recovery_codes_user_id", "user_id"),)


class SecurityEventRow(Base):
    """The user's activity log: every security event, with when, from where and on what device."""

    __tablename__ = "security_events"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_security_events_user_time", "user_id", "created_at"),)


class ChallengeRow(Base):
    """A step-up confirmation: one payment (bound by the hash of its amount, currency and payee) waiting for
    a second factor. `pending` → `verified` (the right code) → `used` (the payment made); or `blocked`
    after too many wrong codes, or `void` when the payment it was for changed."""

    __tablename__ = "step_up_challenges"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    binding: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    method: Mapped[str] = mapped_column(String(8))  # totp, email, sms
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_step_up_challenges_user_id", "user_id"),)


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


# --- security -------------------------------------------------------------------------------------------------

def user_for_update(session: Session, user_id: UUID) -> UserRow | None:
    """Lock the user's row (FOR NO KEY UPDATE: rows that only reference the user, such as a payment's
    transaction rows written for them by another payer, don't wait for it — and can't deadlock with it)."""
    return session.scalars(select(UserRow).where(UserRow.id == user_id).with_for_update(key_share=True)).first()


def lock_users(session: Session, user_ids: list[UUID]) -> None:
    """Lock several users' rows in one statement, in id order (FOR NO KEY UPDATE, as `user_for_update`)."""
    session.scalars(
        select(UserRow).where(UserRow.id.in_(sorted(user_ids))).order_by(UserRow.id).with_for_update(key_share=True)
    ).all()


def add_event(session: Session, user_id: UUID, kind: str, at: datetime, *, ip: str = "", user_agent: str = "",
              detail: dict[str, Any] | None = None) -> None:
    session.add(SecurityEventRow(id=uuid7(), user_id=user_id, kind=kind, ip=ip[:64], user_agent=user_agent[:300],
                                 detail=detail, created_at=at))


def events(session: Session, user_id: UUID, limit: int) -> list[SecurityEventRow]:
    return list(session.scalars(
        select(SecurityEventRow).where(SecurityEventRow.user_id == user_id)
        .order_by(SecurityEventRow.created_at.desc(), SecurityEventRow.id.desc()).limit(limit)
    ))


def event_of(session: Session, user_id: UUID, event_id: UUID) -> bool:
    found = session.get(SecurityEventRow, event_id)
    return found is not None and found.user_id == user_id


def sessions_of(session: Session, user_id: UUID) -> list[SessionRow]:
    return list(session.scalars(
        select(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        .order_by(SessionRow.last_seen_at.desc())
    ))


def sign_in_news(session: Session, user_id: UUID, user_agent: str, country: str = "") -> tuple[bool, bool]:
    """(new device, new country): whether the account has signed in before, but never from this device, or
    from known countries but never this one (the first sign-in isn't news; an unknown country never is)."""
    device = func.sum(case((SessionRow.user_agent == user_agent[:300], 1), else_=0))
    known = func.sum(case((SessionRow.country != "", 1), else_=0))
    place = func.sum(case((SessionRow.country == country, 1), else_=0))
    row = session.execute(
        select(func.count(), func.coalesce(device, 0), func.coalesce(known, 0), func.coalesce(place, 0))
        .select_from(SessionRow).where(SessionRow.user_id == user_id)
    ).one()
    return bool(row[0]) and not row[1], bool(country) and bool(row[2]) and not row[3]


def revoke_user_sessions(session: Session, user_id: UUID, now: datetime, *, keep: UUID | None = None) -> int:
    query = update(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
    if keep is not None:
        query = query.where(SessionRow.id != keep)
    return int(session.execute(query.values(revoked_at=now)).rowcount or 0)  # type: ignore[attr-defined]


def revoke_one(session: Session, user_id: UUID, session_id: UUID, now: datetime) -> bool:
    result = session.execute(
        update(SessionRow).where(SessionRow.id == session_id, SessionRow.user_id == user_id,
                                 SessionRow.revoked_at.is_(None)).values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def last_open_reset_at(session: Session, user_id: UUID, now: datetime) -> datetime | None:
    """When the account's newest reset link that still works was made (the job sends one every few minutes)."""
    return session.scalar(select(func.max(PasswordResetRow.created_at)).where(
        PasswordResetRow.user_id == user_id, PasswordResetRow.used_at.is_(None), PasswordResetRow.expires_at > now))


def add_reset(session: Session, token_hash: str, user_id: UUID, now: datetime, expires_at: datetime) -> None:
    session.add(PasswordResetRow(token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at,
                                 used_at=None))


def consume_reset(session: Session, token_hash: str, now: datetime) -> UUID | None:
    """Use the token: exactly one caller gets the user back, however many try at once."""
    found = session.scalars(select(PasswordResetRow).where(PasswordResetRow.token_hash == token_hash)).first()
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    result = session.execute(
        update(PasswordResetRow).where(PasswordResetRow.token_hash == token_hash, PasswordResetRow.used_at.is_(None))
        .values(used_at=now)
    )
    return found.user_id if result.rowcount == 1 else None  # type: ignore[attr-defined]


def replace_recovery_codes(session: Session, user_id: UUID, hashes: list[str]) -> None:
    session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
    session.add_all(RecoveryCodeRow(id=uuid7(), user_id=user_id, code_hash=h, used_at=None) for h in hashes)


def consume_recovery_code(session: Session, user_id: UUID, code_hash: str, now: datetime) -> bool:
    result = session.execute(
        update(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.code_hash == code_hash,
                                      RecoveryCodeRow.used_at.is_(None)).values(used_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def recovery_codes_left(session: Session, user_id: UUID) -> int:
    return int(session.scalar(
        select(func.count()).select_from(RecoveryCodeRow)
        .where(RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None))
    ) or 0)


def claim_totp_step(session: Session, user_id: UUID, step: int) -> bool:
    """Accept a TOTP time step once: only a step later than the last one used moves the mark."""
    result = session.execute(
        update(UserRow).where(UserRow.id == user_id, UserRow.totp_last_step < step).values(totp_last_step=step)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# --- step-up ----------------------------------------------------------------------------------------------------

def use_exemption(session: Session, user_id: UUID, eur_cents: int, single: int, total: int, count: int) -> bool:
    """Count a payment under the low-value exemption if it fits (one statement: concurrent payments can't
    both squeeze under the cap)."""
    if eur_cents > single:
        return False
    result = session.execute(
        update(UserRow).where(
            UserRow.id == user_id, UserRow.sca_count < count, UserRow.sca_eur_cents + eur_cents <= total,
        ).values(sca_count=UserRow.sca_count + 1, sca_eur_cents=UserRow.sca_eur_cents + eur_cents)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def reset_exemption(session: Session, user_id: UUID) -> None:
    session.execute(update(UserRow).where(UserRow.id == user_id).values(sca_count=0, sca_eur_cents=0))


def challenge_for_update(session: Session, user_id: UUID, challenge_id: UUID) -> ChallengeRow | None:
    return session.scalars(
        select(ChallengeRow).where(ChallengeRow.id == challenge_id, ChallengeRow.user_id == user_id).with_for_update()
    ).first()


def use_challenge(session: Session, user_id: UUID, challenge_id: UUID, binding: str, now: datetime) -> bool:
    """verified → used, once, for the payment it was bound to."""
    result = session.execute(
        update(ChallengeRow).where(
            ChallengeRow.id == challenge_id, ChallengeRow.user_id == user_id, ChallengeRow.binding == binding,
            ChallengeRow.status == "verified", ChallengeRow.expires_at > now,
        ).values(status="used")
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]

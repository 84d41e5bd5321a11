"""Identity use cases: register, log in, authenticate a session token, log out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import InvalidRequest, NotFound
from paydesk.core.ids import uuid7
from paydesk.identity import domain, store

# OWASP's Argon2id parameters: t=2, m=19 MiB, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
TOUCH_EVERY = timedelta(seconds=60)  # a session's last-seen time is written at most this often


ROLES = ("operator", "agent", "supervisor", "admin", "editor")  # editor: writes and publishes help articles


@dataclass(frozen=True, slots=True)
class User:
    id: UUID
    email: str | None
    phone: str | None
    display_name: str
    locale: str
    roles: frozenset[str]
    created_at: datetime
    frozen: bool = False  # "this wasn't me": no money leaves until support lifts it


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making this request, and through which session."""

    user: User
    session_id: UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


def user_from_row(row: store.UserRow) -> User:
    """A user as the other features see it."""
    return User(row.id, row.email, row.phone, row.display_name, row.locale, frozenset(row.roles.split()),
                row.created_at, row.frozen_at is not None)


class IdentityService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    @cached_property
    def _dummy_hash(self) -> str:
        """Verified against when the login is unknown, so unknown and known logins take the same time."""
        return HASHER.hash("not a real password, only here to spend the same time")

    def register(
        self, *, email: str | None, phone: str | None, password: str, display_name: str | None, locale: str,
    ) -> User:
        if not email and not phone:
            raise domain.InvalidEmail("give an email address or a phone number")
        email_n = domain.normalize_email(email) if email else None
        phone_n = domain.normalize_phone(phone) if phone else None
        name = (display_name or "").strip() or (email_n.split("@")[0] if email_n else "") or (phone_n or "")
        secret = domain.check_password(password, email=email_n, display_name=name)
        row = store.UserRow(
            id=uuid7(), email=email_n, phone=phone_n, password_hash=HASHER.hash(secret), display_name=name[:100],
            locale=locale if locale in ("zh-CN", "en") else "en", roles="", created_at=self.clock.now(),
        )
        with self.db.uow() as uow:
            if store.login_taken(uow.session, email_n, phone_n):
                raise domain.AccountExists()
            store.add_user(uow.session, row)
            uow.commit()
        return user_from_row(row)

    def verify(self, password_hash: str | None, secret: str) -> bool:
        """Check a password against its hash; with no hash, spend the same time on a dummy one."""
        try:
            return HASHER.verify(password_hash or self._dummy_hash, secret) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def find_row(session: Session, login: str) -> store.UserRow | None:
        """The user an email or phone number names, read in the caller's transaction."""
        try:
            if domain.looks_like_phone(login):
                return store.user_by_login(session, phone=domain.normalize_phone(login))
            return store.user_by_login(session, email=domain.normalize_email(login))
        except (domain.InvalidEmail, domain.InvalidPhone):
            return None

    def authenticate(self, token: str) -> Principal:
        """The live session behind `token` (sliding its idle deadline), or `not_authenticated`."""
        now = self.clock.now()
        with self.db.reader() as uow:  # most requests only read; a write happens at most once a minute
            pair = store.session_and_user(uow.session, domain.token_hash(token))
        if pair is None or pair[0].revoked_at is not None:
            raise domain.NotAuthenticated()
        found, user = pair
        times = domain.SessionTimes(found.created_at, found.last_seen_at)
        if not times.alive(now):
            raise domain.NotAuthenticated("the session has expired; sign in again")
        if now - found.last_seen_at >= TOUCH_EVERY:
            with self.db.uow() as uow:
                store.touch_session(uow.session, found.id, now)
                uow.commit()
            times = domain.SessionTimes(found.created_at, now)
        return Principal(user_from_row(user), found.id, times.expires_at())

    def logout(self, session_id: UUID) -> None:
        with self.db.uow() as uow:
            store.revoke_session(uow.session, session_id, self.clock.now())
            uow.commit()

    def user(self, user_id: UUID) -> User:
        with self.db.reader() as uow:
            return self.user_in(uow.session, user_id)

    @staticmethod
    def lock_users_in(session: Session, user_ids: list[UUID]) -> None:
        """Hold these users' rows until the transaction ends. A payment locks its payer first, then ledger
        accounts: one order everywhere, so no deadlock."""
        store.lock_users(session, user_ids)

    @staticmethod
    def user_in(session: Session, user_id: UUID) -> User:
        """The user, read inside the caller's transaction."""
        row = store.user_by_id(session, user_id)
        if row is None:
            raise NotFound("no such user")
        return user_from_row(row)

    @staticmethod
    def display_names_in(session: Session, user_ids: list[UUID]) -> dict[UUID, str]:
        """Several users' display names in one query, inside the caller's transaction."""
        if not user_ids:
            return {}
        return dict(session.execute(select(store.UserRow.id, store.UserRow.display_name)
                                    .where(store.UserRow.id.in_(user_ids))).all())

    @staticmethod
    def add_event_in(session: Session, user_id: UUID, kind: str, at: datetime,
                     detail: dict[str, Any] | None = None) -> None:
        """An entry in the user's activity log, written in the caller's transaction."""
        store.add_event(session, user_id, kind, at, detail=detail)

    def two_step_on(self, user_id: UUID) -> bool:
        with self.db.reader() as uow:
            row = store.user_by_id(uow.session, user_id)
            return bool(row and row.totp_enabled)

    def grant_role(self, login: str, role: str) -> User:
        """Give a user a role (`operator`, `agent`, `supervisor`, `admin`)."""
        if role not in ROLES:
            raise InvalidRequest(f"roles are {', '.join(ROLES)}")
        with self.db.uow() as uow:
            row = self.find_row(uow.session, login)
            if row is None:
                raise NotFound("no such user")
            row.roles = " ".join(sorted({*row.roles.split(), role}))
            uow.commit()
            return user_from_row(row)

    def find_user(self, login: str) -> User | None:
        """The user an email or phone number belongs to (for payments), or None."""
        with self.db.reader() as uow:
            row = self.find_row(uow.session, login)
            return user_from_row(row) if row else None

"""Password resets (part of SecurityService): asking for a link — the same work whether or not the account
exists —, the job that sends links, and setting a new password with one."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy.orm import Session

from paydesk.config import Settings
from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.identity import attempts, domain, policy, store
from paydesk.identity.service import HASHER, IdentityService


class Resets:
    db: Database
    clock: Clock
    settings: Settings
    identity: IdentityService

    if TYPE_CHECKING:  # provided by SecurityService
        def second_factor_in(self, s: Session, row: store.UserRow, code: str, now: datetime, ip: str,
                             ua: str) -> bool: ...

        def mail_in(self, s: Session, row: store.UserRow, template: str, now: datetime, **context: str) -> None: ...

    def request_reset(self, login: str, *, ip: str = "", user_agent: str = "") -> None:
        """Succeeds alike for any login; a known user gets a link by email (or SMS) valid 30 minutes. The
        request only writes itself down, known account or not (the same work, so the same time: the answer's
        timing doesn't tell who has an account); `send_reset_links` sends the link a moment later.
        `too_many_reset_requests` past the hourly cap per client address (alike for every login)."""
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            hour_ago = now - timedelta(hours=1)
            if ip and attempts.reset_requests_since(s, hour_ago, ip) >= policy.MAX_RESET_REQUESTS_PER_HOUR:
                raise domain.TooManyResetRequests()
            row = self.identity.find_row(s, login)
            attempts.add_reset_request(s, row.id if row else None, ip, user_agent, now)
            uow.commit()

    def send_reset_links(self, limit: int = 100) -> int:
        """The job behind `request_reset`: for each request of a known account an event in its activity log
        and a link by message, unless a link that still works went out less than RESET_LINK_GAP ago.
        Every request is marked handled; handled ones older than a day are deleted. Returns how many."""
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            requests = attempts.pending_reset_requests(s, limit)
            for request in requests:
                request.handled_at = now
                # The account's row lock: two job runners (several processes) don't both send a link.
                row = store.user_for_update(s, request.user_id) if request.user_id else None
                if row is None:
                    continue
                store.add_event(s, row.id, "password_reset_requested", request.at, ip=request.ip,
                                user_agent=request.user_agent)
                last = store.last_open_reset_at(s, row.id, now)
                if last is None or now - last >= policy.RESET_LINK_GAP:
                    link = self._reset_link_in(s, row.id, now)
                    self.mail_in(s, row, "password_reset", now, link=link, ip=request.ip or "?")
            attempts.prune_reset_requests(s, now - timedelta(days=1))
            uow.commit()
        return len(requests)

    def _reset_link_in(self, s: Session, user_id: UUID, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        store.add_reset(s, policy.secret_hash(token), user_id, now, now + policy.RESET_TOKEN_LIFETIME)
        return f"{self.settings.base_url}/reset?token={token}"

    def confirm_reset(self, token: str, new_password: str, otp: str | None = None, *, ip: str = "",
                      user_agent: str = "") -> None:
        """Set a new password with a reset token (once); ends every session; 2-step still applies."""
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            user_id = store.consume_reset(s, policy.secret_hash(token), now)
            if user_id is None:
                raise domain.InvalidResetToken()
            row = store.user_for_update(s, user_id)
            assert row is not None  # noqa: S101
            if row.totp_enabled:
                if not otp:
                    raise domain.OtpRequired()
                if not self.second_factor_in(s, row, otp, now, ip, user_agent):
                    # A wrong code uses the link up (committed), so a stolen link can't be used to guess codes
                    # past the lockout that guards signing in with them.
                    store.add_event(s, row.id, "reset_code_failed", now, ip=ip, user_agent=user_agent)
                    uow.commit()
                    raise domain.InvalidOtp("the code is wrong; this link is used up — ask for a new one")
            secret = domain.check_password(new_password, email=row.email, display_name=row.display_name)
            row.password_hash = HASHER.hash(secret)
            if row.locked_until is not None:
                store.add_event(s, row.id, "account_unlocked", now, ip=ip, user_agent=user_agent,
                                detail={"by": "password_reset"})
            row.failed_logins, row.lock_count, row.locked_until = 0, 0, None
            store.revoke_user_sessions(s, row.id, now)
            store.add_event(s, row.id, "password_reset", now, ip=ip, user_agent=user_agent)
            self.mail_in(s, row, "password_changed", now, ip=ip or "?")
            uow.commit()

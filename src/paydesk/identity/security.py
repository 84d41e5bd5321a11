"""Security use cases: logging in under the lockout policy with 2-step verification, password reset and
change, TOTP enrolment and recovery codes, sessions and the activity log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import qrcode
import qrcode.image.svg
from sqlalchemy.orm import Session

from paydesk.config import Settings
from paydesk.core import crypto
from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import Conflict, NotFound
from paydesk.core.ids import uuid7
from paydesk.identity import attempts, domain, policy, store
from paydesk.identity.resets import Resets
from paydesk.identity.service import HASHER, IdentityService, LoginResult, Principal, user_from_row
from paydesk.notify.service import NotifyService

TOTP_PURPOSE = "totp"


class TwoStepAlreadyOn(Conflict):
    code = "two_step_already_on"
    title = "2-step verification is already on; turn it off first to enrol a new device"


class TwoStepNotOn(Conflict):
    code = "two_step_not_on"
    title = "2-step verification is not on"


class SecurityService(Resets):
    def __init__(self, db: Database, clock: Clock, settings: Settings, identity: IdentityService,
                 notify: NotifyService) -> None:
        self.db, self.clock, self.settings, self.identity, self.notify = db, clock, settings, identity, notify

    # --- logging in -----------------------------------------------------------------------------------------

    def login(self, login: str, password: str, *, otp: str | None = None, ip: str = "",
              user_agent: str = "", country: str = "") -> LoginResult:
        """A new session, or: `invalid_credentials` (wrong or unknown, alike in answer and time),
        `account_locked` (only once the password is right), `otp_required` / `invalid_otp` (2-step on),
        `too_many_attempts` (this address failed too often in the last hour)."""
        now = self.clock.now()
        secret = domain.normalize_password(password)
        with self.db.reader() as uow:
            hour_ago = now - timedelta(hours=1)
            if ip and attempts.failures_since(uow.session, hour_ago, ip=ip) >= policy.MAX_FAILURES_PER_HOUR:
                raise domain.TooManyAttempts()
            row = self.identity.find_row(uow.session, login)
        if row is None:
            self.identity.verify(None, secret)  # spend the same time as for a real account
            self._record_failure(None, ip, user_agent, now)
            raise domain.InvalidCredentials()
        right = self.identity.verify(row.password_hash, secret)
        state = policy.LockState(row.failed_logins, row.lock_count, row.locked_until)
        if state.locked(now):
            if right:
                assert state.locked_until is not None  # noqa: S101 - locked() says so
                raise domain.AccountLocked(retry_at=state.locked_until.isoformat())
            raise domain.InvalidCredentials()  # not counted while locked
        if not right:
            self._record_failure(row, ip, user_agent, now)
            raise domain.InvalidCredentials()
        with self.db.uow() as uow:
            if row.totp_enabled:
                if not otp:
                    raise domain.OtpRequired()
                if not self.second_factor_in(uow.session, row, otp, now, ip, user_agent):
                    uow.session.rollback()
                    self._record_failure(row, ip, user_agent, now)
                    raise domain.InvalidOtp()
            new_hash = HASHER.hash(secret) if HASHER.check_needs_rehash(row.password_hash) else None
            result = self._open_session_in(uow.session, row, now, ip, user_agent, country, new_hash)
            uow.commit()
        return result

    def _open_session_in(self, s: Session, row: store.UserRow, now: datetime, ip: str, ua: str, country: str,
                         new_hash: str | None) -> LoginResult:
        new_device, new_country = store.sign_in_news(s, row.id, ua, country)
        fresh = store.user_for_update(s, row.id)
        assert fresh is not None  # noqa: S101 - read just before
        if fresh.locked_until is not None:  # the lock ran out and the owner is back: the log says so
            store.add_event(s, row.id, "account_unlocked", now, ip=ip, user_agent=ua, detail={"by": "login"})
        fresh.failed_logins, fresh.lock_count, fresh.locked_until = 0, 0, None
        if new_hash is not None:
            fresh.password_hash = new_hash
        token = domain.new_session_token()
        store.add_session(s, store.SessionRow(
            id=uuid7(), user_id=row.id, token_hash=domain.token_hash(token), created_at=now, last_seen_at=now,
            revoked_at=None, ip=ip[:64], user_agent=ua[:300], country=country,
        ))
        place = {"country": country} if country else None
        store.add_event(s, row.id, "login", now, ip=ip, user_agent=ua, detail=place)
        if new_device:
            store.add_event(s, row.id, "new_device", now, ip=ip, user_agent=ua, detail=place)
            self.mail_in(s, row, "new_device", now, ip=ip, device=ua or "?")
        if new_country:
            store.add_event(s, row.id, "new_country", now, ip=ip, user_agent=ua, detail=place)
            self.mail_in(s, row, "new_country", now, ip=ip, country=country)
        return LoginResult(token, domain.SessionTimes(now, now).expires_at(), user_from_row(row))

    def _record_failure(self, row: store.UserRow | None, ip: str, ua: str, now: datetime) -> None:
        """Count a failure (atomically, under the account's row lock) and lock the account when due."""
        with self.db.uow() as uow:
            s = uow.session
            attempts.add_failure(s, row.id if row else None, ip, now)
            if row is None:  # a count like the one an account's failure makes: narrows the time difference
                attempts.failures_since(s, now - timedelta(hours=1), ip=ip)
            else:
                fresh = store.user_for_update(s, row.id)
                assert fresh is not None  # noqa: S101 - users are never deleted
                state = policy.LockState(fresh.failed_logins, fresh.lock_count, fresh.locked_until)
                if not state.locked(now):
                    hour = attempts.failures_since(s, now - timedelta(hours=1), user_id=row.id)
                    new = policy.after_failure(state, now, hour - 1)
                    fresh.failed_logins, fresh.lock_count = new.failures, new.locks
                    fresh.locked_until = new.locked_until
                    store.add_event(s, row.id, "login_failed", now, ip=ip, user_agent=ua)
                    if new.locked(now) and not state.locked(now):
                        assert new.locked_until is not None  # noqa: S101
                        store.add_event(s, row.id, "account_locked", now, ip=ip, user_agent=ua,
                                        detail={"until": new.locked_until.isoformat()})
                        link = self._reset_link_in(s, row.id, now)
                        self.mail_in(s, row, "account_locked", now, ip=ip or "?", until=new.locked_until.isoformat(),
                                   link=link)
            uow.commit()

    def second_factor_in(self, s: Session, row: store.UserRow, code: str, now: datetime, ip: str, ua: str) -> bool:
        """A TOTP code (its time step claimed once) or an unused recovery code (used up)."""
        if row.totp_secret:
            seed = crypto.unseal(self.settings.secret_key, TOTP_PURPOSE, row.totp_secret)
            step = policy.matching_step(seed, code, now, row.totp_last_step)
            if step is not None and store.claim_totp_step(s, row.id, step):
                return True
        digest = policy.secret_hash(policy.normalize_recovery_code(code))
        if store.consume_recovery_code(s, row.id, digest, now):
            store.add_event(s, row.id, "recovery_code_used", now, ip=ip, user_agent=ua,
                            detail={"left": store.recovery_codes_left(s, row.id)})
            return True
        return False

    # --- password change and 2-step -------------------------------------------------------------------------

    def step_up_in(self, s: Session, who: Principal, password: str, code: str | None, now: datetime) -> store.UserRow:
        """The password, and a fresh second factor when 2-step is on, before a change to how one signs in."""
        row = store.user_for_update(s, who.user.id)
        assert row is not None  # noqa: S101
        if not self.identity.verify(row.password_hash, domain.normalize_password(password)):
            raise domain.InvalidCredentials("the current password is wrong")
        if row.totp_enabled:
            if not code:
                raise domain.OtpRequired()
            if not self.second_factor_in(s, row, code, now, "", ""):
                raise domain.InvalidOtp()
        return row

    def change_password(self, who: Principal, current: str, new: str, otp: str | None = None) -> None:
        now = self.clock.now()
        with self.db.uow() as uow:
            row = self.step_up_in(uow.session, who, current, otp, now)
            row.password_hash = HASHER.hash(domain.check_password(new, email=row.email, display_name=row.display_name))
            store.revoke_user_sessions(uow.session, row.id, now, keep=who.session_id)
            store.add_event(uow.session, row.id, "password_changed", now)
            self.mail_in(uow.session, row, "password_changed", now, ip="?")
            uow.commit()

    def change_login(self, who: Principal, *, kind: str, value: str, password: str, otp: str | None) -> None:
        """A new email address or phone number to sign in with, after the password and (2-step on) a fresh
        code. The old address hears of it, so a hijacker can't change it quietly."""
        now = self.clock.now()
        new = domain.normalize_email(value) if kind == "email" else domain.normalize_phone(value)
        with self.db.uow() as uow:
            s = uow.session
            row = self.step_up_in(s, who, password, otp, now)
            old = row.email if kind == "email" else row.phone
            if new == old:
                return
            if store.login_taken(s, new if kind == "email" else None, new if kind == "phone" else None):
                raise domain.AccountExists(f"another account uses this {kind}")
            zh = row.locale == "zh-CN"
            what = ("邮箱" if kind == "email" else "手机号") if zh else ("email address" if kind == "email"
                                                                       else "phone number")
            self.mail_in(s, row, "login_changed", now, what=what, new=new)  # to the old address
            if kind == "email":
                row.email = new
            else:
                row.phone = new
            store.add_event(s, row.id, f"{kind}_changed", now, detail={"old": old, "new": new})
            uow.commit()

    def start_totp(self, who: Principal) -> dict[str, str]:
        """A new secret (not active until confirmed with a code): its otpauth URI and a QR code (SVG)."""
        seed = policy.new_totp_secret()
        with self.db.uow() as uow:
            row = store.user_for_update(uow.session, who.user.id)
            assert row is not None  # noqa: S101
            if row.totp_enabled:
                raise TwoStepAlreadyOn()
            row.totp_secret = crypto.seal(self.settings.secret_key, TOTP_PURPOSE, seed)
            row.totp_last_step = 0
            uow.commit()
        uri = policy.otpauth_uri(seed, who.user.email or who.user.phone or str(who.user.id))
        svg = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")
        return {"secret": seed, "otpauth_uri": uri, "qr_svg": svg}

    def confirm_totp(self, who: Principal, code: str) -> list[str]:
        """Turn 2-step on with a first code; returns 10 recovery codes (shown once). Ends other sessions."""
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            row = store.user_for_update(s, who.user.id)
            assert row is not None  # noqa: S101
            if row.totp_enabled:
                raise TwoStepAlreadyOn()
            if not row.totp_secret:
                raise TwoStepNotOn("start the enrolment first")
            seed = crypto.unseal(self.settings.secret_key, TOTP_PURPOSE, row.totp_secret)
            step = policy.matching_step(seed, code, now, row.totp_last_step)
            if step is None or not store.claim_totp_step(s, row.id, step):
                raise domain.InvalidOtp()
            row.totp_enabled = True
            codes = self._new_codes_in(s, row.id)
            store.revoke_user_sessions(s, row.id, now, keep=who.session_id)
            store.add_event(s, row.id, "two_step_enabled", now)
            self.mail_in(s, row, "two_step_changed", now, state="开启" if row.locale == "zh-CN" else "on")
            uow.commit()
        return codes

    def disable_totp(self, who: Principal, password: str, code: str) -> None:
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            row = self.step_up_in(s, who, password, code, now)
            if not row.totp_enabled:
                raise TwoStepNotOn()
            row.totp_enabled, row.totp_secret = False, None
            store.replace_recovery_codes(s, row.id, [])
            store.revoke_user_sessions(s, row.id, now, keep=who.session_id)
            store.add_event(s, row.id, "two_step_disabled", now)
            self.mail_in(s, row, "two_step_changed", now, state="关闭" if row.locale == "zh-CN" else "off")
            uow.commit()

    def regenerate_recovery_codes(self, who: Principal, password: str, code: str) -> list[str]:
        now = self.clock.now()
        with self.db.uow() as uow:
            row = self.step_up_in(uow.session, who, password, code, now)
            if not row.totp_enabled:
                raise TwoStepNotOn()
            codes = self._new_codes_in(uow.session, row.id)
            store.add_event(uow.session, row.id, "recovery_codes_regenerated", now)
            uow.commit()
        return codes

    @staticmethod
    def _new_codes_in(s: Session, user_id: UUID) -> list[str]:
        codes = policy.new_recovery_codes()
        store.replace_recovery_codes(s, user_id, [policy.secret_hash(c) for c in codes])
        return codes

    def report_not_me(self, who: Principal, *, event_id: UUID | None = None, transaction_id: UUID | None = None,
                      ip: str = "", user_agent: str = "") -> dict[str, str]:
        """"This wasn't me": freeze outgoing money at once (incoming still works), sign out every session,
        and record an incident for the support desk. Unfreezing is a support action."""
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            row = store.user_for_update(s, who.user.id)
            assert row is not None  # noqa: S101
            if event_id is not None and not store.event_of(s, who.user.id, event_id):
                raise NotFound("no such activity entry")
            row.frozen_at = row.frozen_at or now
            store.revoke_user_sessions(s, row.id, now)
            detail = {"event": str(event_id) if event_id else None,
                      "transaction": str(transaction_id) if transaction_id else None}
            store.add_event(s, row.id, "incident_reported", now, ip=ip, user_agent=user_agent, detail=detail)
            self.mail_in(s, row, "account_frozen", now)
            uow.commit()
        return {"status": "frozen", "next": "support"}

    # --- sessions and activity ------------------------------------------------------------------------------

    def sessions(self, who: Principal) -> list[dict[str, Any]]:
        with self.db.reader() as uow:
            rows = store.sessions_of(uow.session, who.user.id)
        now = self.clock.now()
        return [{"id": str(r.id), "created_at": r.created_at.isoformat(), "last_seen_at": r.last_seen_at.isoformat(),
                 "ip": r.ip, "device": r.user_agent, "current": r.id == who.session_id}
                for r in rows if domain.SessionTimes(r.created_at, r.last_seen_at).alive(now)]

    def revoke_session(self, who: Principal, session_id: UUID) -> None:
        now = self.clock.now()
        with self.db.uow() as uow:
            if not store.revoke_one(uow.session, who.user.id, session_id, now):
                raise NotFound("no such session")
            store.add_event(uow.session, who.user.id, "session_revoked", now, detail={"session": str(session_id)})
            uow.commit()

    def revoke_other_sessions(self, who: Principal) -> int:
        now = self.clock.now()
        with self.db.uow() as uow:
            count = store.revoke_user_sessions(uow.session, who.user.id, now, keep=who.session_id)
            store.add_event(uow.session, who.user.id, "sessions_revoked", now, detail={"count": count})
            uow.commit()
        return count

    def locked_until(self, user_id: UUID) -> str | None:
        """When the account's login lock ends, if it is locked now (for the support desk's view)."""
        with self.db.reader() as uow:
            row = store.user_by_id(uow.session, user_id)
        if row is None:
            return None
        state = policy.LockState(row.failed_logins, row.lock_count, row.locked_until)
        return row.locked_until.isoformat() if state.locked(self.clock.now()) and row.locked_until else None

    def activity(self, user_id: UUID, limit: int = 100) -> list[dict[str, Any]]:
        with self.db.reader() as uow:
            rows = store.events(uow.session, user_id, min(max(limit, 1), 500))
        return [{"id": str(r.id), "kind": r.kind, "at": r.created_at.isoformat(), "ip": r.ip, "device": r.user_agent,
                 "detail": r.detail} for r in rows]

    def mail_user_in(self, s: Session, user_id: UUID, template: str, now: datetime, **context: str) -> None:
        row = store.user_by_id(s, user_id)
        assert row is not None  # noqa: S101 - users are never deleted
        self.mail_in(s, row, template, now, **context)

    def mail_in(self, s: Session, row: store.UserRow, template: str, now: datetime, **context: str) -> None:
        self.notify.enqueue_in(s, to=row.email, phone=row.phone, locale=row.locale, template=template,
                               context={"name": row.display_name, "when": now.strftime("%Y-%m-%d %H:%M UTC"),
                                        **context})

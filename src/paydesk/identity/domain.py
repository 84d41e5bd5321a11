"""Who people are and how they prove it: login ids, passwords, session tokens. No I/O.

The full security policy (lockout, 2-step, reset, common-password list) is the next issue; the shapes here
are built for it: `check_password` is the one place passwords are judged, sessions carry idle and absolute
deadlines, and every failure is a `DomainError` with a stable code.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from paydesk.core.errors import DomainError
from paydesk.identity.policy import is_common

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # long passphrases welcome; this only stops absurd inputs before hashing
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
Locale = Literal["zh-CN", "en"]


class InvalidEmail(DomainError):
    code = "invalid_email"
    status = 422
    title = "The email address is not valid"


class InvalidPhone(DomainError):
    code = "invalid_phone"
    status = 422
    title = "The phone number is not valid"


class WeakPassword(DomainError):
    code = "weak_password"
    status = 422
    title = "The password is not acceptable"


class AccountExists(DomainError):
    code = "account_exists"
    status = 409
    title = "An account already uses this email or phone"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    title = "The login or password is wrong"


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401
    title = "Sign in first"


class AccountLocked(DomainError):
    code = "account_locked"
    status = 423
    title = "The account is locked after too many wrong passwords"


class OtpRequired(DomainError):
    code = "otp_required"
    status = 401
    title = "Enter the code from your authenticator app (or a recovery code)"


class InvalidOtp(DomainError):
    code = "invalid_otp"
    status = 401
    title = "The code is wrong or was already used"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429
    title = "Too many failed attempts from this address; try again later"


class TooManyResetRequests(DomainError):
    code = "too_many_reset_requests"
    status = 429
    title = "Too many password-reset requests from this address; try again later"


class InvalidResetToken(DomainError):
    code = "invalid_reset_token"
    status = 400
    title = "This reset link is not valid any more; ask for a new one"


class AccountFrozen(DomainError):
    code = "account_frozen"
    status = 423
    title = "Outgoing money is frozen on this account after a report of activity you didn't make"


class CsrfFailed(DomainError):
    code = "csrf_failed"
    status = 403
    title = "The form has expired; reload the page and try again"


def normalize_email(raw: str) -> str:
    """The address in a canonical form (domain lowercased and IDNA-checked); refuses what can't be mail."""
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    return f"{info.local_part}@{info.domain.lower()}"


def normalize_phone(raw: str, region: str | None = None) -> str:
    """E.164 (`+8613812345678`). Numbers without a `+` need a region."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("write the number with its country code, for example +86 138 1234 5678") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("this is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(login: str) -> bool:
    stripped = login.strip()
    return stripped.startswith("+") or (stripped.replace(" ", "").replace("-", "").isdigit() and "@" not in stripped)


def normalize_password(password: str) -> str:
    """NFKC, so the same passphrase typed on different keyboards is the same; never truncated."""
    return unicodedata.normalize("NFKC", password)


def check_password(password: str, *, email: str | None, display_name: str | None) -> str:
    """The normalized password, or `WeakPassword` saying why. No composition rules (NIST SP 800-63B)."""
    normalized = normalize_password(password)
    if len(normalized) < MIN_PASSWORD:
        raise WeakPassword(f"use at least {MIN_PASSWORD} characters; a few words make a good passphrase",
                           reason="too_short", min_length=MIN_PASSWORD)
    if len(normalized) > MAX_PASSWORD:
        raise WeakPassword(f"use at most {MAX_PASSWORD} characters", reason="too_long")
    if is_common(normalized):
        raise WeakPassword("this password is among the 10,000 most used ones; attackers try those first",
                           reason="common_password")
    lowered = normalized.casefold()
    for word in (email.split("@")[0] if email else None, display_name, "paydesk"):
        if word and len(word) >= 4 and word.casefold() in lowered:
            raise WeakPassword("the password must not contain your name, your email or the product's name",
                               reason="contains_personal_info")
    return normalized


def new_session_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Only this is stored: a database leak does not hand out live sessions."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionTimes:
    created_at: datetime
    last_seen_at: datetime

    def expires_at(self) -> datetime:
        return min(self.last_seen_at + SESSION_IDLE, self.created_at + SESSION_ABSOLUTE)

    def alive(self, now: datetime) -> bool:
        return now < self.expires_at()

"""Step-up for payments (PSD2 strong customer authentication with dynamic linking).

A payment needs a fresh second factor unless the low-value exemption covers it: at most 30 EUR-equivalent,
and since the last payment that was confirmed, at most 100 EUR or 5 payments in all. A payment above it gets
a *confirmation*: bound to the payment's amount, currency and payee (a hash of the three), answered with a
TOTP code (or a recovery code) when 2-step is on, else with a 6-digit code sent by email or SMS that names
the amount and the payee. The confirmation is void when the payment changes; five wrong codes block it and
alert the user; a right code lets exactly that payment through once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import Conflict, DomainError
from paydesk.core.ids import uuid7
from paydesk.core.money import Currency, format_amount
from paydesk.fx.reference import ReferenceRates
from paydesk.identity import domain, store

if TYPE_CHECKING:
    from paydesk.config import Settings
    from paydesk.identity.security import SecurityService

CONFIRMATION_LIFETIME = timedelta(minutes=5)
MAX_WRONG_CODES = 5


class StepUpRequired(DomainError):
    """The payment needs a second factor: answer the confirmation (`confirmation_id` + `otp`) and resend."""

    code = "step_up_required"
    status = 401
    title = "Confirm this payment with a code"


class ConfirmationMismatch(Conflict):
    code = "confirmation_mismatch"
    title = "The amount, currency or payee changed since the confirmation was asked for; it is now void"


class ConfirmationBlocked(DomainError):
    code = "confirmation_blocked"
    status = 403
    title = "Too many wrong codes: this confirmation is blocked; start the payment again"


class ConfirmationInvalid(Conflict):
    code = "confirmation_invalid"
    title = "This confirmation has expired, was already used, or is not yours; start the payment again"


@dataclass(frozen=True, slots=True)
class Payment:
    """What a confirmation is bound to. `payee` is stable (a user id, a destination); `payee_label` is what
    the person sees."""

    kind: str
    currency: Currency
    amount: int
    payee: str
    payee_label: str
    fee: int = 0  # bound too: what leaves is amount + fee

    def binding(self) -> str:
        text = f"{self.kind}\n{self.currency.code}\n{self.amount}\n{self.fee}\n{self.payee}"
        return hashlib.sha256(text.encode()).hexdigest()


class StepUp:
    def __init__(self, db: Database, clock: Clock, settings: Settings, security: SecurityService) -> None:
        self.db, self.clock, self.settings, self.security = db, clock, settings, security
        self.rates = ReferenceRates(settings.reference_rates)

    def eur_cents(self, currency: Currency, minor: int) -> int | None:
        return self.rates.eur_cents(currency, minor)

    def is_large(self, currency: Currency, minor: int) -> bool:
        cents = self.eur_cents(currency, minor)
        return cents is None or cents >= self.settings.large_transfer_eur * 100

    # --- inside the payment's transaction -------------------------------------------------------------------

    def authorize_in(self, s: Session, user_id: UUID, payment: Payment, confirmation_id: UUID | None) -> None:
        """Let the payment through on a verified confirmation (used up here, once) or under the exemption
        (counted here); else raise `StepUpRequired` without an id — the caller asks for a confirmation
        outside this transaction (`challenge`)."""
        if confirmation_id is not None:
            if not store.use_challenge(s, user_id, confirmation_id, payment.binding(), self.clock.now()):
                raise ConfirmationInvalid()
            return
        cents = self.eur_cents(payment.currency, payment.amount)
        cfg = self.settings
        if cents is None or not store.use_exemption(s, user_id, cents, cfg.step_up_single_eur * 100,
                                                    cfg.step_up_cumulative_eur * 100, cfg.step_up_count):
            raise StepUpRequired()

    # --- asking and answering -------------------------------------------------------------------------------

    def challenge(self, user_id: UUID, payment: Payment) -> StepUpRequired:
        """A new confirmation for this payment; with no 2-step, its code goes out by email (or SMS)."""
        now = self.clock.now()
        amount = format_amount(payment.amount, payment.currency)
        summary = {"kind": payment.kind, "amount": amount, "currency": payment.currency.code,
                   "payee": payment.payee_label, "fee": format_amount(payment.fee, payment.currency),
                   "total": format_amount(payment.amount + payment.fee, payment.currency)}
        with self.db.uow() as uow:
            s = uow.session
            row = store.user_by_id(s, user_id)
            assert row is not None  # noqa: S101 - the payer is signed in
            challenge = store.ChallengeRow(
                id=uuid7(), user_id=user_id, binding=payment.binding(), summary=summary, attempts=0,
                status="pending", created_at=now, expires_at=now + CONFIRMATION_LIFETIME,
                method="totp" if row.totp_enabled else ("email" if row.email else "sms"), code_hash=None,
            )
            if challenge.method != "totp":
                code = f"{secrets.randbelow(10**6):06d}"
                challenge.code_hash = self._code_hash(challenge.id, code)
                self.security.mail_in(s, row, "payment_confirmation", now, code=code, **summary)
            s.add(challenge)
            uow.commit()
        return StepUpRequired(
            f"Confirm paying {amount} {payment.currency.code} to {payment.payee_label} with "
            + ("a code from your authenticator app" if challenge.method == "totp"
               else f"the code we sent by {'email' if challenge.method == 'email' else 'SMS'}"),
            confirmation_id=str(challenge.id), method=challenge.method, expires_at=challenge.expires_at.isoformat(),
            amount=amount, currency=payment.currency.code, payee=payment.payee_label, fee=summary["fee"],
            total=summary["total"],
        )

    def verify(self, user_id: UUID, confirmation_id: UUID, code: str | None, payment: Payment) -> None:
        """Check the code for the confirmation (bound to exactly this payment). The same right code may be
        given again, for a retry of the same payment, until the payment uses the confirmation up."""
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            row = store.challenge_for_update(s, user_id, confirmation_id)
            if row is None or row.status in ("used", "void") or row.expires_at <= now:
                raise ConfirmationInvalid()
            if row.status == "blocked":
                raise ConfirmationBlocked()
            if row.binding != payment.binding():
                row.status = "void"
                uow.commit()
                raise ConfirmationMismatch()
            if not code:
                raise domain.OtpRequired("give the code (`otp`) for this confirmation")
            if self._right(s, row, code.strip()):
                if row.status == "pending":
                    row.status = "verified"
                    store.reset_exemption(s, user_id)
                uow.commit()
                return
            row.attempts += 1
            if row.attempts < MAX_WRONG_CODES:
                uow.commit()
                raise domain.InvalidOtp(attempts_left=str(MAX_WRONG_CODES - row.attempts))
            row.status = "blocked"
            user = store.user_by_id(s, user_id)
            assert user is not None  # noqa: S101
            store.add_event(s, user_id, "payment_confirmation_blocked", now, detail=dict(row.summary))
            self.security.mail_in(s, user, "payment_confirmation_blocked", now, **row.summary)
            uow.commit()
        raise ConfirmationBlocked()

    def _right(self, s: Session, row: store.ChallengeRow, code: str) -> bool:
        digest = self._code_hash(row.id, code)
        if row.code_hash is not None and hmac.compare_digest(row.code_hash, digest):
            return True  # the emailed code, or the TOTP code that verified this confirmation before
        if row.method != "totp" or row.status != "pending":
            return False
        user = store.user_for_update(s, row.user_id)
        assert user is not None  # noqa: S101
        if user.totp_enabled and self.security.second_factor_in(s, user, code, self.clock.now(), "", ""):
            row.code_hash = digest
            return True
        return False

    def _code_hash(self, challenge_id: UUID, code: str) -> str:
        key = self.settings.secret_key.encode()
        return hmac.new(key, f"step-up:{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()

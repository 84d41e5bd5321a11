"""Wallet use cases: open a wallet, see balances, top up, send, withdraw, and settle what rails report.

Money moves only through the ledger. A top-up or withdrawal is two steps around the rail: the request is
recorded (and a withdrawal's money held) and committed, the rail is asked, and its answer is settled in a
second transaction — the same settlement a webhook performs when the rail answers later."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paydesk.config import Settings
from paydesk.core.batching import Batcher
from paydesk.core.clock import Clock
from paydesk.core.db import Database, retry_on_conflict
from paydesk.core.ids import uuid7
from paydesk.core.money import Currency, format_amount, parse_amount
from paydesk.identity.domain import AccountFrozen
from paydesk.identity.security import SecurityService
from paydesk.identity.service import IdentityService, User
from paydesk.identity.stepup import ConfirmationInvalid, Payment, StepUp, StepUpRequired
from paydesk.ledger.domain import Result, TransferRequest
from paydesk.ledger.service import SYSTEM, AccountView, LedgerService
from paydesk.notify.service import NotifyService
from paydesk.wallet import domain, idempotency, store, views
from paydesk.wallet.domain import USER_FLAGS, DailyLimitExceeded, TxStatus, TxType
from paydesk.wallet.exchange import Exchanges
from paydesk.wallet.pricing import Priced, Pricing
from paydesk.wallet.rails.base import (
    Outcome,
    Provider,
    rail_for,
)
from paydesk.wallet.saved import SavedDestinations
from paydesk.wallet.sends import process_sends
from paydesk.wallet.settlement import Settler
from paydesk.wallet.withdrawals import Withdrawals

Response = tuple[int, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Recipient:
    user: User
    label: str  # how the sender named them


@dataclass(frozen=True, slots=True)
class SendJob:
    """A validated payment waiting for its group commit."""

    user: User
    key: str
    digest: str
    recipient: Recipient
    currency: Currency
    amount: int
    fee: int
    note: str
    priced: Priced
    payment: Payment
    confirmation: UUID | None  # a verified step-up confirmation for exactly this payment
    strong: bool  # the caller already authenticated the payer strongly (the demo loader)


class WalletService(SavedDestinations, Exchanges, Withdrawals):
    def __init__(
        self, db: Database, clock: Clock, settings: Settings, ledger: LedgerService, identity: IdentityService,
        notify: NotifyService, providers: dict[str, Provider], stepup: StepUp, pricing: Pricing,
    ) -> None:
        self.security: SecurityService = stepup.security
        self.db, self.clock, self.settings = db, clock, settings
        self.currencies = settings.currencies
        self.ledger, self.identity, self.notify = ledger, identity, notify
        self.providers, self.stepup, self.pricing = providers, stepup, pricing
        self.settler = Settler(ledger, notify, identity, self.currencies, clock, on_failure=pricing.release_in)
        self.sends: Batcher[SendJob, Response] = Batcher(
            "wallet-sends", lambda jobs: process_sends(self, jobs), window_s=settings.group_commit_window_ms / 1000,
            max_size=256,
        )

    # --- wallets and balances -----------------------------------------------------------------------------

    def ensure_wallet(self, user_id: UUID) -> str:
        """The user's public wallet id, opening the wallet on first use."""
        for _ in range(5):
            with self.db.uow() as uow:
                found = store.wallet_of(uow.session, user_id)
                if found is not None:
                    return found.public_id
                row = store.WalletRow(user_id=user_id, public_id=domain.new_wallet_id(), created_at=self.clock.now())
                uow.session.add(row)
                try:
                    uow.commit()
                except IntegrityError:
                    continue  # the same user opened it concurrently, or the random id was taken: look again
                return row.public_id
        raise RuntimeError("could not open a wallet")

    def balances(self, user_id: UUID) -> dict[str, Any]:
        accounts = [a for a in self.ledger.accounts_of(domain.owner(user_id)) if a.code == domain.WALLET_CODE]
        return {
            "wallet_id": self.ensure_wallet(user_id),
            "balances": [views.balance(a, self.currencies) for a in sorted(accounts, key=lambda a: a.currency)],
        }

    def balance_series(self, account: AccountView, days: int = 30) -> list[tuple[datetime, int]]:
        """(time, total) points of one wallet account's balance over the last `days`, for the dashboard chart."""
        end = self.clock.now()
        start = end - timedelta(days=days)
        before = self.ledger.balance_as_of(account.id, start)
        points = [(start, before[3] - before[1])]
        points += [(e.created_at, e.credits_posted - e.debits_posted)
                   for e in self.ledger.history(account.id, start, end, limit=2000)]
        points.append((end, points[-1][1]))
        return points

    # --- money in -----------------------------------------------------------------------------------------

    def deposit(self, user: User, key: str | None, *, currency: str, amount: str, method: str,
                quote_id: str | None = None, promo_code: str | None = None) -> Response:
        """Top up through a rail; the fee (card top-ups) comes out of what arrives."""
        cur, minor = self._money(currency, amount)
        spec = rail_for(method, cur, minor, deposit=True)
        priced = self.pricing.priced(quote_id, user, "topup", cur, minor, method=spec.name, promo_code=promo_code)
        digest = idempotency.request_hash("deposit", {"c": cur.code, "a": minor, "m": spec.name})
        key = idempotency.check_key(key)

        def attempt() -> Response:
            with self.db.uow() as uow:
                claim = idempotency.claim(uow.session, user.id, key, digest, self.clock.now())
                if claim.replay:
                    return claim.replay
                tx_id = claim.resume
                if tx_id is None:
                    self.identity.lock_users_in(uow.session, [user.id])
                    tx = self._new_tx(user.id, TxType.TOPUP, cur.code, minor, method=spec.name,
                                      counterparty=spec.name, fee_rule=priced.fee_rule)
                    self._final_price_in(uow.session, tx, priced, user.id)
                    uow.session.add(tx)
                    idempotency.record(uow.session, user.id, key, resource_id=tx.id)
                    uow.commit()
                    tx_id = tx.id
            return self._ask_rail_and_settle(user.id, key, tx_id)

        return retry_on_conflict(attempt)

    # --- money between people -----------------------------------------------------------------------------

    def send(self, user: User, key: str | None, *, to: str, currency: str, amount: str, note: str = "",
             confirmation_id: str | None = None, otp: str | None = None, strong: bool = False,
             quote_id: str | None = None, promo_code: str | None = None) -> Response:
        """Pay another wallet. Above the low-value exemption the answer is `step_up_required` with a
        confirmation id; the same request again with `confirmation_id` and the code (`otp`) pays. Concurrent
        sends are group-committed: many share one transaction (each in its own savepoint, so one failing
        changes nothing of the others)."""
        cur, minor = self._money(currency, amount)
        recipient = self._recipient(to)
        if recipient.user.id == user.id:
            raise domain.CannotSendToSelf()
        priced = self.pricing.priced(quote_id, user, "p2p", cur, minor, promo_code=promo_code)
        digest = idempotency.request_hash("send", {"to": str(recipient.user.id), "c": cur.code, "a": minor,
                                                   "n": note})
        payment = Payment("send", cur, minor, str(recipient.user.id), recipient.label, priced.fee)
        confirmed = self._confirmed(user, payment, confirmation_id, otp)
        job = SendJob(user, idempotency.check_key(key), digest, recipient, cur, minor, priced.fee, note[:280],
                      priced, payment, confirmed, strong)
        try:
            return self.sends.submit(job)
        except StepUpRequired:
            raise self.stepup.challenge(user.id, payment) from None

    def _confirmed(self, user: User, payment: Payment, confirmation_id: str | None, otp: str | None) -> UUID | None:
        """The confirmation, checked against this payment and its code; None when none was given."""
        if not confirmation_id:
            return None
        try:
            cid = UUID(str(confirmation_id))
        except ValueError:
            raise ConfirmationInvalid() from None
        self.stepup.verify(user.id, cid, otp, payment)
        return cid

    def _step_up_in(self, s: Session, user: User, payment: Payment, confirmation: UUID | None, strong: bool) -> None:
        """Strongly authenticated when above the exemption (raising rolls back the payment's legs with the
        rest of its transaction or savepoint). A large payment is noted in the activity log."""
        if not strong:
            self.stepup.authorize_in(s, user.id, payment, confirmation)
        if self.stepup.is_large(payment.currency, payment.amount):
            self.identity.add_event_in(s, user.id, "large_transfer", self.clock.now(), detail={
                "kind": payment.kind, "amount": format_amount(payment.amount, payment.currency),
                "currency": payment.currency.code, "payee": payment.payee_label})

    def send_in(self, s: Session, job: SendJob) -> Response:
        """One payment inside the caller's transaction: claim the key, post the legs, write both sides."""
        claim = idempotency.claim(s, job.user.id, job.key, job.digest, self.clock.now())
        if claim.replay:
            return claim.replay
        self._check_may_pay_in(s, job.user.id, "send", job.currency, job.amount)
        cur, sender, recipient = job.currency, job.user, job.recipient
        sent = self._new_tx(sender.id, TxType.SEND, cur.code, job.amount, counterparty=recipient.label,
                            counterparty_user_id=recipient.user.id, note=job.note, fee_rule=job.priced.fee_rule)
        final = self._final_price_in(s, sent, job.priced, sender.id)
        received = self._new_tx(recipient.user.id, TxType.RECEIVE, cur.code, job.amount,
                                counterparty=sender.display_name, counterparty_user_id=sender.id, note=job.note,
                                operation_id=sent.operation_id)
        legs = self._p2p_legs(s, sender.id, recipient.user.id, cur.code, job.amount, final.fee, sent.id)
        self._post_or_raise(s, legs)  # "not enough money" comes before any request for a code
        payment = job.payment if final.fee == job.payment.fee else replace(job.payment, fee=final.fee)
        self._step_up_in(s, sender, payment, job.confirmation, job.strong)
        for tx in (sent, received):
            tx.status = TxStatus.COMPLETED
            tx.transfer_ids = [str(leg.id) for leg in legs]
            s.add(tx)
        self.settler.notify_received(s, received, recipient.user, sender, cur)
        response = (201, views.transaction(sent, self.currencies))
        idempotency.record(s, sender.id, job.key, resource_id=sent.id, response=response)
        return response

    def accounts_for(self, s: Session, job: SendJob) -> set[UUID]:
        """The ledger accounts a payment touches (opened if new), to lock them all up front."""
        fee = max(job.fee, job.priced.fee_before or 0)  # (the full fee, should an offer run out meanwhile)
        return {a for a in self._p2p_accounts(s, job.user.id, job.recipient.user.id, job.currency.code, fee)
                if a is not None}

    def _p2p_accounts(
        self, s: Session, sender: UUID, recipient: UUID, currency: str, fee: int,
    ) -> tuple[UUID, UUID, UUID | None]:
        """(sender's, recipient's, and the fees account when there is a fee), opened on first use."""
        source = self.ledger.open_account_in(s, domain.owner(sender), domain.WALLET_CODE, currency, USER_FLAGS)
        target = self.ledger.open_account_in(s, domain.owner(recipient), domain.WALLET_CODE, currency, USER_FLAGS)
        fees = self.ledger.open_account_in(s, SYSTEM, "fees", currency) if fee else None
        return source, target, fees

    def _p2p_legs(
        self, s: Session, sender: UUID, recipient: UUID, currency: str, amount: int, fee: int, tx_id: UUID,
    ) -> list[TransferRequest]:
        """sender → recipient, and sender → fees when there is a fee: one linked group."""
        source, target, fees = self._p2p_accounts(s, sender, recipient, currency, fee)
        legs = [TransferRequest(uuid.uuid5(tx_id, "p2p"), source, target, amount, currency, "p2p", linked=fee > 0)]
        if fees is not None:
            legs.append(TransferRequest(uuid.uuid5(tx_id, "fee"), source, fees, fee, currency, "fee"))
        return legs

    def _final_price_in(self, s: Session, tx: store.TransactionRow, priced: Priced, user_id: UUID) -> Priced:
        """Use the quote and redeem the promotion (`Pricing.settle_in`), and write the final numbers on `tx`."""
        final = self.pricing.settle_in(s, priced, user_id, tx.id)
        tx.fee, tx.promotion_id = final.fee, final.promotion_id
        if final.to_amount is not None:
            tx.to_amount, tx.rate = final.to_amount, str(final.rate)
        return final

    # --- shared steps -------------------------------------------------------------------------------------

    def _ask_rail_and_settle(self, user_id: UUID, key: str, tx_id: UUID) -> Response:
        """Ask the rail (outside any transaction), settle its answer, and record the response for the key."""
        with self.db.reader() as uow:
            tx = store.transaction(uow.session, user_id, tx_id)
            if tx is None:
                raise domain.TransactionNotFound()
            method, reference, currency, amount = tx.method or "", tx.reference or "", tx.currency, tx.amount
            kind, target, settled = tx.type, dict(tx.destination or {}), tx.status != TxStatus.PENDING
        provider = self.providers[method]
        if settled:  # a webhook got there first: never ask the rail again, answer what happened
            outcome = Outcome.PENDING
        elif kind == TxType.TOPUP:
            outcome = provider.deposit(reference, currency, amount)
        else:
            outcome = provider.withdraw(reference, currency, amount, target)
        with self.db.uow() as uow:
            locked = store.transaction_by_reference(uow.session, method, reference)
            assert locked is not None  # noqa: S101 - read just above; transactions are never deleted
            self.settler.settle_in(uow.session, locked, outcome)
            response = (201, views.transaction(locked, self.currencies))
            idempotency.record(uow.session, user_id, key, response=response)
            uow.commit()
        return response

    def _check_may_pay_in(self, s: Session, user_id: UUID, operation: str, cur: Currency, amount: int) -> None:
        """Money may leave: the account is not frozen and today's limits hold. The caller holds the payer's row
        lock (`lock_users_in`), so concurrent payments from one person count each other."""
        if self.identity.user_in(s, user_id).frozen:
            raise AccountFrozen()
        limits = self.settings.daily_limits.get(operation, {})
        day = self.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        kind = TxType.SEND if operation == "send" else TxType.WITHDRAWAL
        count, spent = store.daily_usage(s, user_id, kind.value, cur.code, day)
        if "count" in limits and count + 1 > int(limits["count"]):
            raise DailyLimitExceeded(f"at most {limits['count']} a day", limit="count", maximum=str(limits["count"]))
        cap = limits.get("amounts", {}).get(cur.code)
        if cap is not None and spent + amount > parse_amount(str(cap), cur):
            left = format_amount(max(parse_amount(str(cap), cur) - spent, 0), cur)
            raise DailyLimitExceeded(f"at most {cap} {cur.code} a day; {left} left today", limit="amount",
                                     maximum=str(cap), remaining=left)

    def _post_or_raise(self, s: Session, legs: list[TransferRequest]) -> None:
        results = self.ledger.post_in(s, legs).results
        if all(r == Result.OK for r in results):
            return
        if Result.EXCEEDS_CREDITS in results:
            raise domain.InsufficientFunds()
        raise RuntimeError(f"the ledger refused a wallet operation: {[r.value for r in results]}")

    def _new_tx(self, user_id: UUID, kind: TxType, currency: str, amount: int, *, fee: int = 0,
                method: str | None = None, counterparty: str = "", counterparty_user_id: UUID | None = None,
                note: str = "", destination: dict[str, str] | None = None, operation_id: UUID | None = None,
                fee_rule: str | None = None, promotion_id: UUID | None = None) -> store.TransactionRow:
        now = self.clock.now()
        tx_id = uuid7()
        return store.TransactionRow(
            id=tx_id, user_id=user_id, operation_id=operation_id or tx_id, type=kind.value,
            status=TxStatus.PENDING.value, currency=currency, amount=amount, fee=fee,
            counterparty_user_id=counterparty_user_id, counterparty=counterparty[:320], note=note[:280],
            method=method, destination=destination, reference=uuid7().hex if method else None, transfer_ids=[],
            failure_code=None, fee_rule=fee_rule, promotion_id=promotion_id, created_at=now, updated_at=now,
        )

    def _money(self, currency: object, amount: object) -> tuple[Currency, int]:
        cur = self.currencies.get_or_raise(currency)
        return cur, parse_amount(amount, cur)

    def recipient_label(self, payer: User, to: str) -> str:
        """Who a payment to `to` would reach, as shown before confirming (their name, and how they were named)."""
        found = self._recipient(to)
        if found.user.id == payer.id:
            raise domain.CannotSendToSelf()
        return f"{found.user.display_name} ({found.label})" if found.user.display_name else found.label

    def _recipient(self, to: str) -> Recipient:
        public_id = domain.parse_wallet_id(to)
        if public_id is not None:
            with self.db.reader() as uow:
                wallet = store.wallet_by_public_id(uow.session, public_id)
            if wallet is not None:
                return Recipient(self.identity.user(wallet.user_id), public_id)
            raise domain.RecipientNotFound()
        user = self.identity.find_user(to)
        if user is None:
            raise domain.RecipientNotFound()
        return Recipient(user, to.strip())


"""Money out (part of WalletService): a withdrawal holds the amount and its fee until the rail reports, and
the holds of those it never reports on run out and are marked failed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.db import Database, retry_on_conflict
from paydesk.core.money import Currency
from paydesk.identity.service import IdentityService, User
from paydesk.identity.stepup import Payment, StepUp, StepUpRequired
from paydesk.ledger.domain import Kind, TransferRequest
from paydesk.ledger.service import SYSTEM, LedgerService
from paydesk.wallet import destinations, domain, idempotency, store
from paydesk.wallet.domain import USER_FLAGS, TxType
from paydesk.wallet.pricing import Priced, Pricing
from paydesk.wallet.rails.base import RAILS, Outcome, RailSpec, UnknownMethod, rail_for
from paydesk.wallet.settlement import Settler

if TYPE_CHECKING:
    from paydesk.wallet.service import Response


class Withdrawals:
    db: Database
    clock: Clock
    identity: IdentityService
    ledger: LedgerService
    pricing: Pricing
    stepup: StepUp
    settler: Settler

    if TYPE_CHECKING:  # provided by WalletService
        def _money(self, currency: object, amount: object) -> tuple[Currency, int]: ...

        def saved_destination(self, user_id: UUID, destination_id: str) -> store.DestinationRow: ...

        def _confirmed(self, user: User, payment: Payment, confirmation_id: str | None,
                       otp: str | None) -> UUID | None: ...

        def _check_may_pay_in(self, s: Session, user_id: UUID, operation: str, cur: Currency,
                              amount: int) -> None: ...

        def _new_tx(self, user_id: UUID, kind: TxType, currency: str, amount: int, *, fee: int = 0,
                    method: str | None = None, counterparty: str = "", destination: dict[str, str] | None = None,
                    fee_rule: str | None = None) -> store.TransactionRow: ...

        def _final_price_in(self, s: Session, tx: store.TransactionRow, priced: Priced,
                            user_id: UUID) -> Priced: ...

        def _post_or_raise(self, s: Session, legs: list[TransferRequest]) -> None: ...

        def _step_up_in(self, s: Session, user: User, payment: Payment, confirmation: UUID | None,
                        strong: bool) -> None: ...

        def _ask_rail_and_settle(self, user_id: UUID, key: str, tx_id: UUID) -> Response: ...

    def withdraw(
        self, user: User, key: str | None, *, currency: str, amount: str, method: str | None = None,
        destination: dict[str, str] | None = None, destination_id: str | None = None,
        confirmation_id: str | None = None, otp: str | None = None, strong: bool = False,
        quote_id: str | None = None, promo_code: str | None = None,
    ) -> Response:
        """Pay out to a destination given in full or saved before (`destination_id`). Step-up as for `send`,
        bound to the method and the destination."""
        cur, minor = self._money(currency, amount)
        if destination_id:
            saved = self.saved_destination(user.id, destination_id)
            if method and method != saved.method:
                raise destinations.InvalidDestination(f"the saved destination is for {saved.method}",
                                                      field="method")
            method, destination = saved.method, dict(saved.destination)
        if not method:
            raise UnknownMethod(f"choose a payment method: one of {', '.join(RAILS)}")
        spec = rail_for(method, cur, minor, deposit=False)
        target = destinations.checked(spec, destination or {})
        priced = self.pricing.priced(quote_id, user, "withdraw", cur, minor, method=spec.name,
                                     region=self.pricing.region(user, spec.name, target), promo_code=promo_code)
        payee = spec.name + ":" + ",".join(f"{k}={v}" for k, v in sorted(target.items()))
        payment = Payment("withdraw", cur, minor, payee, destinations.describe(target), priced.fee)
        confirmed = self._confirmed(user, payment, confirmation_id, otp)
        digest = idempotency.request_hash("withdraw", {"c": cur.code, "a": minor, "m": spec.name, "d": target})
        key = idempotency.check_key(key)

        def attempt() -> Response:
            with self.db.uow() as uow:
                s = uow.session
                claim = idempotency.claim(s, user.id, key, digest, self.clock.now())
                if claim.replay:
                    return claim.replay
                tx_id = claim.resume
                if tx_id is None:
                    self.identity.lock_users_in(s, [user.id])
                    self._check_may_pay_in(s, user.id, "withdraw", cur, minor)
                    tx = self._new_tx(user.id, TxType.WITHDRAWAL, cur.code, minor, method=spec.name,
                                      counterparty=destinations.describe(target), destination=target,
                                      fee_rule=priced.fee_rule)
                    final = self._final_price_in(s, tx, priced, user.id)
                    holds = self._withdrawal_holds(s, user.id, spec, cur.code, minor, final.fee, tx.id)
                    self._post_or_raise(s, holds)
                    self._step_up_in(s, user, payment if final.fee == payment.fee else replace(payment, fee=final.fee),
                                     confirmed, strong)
                    tx.transfer_ids = [str(h.id) for h in holds]
                    s.add(tx)
                    idempotency.record(s, user.id, key, resource_id=tx.id)
                    uow.commit()
                    tx_id = tx.id
            return self._ask_rail_and_settle(user.id, key, tx_id)

        try:
            return retry_on_conflict(attempt)
        except StepUpRequired:
            raise self.stepup.challenge(user.id, payment) from None

    def _withdrawal_holds(
        self, s: Session, user_id: UUID, spec: RailSpec, currency: str, amount: int, fee: int, tx_id: UUID,
    ) -> list[TransferRequest]:
        """Pending transfers (amount + fee) held until the rail reports, or released when they time out."""
        source = self.ledger.open_account_in(s, domain.owner(user_id), domain.WALLET_CODE, currency, USER_FLAGS)
        rail = self.ledger.open_account_in(s, SYSTEM, domain.settlement_code(spec.name), currency)
        timeout = int(spec.withdrawal_hold.total_seconds())
        holds = [TransferRequest(uuid.uuid5(tx_id, "hold"), source, rail, amount, currency, "withdraw", Kind.PENDING,
                                 timeout_s=timeout, linked=fee > 0)]
        if fee:
            fees = self.ledger.open_account_in(s, SYSTEM, "fees", currency)
            holds.append(TransferRequest(uuid.uuid5(tx_id, "fee-hold"), source, fees, fee, currency, "fee",
                                         Kind.PENDING, timeout_s=timeout))
        return holds

    def fail_expired_withdrawals(self, limit: int = 200) -> int:
        """Mark withdrawals whose hold has run out (the rail never reported) as failed: the ledger has
        released, or now releases, the money. The job runner calls this every minute."""
        now = self.clock.now()
        failed = 0
        with self.db.uow() as uow:
            for spec in RAILS.values():  # per rail, so long holds on one rail never hide expired ones on another
                for tx in store.pending_withdrawals_before(uow.session, spec.name, now - spec.withdrawal_hold, limit):
                    self.settler.settle_in(uow.session, tx, Outcome.FAILED)
                    failed += 1
            uow.commit()
        return failed

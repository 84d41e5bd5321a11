"""Settling what a rail reports: credit a top-up, pay out or release a withdrawal's hold. Used right after
asking the rail and by the signed webhook, so both paths do exactly the same thing, once."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog
from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.errors import Conflict
from paydesk.core.money import Currencies, Currency, format_amount
from paydesk.identity.service import IdentityService, User
from paydesk.ledger.domain import AccountFlags, Kind, Result, TransferRequest
from paydesk.ledger.service import SYSTEM, LedgerService
from paydesk.notify.service import NotifyService
from paydesk.notify.templates import METHODS, NOTE_LINE, OUTCOMES
from paydesk.wallet import domain
from paydesk.wallet.domain import TxStatus, TxType
from paydesk.wallet.rails.base import Outcome
from paydesk.wallet.store import TransactionRow

log = structlog.get_logger(__name__)


class HoldExpired(Conflict):
    code = "hold_expired"
    title = "The withdrawal's hold had already expired; the money is back in the wallet"


class ConflictingOutcome(Conflict):
    code = "conflicting_outcome"
    title = "The rail reports an outcome that contradicts how the transaction was settled"


def _check_consistent(tx: TransactionRow, outcome: Outcome) -> None:
    """A settled transaction accepts a repeat of its outcome; a contradiction is an incident, said loudly."""
    succeeded = tx.status == TxStatus.COMPLETED
    if succeeded == (outcome == Outcome.SUCCEEDED):
        return
    log.error("wallet.conflicting_outcome", transaction=str(tx.id), status=tx.status, reported=outcome.value,
              failure_code=tx.failure_code)
    if tx.failure_code == "hold_expired":
        raise HoldExpired(f"withdrawal {tx.id} was reported paid after its hold expired")
    raise ConflictingOutcome(f"transaction {tx.id} is {tx.status}; the rail now reports {outcome.value}")


class Settler:
    def __init__(self, ledger: LedgerService, notify: NotifyService, identity: IdentityService,
                 currencies: Currencies, clock: Clock,
                 on_failure: Callable[[Session, uuid.UUID], None] | None = None) -> None:
        self.ledger, self.notify, self.identity = ledger, notify, identity
        self.currencies, self.clock = currencies, clock
        self.on_failure = on_failure  # what else a failed operation gives back (its promotion's use)

    def settle_in(self, s: Session, tx: TransactionRow, outcome: Outcome) -> None:
        """Apply `outcome` to a pending top-up or withdrawal (a settled one is left as it is)."""
        if outcome == Outcome.PENDING:
            return
        if tx.status != TxStatus.PENDING:
            _check_consistent(tx, outcome)
            return
        if tx.type == TxType.TOPUP:
            self._settle_topup(s, tx, outcome)
        elif tx.type == TxType.WITHDRAWAL:
            self._settle_withdrawal(s, tx, outcome)
        if tx.status == TxStatus.FAILED and self.on_failure is not None:
            self.on_failure(s, tx.id)
        tx.updated_at = self.clock.now()

    def _settle_topup(self, s: Session, tx: TransactionRow, outcome: Outcome) -> None:
        if outcome == Outcome.FAILED:
            tx.status, tx.failure_code = TxStatus.FAILED.value, "rail_failed"
            return
        owner = domain.owner(tx.user_id)
        target = self.ledger.open_account_in(s, owner, domain.WALLET_CODE, tx.currency,
                                             AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
        source = self.ledger.open_account_in(s, SYSTEM, domain.settlement_code(tx.method or ""), tx.currency)
        legs = [TransferRequest(uuid.uuid5(tx.id, "credit"), source, target, tx.amount, tx.currency, "topup",
                                linked=tx.fee > 0)]
        if tx.fee:
            fees = self.ledger.open_account_in(s, SYSTEM, "fees", tx.currency)
            legs.append(TransferRequest(uuid.uuid5(tx.id, "fee"), target, fees, tx.fee, tx.currency, "fee"))
        results = self.ledger.post_in(s, legs).results
        if not all(r.succeeded for r in results):
            raise RuntimeError(f"crediting top-up {tx.id} failed: {[r.value for r in results]}")
        tx.status, tx.transfer_ids = TxStatus.COMPLETED.value, [str(leg.id) for leg in legs]
        user = self.identity.user_in(s, tx.user_id)
        cur = self.currencies[tx.currency]
        self.notify.enqueue_in(s, to=user.email, locale=user.locale, template="topup_completed", context={
            "name": user.display_name, "amount": format_amount(tx.amount, cur), "currency": cur.code,
            "method": METHODS.get(user.locale, METHODS["en"]).get(tx.method or "", tx.method),
        })

    def _settle_withdrawal(self, s: Session, tx: TransactionRow, outcome: Outcome) -> None:
        kind = Kind.POST if outcome == Outcome.SUCCEEDED else Kind.VOID
        legs = [
            TransferRequest(uuid.uuid5(tx.id, f"{kind.value}:{hold}"), None, None, None, None,
                            "withdraw" if i == 0 else "fee", kind, pending_id=uuid.UUID(hold),
                            linked=i < len(tx.transfer_ids) - 1)
            for i, hold in enumerate(tx.transfer_ids)
        ]
        results = self.ledger.post_in(s, legs).results
        if Result.PENDING_TRANSFER_EXPIRED in results:
            tx.status, tx.failure_code = TxStatus.FAILED.value, "hold_expired"
            if outcome == Outcome.SUCCEEDED:  # the provider paid out after we released the money: say so loudly
                log.error("wallet.paid_after_hold_expired", transaction=str(tx.id))
                raise HoldExpired(f"withdrawal {tx.id} was reported paid after its hold expired")
            return
        if not all(r.succeeded for r in results):
            raise RuntimeError(f"settling withdrawal {tx.id} failed: {[r.value for r in results]}")
        tx.transfer_ids = [*tx.transfer_ids, *(str(leg.id) for leg in legs)]
        if outcome == Outcome.SUCCEEDED:
            tx.status = TxStatus.COMPLETED.value
        else:
            tx.status, tx.failure_code = TxStatus.FAILED.value, "rail_failed"
        user = self.identity.user_in(s, tx.user_id)
        cur = self.currencies[tx.currency]
        self.notify.enqueue_in(s, to=user.email, locale=user.locale, template="withdrawal_settled", context={
            "name": user.display_name, "amount": format_amount(tx.amount, cur), "currency": cur.code,
            "destination": tx.counterparty, "outcome": OUTCOMES.get(user.locale, OUTCOMES["en"])[outcome.value],
        })

    def notify_received(self, s: Session, tx: TransactionRow, recipient: User, sender: User, cur: Currency) -> None:
        note_line = NOTE_LINE.get(recipient.locale, NOTE_LINE["en"]).format(note=tx.note) if tx.note else ""
        self.notify.enqueue_in(s, to=recipient.email, locale=recipient.locale, template="payment_received",
                               context={"name": recipient.display_name, "sender": sender.display_name,
                                        "amount": format_amount(tx.amount, cur), "currency": cur.code,
                                        "note_line": note_line})

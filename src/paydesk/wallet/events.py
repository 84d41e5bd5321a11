"""Provider webhooks: `POST /api/v1/rails/{rail}/events`. Each event is verified, applied once, and only
to the transaction it names; anything else is refused and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from paydesk.core import signing
from paydesk.core.clock import Clock
from paydesk.core.db import Database, retry_on_conflict
from paydesk.core.errors import DomainError, InvalidRequest
from paydesk.core.money import Currencies
from paydesk.core.text import INVALID_TEXT, holds_lone_surrogate
from paydesk.wallet import store, views
from paydesk.wallet.domain import TxType
from paydesk.wallet.rails.base import RAILS, Outcome
from paydesk.wallet.settlement import Settler

EVENT_TYPES = {
    "deposit.succeeded": (TxType.TOPUP, Outcome.SUCCEEDED), "deposit.failed": (TxType.TOPUP, Outcome.FAILED),
    "withdrawal.succeeded": (TxType.WITHDRAWAL, Outcome.SUCCEEDED),
    "withdrawal.failed": (TxType.WITHDRAWAL, Outcome.FAILED),
}


class UnknownRail(DomainError):
    code = "unknown_rail"
    status = 404
    title = "There is no such payment rail"


class UnknownReference(DomainError):
    code = "unknown_reference"
    status = 404
    title = "No transaction on this rail has this reference"


class EventMismatch(DomainError):
    code = "event_mismatch"
    status = 422
    title = "The event's type does not fit the transaction it names"


class RailEvents:
    def __init__(self, db: Database, clock: Clock, secrets: dict[str, str], settler: Settler,
                 currencies: Currencies) -> None:
        self.db, self.clock, self.secrets, self.settler, self.currencies = db, clock, secrets, settler, currencies

    def apply(self, rail: str, body: bytes, signature: str | None) -> dict[str, Any]:
        if rail not in RAILS:
            raise UnknownRail()
        signing.verify(self.secrets[rail], body, signature, self.clock.now())
        event_id, event_type, reference = _parse(body)
        kind, outcome = EVENT_TYPES[event_type]
        # The same event delivered twice at once: the retry sees it as applied.
        return retry_on_conflict(lambda: self._apply(rail, event_id, event_type, reference, kind, outcome))

    def _apply(self, rail: str, event_id: str, event_type: str, reference: str, kind: TxType,
               outcome: Outcome) -> dict[str, Any]:
        with self.db.uow() as uow:
            s = uow.session
            if store.rail_event_seen(s, rail, event_id):
                return {"status": "duplicate", "event_id": event_id}
            tx = store.transaction_by_reference(s, rail, reference)
            if tx is None:
                raise UnknownReference()
            if tx.type != kind:
                raise EventMismatch(f"{event_type} can't settle a {tx.type}")
            s.add(store.RailEventRow(rail=rail, event_id=event_id, reference=reference, type=event_type,
                                     received_at=self.clock.now()))
            before = tx.status
            self.settler.settle_in(s, tx, outcome)
            s.flush()
            uow.commit()
            return {"status": "applied" if tx.status != before else "no_change", "event_id": event_id,
                    "transaction": views.transaction(tx, self.currencies)}


def _parse(body: bytes) -> tuple[str, str, str]:
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested past the parser's depth
        raise InvalidRequest("the event body is not JSON") from exc
    if not isinstance(event, dict):
        raise InvalidRequest("the event must be a JSON object")
    if holds_lone_surrogate(event):  # (a rail may send it as text/plain, which web/unicode.py doesn't read)
        raise InvalidRequest(INVALID_TEXT)
    event_id, event_type, reference = event.get("id"), event.get("type"), event.get("reference")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 128):
        raise InvalidRequest("the event needs an `id` (1 to 128 characters)")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise InvalidRequest(f"`type` must be one of {', '.join(EVENT_TYPES)}")
    if not (isinstance(reference, str) and 0 < len(reference) <= 64):
        raise InvalidRequest("the event needs the transaction's `reference`")
    return event_id, str(event_type), reference

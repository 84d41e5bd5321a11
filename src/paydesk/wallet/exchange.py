"""Exchange between one's own currencies, and quotes for any operation. Part of `WalletService`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.db import Database, retry_on_conflict
from paydesk.core.errors import InvalidRequest
from paydesk.core.money import Currencies, Currency
from paydesk.fx.service import FX_POOL, SameCurrency
from paydesk.identity.service import IdentityService, User
from paydesk.ledger.domain import TransferRequest
from paydesk.ledger.service import SYSTEM, LedgerService
from paydesk.wallet import destinations, domain, idempotency, store, views
from paydesk.wallet.domain import USER_FLAGS, TxStatus, TxType
from paydesk.wallet.pricing import Priced, Pricing
from paydesk.wallet.rails.base import rail_for

if TYPE_CHECKING:
    from paydesk.wallet.service import Response


class Exchanges:
    db: Database
    clock: Clock
    currencies: Currencies
    identity: IdentityService
    ledger: LedgerService
    pricing: Pricing

    if TYPE_CHECKING:  # provided by WalletService
        def _money(self, currency: object, amount: object) -> tuple[Currency, int]: ...

        def _new_tx(self, user_id: UUID, kind: TxType, currency: str, amount: int, *, fee: int = 0,
                    counterparty: str = "", fee_rule: str | None = None) -> store.TransactionRow: ...

        def _final_price_in(self, s: Session, tx: store.TransactionRow, priced: Priced,
                            user_id: UUID) -> Priced: ...

        def _post_or_raise(self, s: Session, legs: list[TransferRequest]) -> None: ...

        def saved_destination(self, user_id: UUID, destination_id: str) -> store.DestinationRow: ...

    def exchange(self, user: User, key: str | None, *, from_currency: str, to_currency: str, amount: str,
                 quote_id: str | None = None, promo_code: str | None = None) -> Response:
        """Convert `amount` of one currency into another at the quoted (or current) rate: the user's source
        account pays the fx pool (and the fee to `fees`), the fx pool pays the user's target account — one
        linked group, so all of it happens or none."""
        cur, minor = self._money(from_currency, amount)
        target = self.currencies.get_or_raise(to_currency)
        if target.code == cur.code:
            raise SameCurrency()
        priced = self.pricing.priced(quote_id, user, "exchange", cur, minor, to_currency=target,
                                     promo_code=promo_code)
        assert priced.to_amount is not None  # noqa: S101 - an exchange is always priced with its target
        digest = idempotency.request_hash("exchange", {"c": cur.code, "a": minor, "t": target.code})
        key = idempotency.check_key(key)

        def attempt() -> Response:
            with self.db.uow() as uow:
                s = uow.session
                claim = idempotency.claim(s, user.id, key, digest, self.clock.now())
                if claim.replay:
                    return claim.replay
                self.identity.lock_users_in(s, [user.id])
                tx = self._new_tx(user.id, TxType.EXCHANGE, cur.code, minor,
                                  counterparty=f"{cur.code} → {target.code}", fee_rule=priced.fee_rule)
                tx.to_currency = target.code
                final = self._final_price_in(s, tx, priced, user.id)
                legs = self._exchange_legs(s, user.id, final, tx.id)
                self._post_or_raise(s, legs)
                tx.status, tx.transfer_ids = TxStatus.COMPLETED.value, [str(leg.id) for leg in legs]
                s.add(tx)
                response = (201, views.transaction(tx, self.currencies))
                idempotency.record(s, user.id, key, resource_id=tx.id, response=response)
                uow.commit()
                return response

        return retry_on_conflict(attempt)

    def _exchange_legs(self, s: Session, user_id: UUID, priced: Priced, tx_id: UUID) -> list[TransferRequest]:
        assert priced.to_currency is not None and priced.to_amount is not None  # noqa: S101
        src, dst = priced.currency.code, priced.to_currency.code
        owner = domain.owner(user_id)
        source = self.ledger.open_account_in(s, owner, domain.WALLET_CODE, src, USER_FLAGS)
        target = self.ledger.open_account_in(s, owner, domain.WALLET_CODE, dst, USER_FLAGS)
        pool_in = self.ledger.open_account_in(s, SYSTEM, FX_POOL, src)
        pool_out = self.ledger.open_account_in(s, SYSTEM, FX_POOL, dst)
        legs = [TransferRequest(uuid.uuid5(tx_id, "fx-in"), source, pool_in, priced.amount - priced.fee, src,
                                "exchange", linked=True)]
        if priced.fee:
            fees = self.ledger.open_account_in(s, SYSTEM, "fees", src)
            legs.append(TransferRequest(uuid.uuid5(tx_id, "fee"), source, fees, priced.fee, src, "fee", linked=True))
        legs.append(TransferRequest(uuid.uuid5(tx_id, "fx-out"), pool_out, target, priced.to_amount, dst, "exchange"))
        return legs

    def quote(self, user: User, *, operation: str, currency: str, amount: str, method: str | None = None,
              to_currency: str | None = None, destination: dict[str, str] | None = None,
              destination_id: str | None = None, promo_code: str | None = None) -> dict[str, Any]:
        """`POST /quotes`: the fee (and rate) an operation will cost, promised for a while."""
        cur, minor = self._money(currency, amount)
        if operation == "withdraw" and destination_id:
            saved = self.saved_destination(user.id, destination_id)
            method, destination = saved.method, dict(saved.destination)
        region, target = None, None
        if operation == "exchange":
            target = self.currencies.get_or_raise(to_currency)
            if target.code == cur.code:
                raise SameCurrency()
        elif operation in ("topup", "withdraw"):
            spec = rail_for(method or "", cur, minor, deposit=operation == "topup")
            method = spec.name
            if operation == "withdraw" and destination:
                region = self.pricing.region(user, method, destinations.checked(spec, destination))
            elif operation == "withdraw" and method in ("bank_domestic", "bank_international"):
                region = "domestic" if method == "bank_domestic" else "international"
        elif operation != "p2p":
            raise InvalidRequest("`operation` is one of p2p, topup, withdraw, exchange")
        else:
            method = None
        priced = self.pricing.price(operation, cur, minor, method=method, region=region, to_currency=target,
                                    user=user, promo_code=promo_code)
        return self.pricing.quote(user, priced)

"""What an operation costs, before and when it happens: fees from the schedule in force, the exchange rate
for conversions, and quotes that promise both for a while.

`price` is the single place an operation's numbers are computed: a quote stores its result, and an operation
given the quote charges exactly what it stored (after checking it was asked for the same thing and hasn't
expired); an operation without a quote calls `price` itself, so the two can't differ."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import phonenumbers
from sqlalchemy.orm import Session

from paydesk.config import Settings
from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import Conflict, DomainError, InvalidAmount
from paydesk.core.ids import uuid7
from paydesk.core.money import INT64_MAX, Currency, format_amount
from paydesk.fees import store as fee_store
from paydesk.fees.domain import AmountBelowFee
from paydesk.fees.promotions import Discount, Promotions, PromotionUsedUp
from paydesk.fees.service import FeeService
from paydesk.fx.service import FxService
from paydesk.identity.service import User

EXCHANGE_QUOTE_LIFETIME = timedelta(seconds=45)
FEE_QUOTE_LIFETIME = timedelta(minutes=10)
BANK_RAILS = ("bank_domestic", "bank_international")


class QuoteExpired(Conflict):
    code = "quote_expired"
    title = "The quote has expired (or was already used); ask for a new one"


class QuoteMismatch(Conflict):
    code = "quote_mismatch"
    title = "The quote was for a different operation, currency, amount or method"


class QuoteNotFound(DomainError):
    code = "quote_not_found"
    status = 404
    title = "No such quote"


@dataclass(frozen=True, slots=True)
class Priced:
    """An operation's numbers, all in minor units: `debit` leaves the user's `currency` account, `credit`
    arrives (in `to_currency` for an exchange)."""

    operation: str
    currency: Currency
    amount: int
    fee: int
    fee_rule: str | None
    region: str | None = None
    method: str | None = None
    to_currency: Currency | None = None
    to_amount: int | None = None
    rate: Decimal | None = None
    quote_id: UUID | None = None
    promotion: Discount | None = None
    fee_before: int | None = None  # when a promotion lowered the fee
    promo_code: str | None = None  # the code the person gave, if any

    @property
    def promotion_id(self) -> UUID | None:
        return self.promotion.promotion_id if self.promotion else None

    def binding(self) -> str:
        text = "\n".join(str(x) for x in (self.operation, self.currency.code, self.amount, self.method, self.region,
                                          self.to_currency.code if self.to_currency else ""))
        return hashlib.sha256(text.encode()).hexdigest()

    def view(self) -> dict[str, Any]:
        cur = self.currency
        debit = self.amount + self.fee if self.operation in ("p2p", "withdraw") else self.amount
        credit: int = self.amount - self.fee if self.operation == "topup" else self.amount
        out: dict[str, Any] = {
            "operation": self.operation, "currency": cur.code, "amount": format_amount(self.amount, cur),
            "fee": format_amount(self.fee, cur), "fee_rule": self.fee_rule, "region": self.region,
            "method": self.method, "debit": format_amount(debit, cur),
        }
        if self.promotion is not None and self.fee_before is not None:
            out["fee_before_promotion"] = format_amount(self.fee_before, cur)
            out["promotion"] = {"id": str(self.promotion.promotion_id), "label": self.promotion.label,
                                "discount": format_amount(self.promotion.amount, cur)}
        if self.to_currency is not None and self.to_amount is not None:
            out.update({"to_currency": self.to_currency.code, "rate": str(self.rate),
                        "credit": format_amount(self.to_amount, self.to_currency)})
        else:
            out["credit"] = format_amount(credit, cur)
        return out


class Pricing:
    def __init__(self, db: Database, clock: Clock, settings: Settings, fees: FeeService, fx: FxService,
                 promotions: Promotions) -> None:
        self.db, self.clock, self.settings, self.fees, self.fx = db, clock, settings, fees, fx
        self.promotions = promotions

    def region(self, user: User, method: str | None, destination: dict[str, str] | None) -> str | None:
        """`domestic` when a bank account is in the user's country (from their phone number, else the house's
        home country), `international` when not; None where it doesn't apply (cards, crypto)."""
        if method not in BANK_RAILS or not destination or "iban" not in destination:
            return None
        if method == "bank_international":
            return "international"
        home = self.settings.home_country
        if user.phone:
            home = phonenumbers.region_code_for_number(phonenumbers.parse(user.phone)) or home
        return "domestic" if destination["iban"][:2].upper() == home.upper() else "international"

    def price(self, operation: str, currency: Currency, amount: int, *, method: str | None = None,
              region: str | None = None, to_currency: Currency | None = None, user: User | None = None,
              promo_code: str | None = None) -> Priced:
        region = "domestic" if operation == "p2p" else region
        charge = self.fees.charge(operation, currency, amount, method, region)
        discount, full = None, charge.fee
        if user is not None:
            discount = self.promotions.best(user.id, user.created_at, operation, currency, method, charge.fee,
                                            promo_code)
        if discount is not None:
            charge = replace(charge, fee=full - discount.amount)
        if operation == "topup" and charge.fee >= amount:
            raise AmountBelowFee(f"the fee is {format_amount(charge.fee, currency)} {currency.code}",
                                 fee=format_amount(charge.fee, currency))
        promo: dict[str, Any] = {"promotion": discount, "fee_before": full} if discount is not None else {}
        promo["promo_code"] = promo_code
        if operation != "exchange" or to_currency is None:
            return Priced(operation, currency, amount, charge.fee, charge.rule, region, method, **promo)
        if charge.fee >= amount:
            raise AmountBelowFee(f"the fee is {format_amount(charge.fee, currency)} {currency.code}")
        price = self.fx.price(currency.code, to_currency.code)
        to_amount = price.convert(amount - charge.fee, currency, to_currency)
        if to_amount > INT64_MAX:
            raise InvalidAmount(f"{format_amount(amount, currency)} {currency.code} buys more {to_currency.code} "
                                "than Paydesk can hold", reason="too_large")
        if to_amount <= 0:
            raise AmountBelowFee(f"{format_amount(amount, currency)} {currency.code} buys less than the smallest "
                                 f"unit of {to_currency.code}")
        return Priced(operation, currency, amount, charge.fee, charge.rule, region, method, to_currency, to_amount,
                      price.rate, **promo)

    def priced(self, quote_id: str | None, user: User, operation: str, currency: Currency, amount: int, *,
               method: str | None = None, region: str | None = None, to_currency: Currency | None = None,
               promo_code: str | None = None) -> Priced:
        """The numbers for an operation: the quote's when one is given (it must be for this very operation),
        else computed now."""
        if quote_id:
            wanted = Priced(operation, currency, amount, 0, None, "domestic" if operation == "p2p" else region,
                            method, to_currency)
            return self.from_quote(user, quote_id, wanted)
        return self.price(operation, currency, amount, method=method, region=region, to_currency=to_currency,
                          user=user, promo_code=promo_code)

    def quote(self, user: User, priced: Priced) -> dict[str, Any]:
        now = self.clock.now()
        lifetime = EXCHANGE_QUOTE_LIFETIME if priced.operation == "exchange" else FEE_QUOTE_LIFETIME
        row = fee_store.QuoteRow(
            id=uuid7(), user_id=user.id, operation=priced.operation, binding=priced.binding(),
            currency=priced.currency.code, amount=priced.amount, fee=priced.fee, fee_rule=priced.fee_rule,
            to_currency=priced.to_currency.code if priced.to_currency else None, to_amount=priced.to_amount,
            rate=str(priced.rate) if priced.rate is not None else None, created_at=now, expires_at=now + lifetime,
            used_at=None, promotion_id=priced.promotion.promotion_id if priced.promotion else None,
            fee_before=priced.fee_before,
        )
        with self.db.uow() as uow:
            uow.session.add(row)
            uow.commit()
        return {"quote_id": str(row.id), "expires_at": row.expires_at.isoformat(), **priced.view()}

    def from_quote(self, user: User, quote_id: str, wanted: Priced) -> Priced:
        """The quoted numbers for an operation that must match what was quoted (checked, not yet used)."""
        try:
            qid = UUID(str(quote_id))
        except ValueError:
            raise QuoteNotFound() from None
        with self.db.reader() as uow:
            row = fee_store.quote(uow.session, user.id, qid)
        if row is None:
            raise QuoteNotFound()
        if row.used_at is not None or row.expires_at <= self.clock.now():
            raise QuoteExpired()
        if row.binding != wanted.binding():
            raise QuoteMismatch()
        rate = Decimal(row.rate) if row.rate is not None else None
        promotion = None
        if row.promotion_id is not None and row.fee_before is not None:
            promotion = Discount(row.promotion_id, row.fee_before - row.fee, {})
        return Priced(wanted.operation, wanted.currency, row.amount, row.fee, row.fee_rule, wanted.region,
                      wanted.method, wanted.to_currency, row.to_amount, rate, qid, promotion, row.fee_before)

    def settle_in(self, s: Session, priced: Priced, user_id: UUID, transaction_id: UUID) -> Priced:
        """In the operation's transaction, holding the person's row lock, before anything is posted: use the
        quote (once) and redeem the promotion (within its limits). Returns the numbers to charge. A quote or a
        code that can no longer be honoured fails the operation; an automatic offer that ran out meanwhile
        just doesn't apply (the person asked for neither)."""
        if priced.quote_id is not None and not fee_store.use_quote(s, priced.quote_id, self.clock.now()):
            raise QuoteExpired()
        if priced.promotion is None:
            return priced
        why = self.promotions.redeem_in(s, priced.promotion.promotion_id, user_id, priced.operation,
                                        priced.currency.code, priced.promotion.amount, transaction_id)
        if why is None:
            return priced
        if priced.quote_id is not None or priced.promo_code:
            raise PromotionUsedUp(why)
        assert priced.fee_before is not None  # noqa: S101 - set with every promotion
        full = replace(priced, fee=priced.fee_before, promotion=None, fee_before=None)
        if full.to_currency is not None and full.rate is not None:  # the fee comes out of what is exchanged
            if full.fee >= full.amount:
                raise AmountBelowFee()
            price = self.fx.price(full.currency.code, full.to_currency.code)
            full = replace(full, to_amount=price.convert(full.amount - full.fee, full.currency, full.to_currency),
                           rate=price.rate)
        return full

    def release_in(self, s: Session, transaction_id: UUID) -> None:
        """A failed operation gives its promotion's use back."""
        self.promotions.release_in(s, transaction_id)

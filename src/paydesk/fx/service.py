"""Exchange rates: record them from a source, read the latest, and price a conversion with the house spread.

Every currency is stored as its price against the euro (the ECB's form); a pair's mid rate is the ratio of
the two. What a customer gets is the mid rate less the pair's spread (`PAYDESK_FX_SPREADS`, percent). A rate
older than its kind's limit (`PAYDESK_FX_MAX_AGE_HOURS`) is refused as `rate_stale`, never used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from paydesk.config import Settings
from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import DomainError
from paydesk.core.ids import uuid7
from paydesk.core.money import Currencies, Currency
from paydesk.fx import store
from paydesk.fx.sources import MAX_RATE, MIN_RATE, InvalidRates, RateSet
from paydesk.ledger.service import SYSTEM, LedgerService

FX_POOL = "fx_pool"
RATE_DIGITS = Decimal("1e-12")


class RateUnavailable(DomainError):
    code = "rate_unavailable"
    status = 422
    title = "There is no exchange rate for this pair"


class RateStale(DomainError):
    code = "rate_stale"
    status = 503
    title = "The exchange rate is too old to use; try again later"


class SameCurrency(DomainError):
    code = "same_currency"
    status = 422
    title = "Choose two different currencies"


@dataclass(frozen=True, slots=True)
class Price:
    """Converting `source` into `target`: `mid` (target per source), `rate` = mid less the spread."""

    source: str
    target: str
    mid: Decimal
    rate: Decimal
    spread_percent: Decimal
    as_of: datetime

    def convert(self, amount: int, source: Currency, target: Currency) -> int:
        """`amount` minor units of the source in minor units of the target, rounded down: the house keeps
        less than one minor unit, never the customer."""
        exact = Decimal(amount).scaleb(-source.scale) * self.rate
        return int(exact.scaleb(target.scale).to_integral_value(rounding="ROUND_FLOOR"))


class FxService:
    def __init__(self, db: Database, clock: Clock, settings: Settings, ledger: LedgerService) -> None:
        self.db, self.clock, self.settings, self.ledger = db, clock, settings, ledger
        self.currencies: Currencies = settings.currencies

    def record(self, rates: RateSet) -> dict[str, list[str]]:
        """Store a set of rates; currencies Paydesk doesn't carry are skipped (and named)."""
        now = self.clock.now()
        if rates.as_of > now + timedelta(hours=1):
            raise InvalidRates(f"the rates are dated {rates.as_of.isoformat()}, in the future")
        kept, skipped = [], []
        with self.db.uow() as uow:
            for code, per_eur in sorted(rates.per_eur.items()):
                if code == "EUR":  # the unit itself: always 1, never stored (so it can't go stale or drift)
                    continue
                if code not in self.currencies:
                    skipped.append(code)
                    continue
                uow.session.add(store.RateRow(id=uuid7(), currency=code, per_eur=str(per_eur), source=rates.source,
                                              as_of=rates.as_of, created_at=now))
                kept.append(code)
            uow.commit()
        return {"recorded": kept, "skipped": skipped}

    def latest(self) -> dict[str, store.RateRow]:
        with self.db.reader() as uow:
            return {row.currency: row for row in store.latest(uow.session)}

    def price(self, source: str, target: str, rows: dict[str, store.RateRow] | None = None) -> Price:
        if source == target:
            raise SameCurrency()
        rows = self.latest() if rows is None else rows
        per_eur: dict[str, Decimal] = {}
        as_of = self.clock.now()
        for code in (source, target):
            if code == "EUR":
                per_eur[code] = Decimal(1)
                continue
            row = rows.get(code)
            if row is None:
                raise RateUnavailable(f"no rate for {code} yet", currency=code)
            if self.is_stale(row):
                raise RateStale(f"the {code} rate is from {row.as_of.isoformat()}", currency=code)
            per_eur[code] = Decimal(row.per_eur)
            if not MIN_RATE <= per_eur[code] <= MAX_RATE:  # recorded before rates were bounded (fx/sources.py)
                raise RateUnavailable(f"the {code} rate on record is out of range", currency=code)
            as_of = min(as_of, row.as_of)
        exact = per_eur[target] / per_eur[source]
        spread = self.spread(source, target)
        rate = (exact * (1 - spread / 100)).quantize(RATE_DIGITS, rounding="ROUND_FLOOR")  # never above
        return Price(source, target, exact.quantize(RATE_DIGITS), rate, spread, as_of)

    def is_stale(self, row: store.RateRow) -> bool:
        kind = self.currencies[row.currency].kind
        hours = self.settings.fx_max_age_hours.get(kind, self.settings.fx_max_age_hours.get("fiat", 96))
        return self.clock.now() - row.as_of > timedelta(hours=float(hours))

    def spread(self, source: str, target: str) -> Decimal:
        spreads = self.settings.fx_spreads
        for key in (f"{source}/{target}", f"{target}/{source}"):
            if key in spreads:
                return Decimal(str(spreads[key]))
        crypto = any(self.currencies[c].kind == "crypto" for c in (source, target))
        return Decimal(str(spreads.get("crypto" if crypto else "default", "0.5")))

    def value_in(self, amounts: dict[str, int], target: str) -> tuple[int, list[str]]:
        """What these balances (minor units per currency) are worth in `target` at mid-market rates, rounded
        down; and the currencies left out for want of a fresh rate."""
        rows = self.latest()
        goal = self.currencies[target]
        total, missing = 0, []
        for code, minor in sorted(amounts.items()):
            if code == target:
                total += minor
                continue
            try:
                price = self.price(code, target, rows)
            except (RateUnavailable, RateStale):
                missing.append(code)
                continue
            total += Price(code, target, price.mid, price.mid, Decimal(0), price.as_of).convert(
                minor, self.currencies[code], goal)
        return total, missing

    def public_rates(self, base: str) -> dict[str, Any]:
        """What one unit of `base` buys in every other currency: mid, the rate a customer gets, and ages."""
        self.currencies.get_or_raise(base)
        rows = self.latest()
        items = []
        for code in self.currencies:
            if code == base:
                continue
            try:
                price = self.price(base, code, rows)
            except RateUnavailable:
                continue
            except RateStale:
                items.append({"currency": code, "stale": True})
                continue
            items.append({"currency": code, "mid": str(price.mid.normalize()), "rate": str(price.rate.normalize()),
                          "spread_percent": str(price.spread_percent), "as_of": price.as_of.isoformat(),
                          "stale": False})
        return {"base": base, "items": items}

    def positions(self) -> list[dict[str, Any]]:
        """The house's currency positions: what the fx pool has taken in (+) or paid out (−) per currency."""
        out = []
        for account in self.ledger.accounts_of(SYSTEM):
            if account.code == FX_POOL:
                cur = self.currencies[account.currency]
                out.append({"currency": cur.code, "position_minor": account.posted_balance, "scale": cur.scale})
        return sorted(out, key=lambda p: str(p["currency"]))

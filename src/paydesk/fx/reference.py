"""EUR equivalents of amounts, for the rules that PSD2 states in euros (the low-value exemption from
strong authentication, the "large transfer" alert).

The rates are reference rates from settings (`PAYDESK_REFERENCE_RATES`: units of each currency per euro),
deliberately round and on the low side so that an amount's EUR equivalent is, if anything, overstated:
a rule stated in euros then errs towards asking for the second factor. A currency without a rate has no
EUR equivalent, and callers treat that as "above every threshold"."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from paydesk.core.money import Currency

# Units per 1 EUR. Edit with PAYDESK_REFERENCE_RATES; the live exchange rates replace them once set up.
DEFAULT_PER_EUR: dict[str, str] = {
    "EUR": "1", "USD": "1.05", "GBP": "0.82", "CNY": "7.5", "HKD": "8.2", "JPY": "155",
    "BTC": "0.00001", "ETH": "0.0003", "USDT": "1.05",
}


class ReferenceRates:
    def __init__(self, per_eur: Mapping[str, str]) -> None:
        self._per_eur: dict[str, Decimal] = {}
        for code, text in per_eur.items():
            try:
                rate = Decimal(str(text))
            except InvalidOperation as exc:
                raise ValueError(f"reference rate for {code} is not a number: {text!r}") from exc
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"reference rate for {code} must be positive: {text!r}")
            self._per_eur[code.upper()] = rate

    def eur_cents(self, currency: Currency, minor: int) -> int | None:
        """The amount in euro cents, rounded up; None when the currency has no reference rate."""
        rate = self._per_eur.get(currency.code)
        if rate is None:
            return None
        major = Decimal(minor).scaleb(-currency.scale)
        return int((major / rate * 100).to_integral_value(rounding=ROUND_CEILING))

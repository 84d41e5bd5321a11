"""Currencies and money: integers in minor units inside, exact decimal strings at the edges.

`parse_amount("12.50", USD)` gives 1250; `format_amount(1250, USD)` gives "12.50". Parsing is strict:
an amount is a plain, non-negative decimal written with ASCII digits and at most the currency's number
of decimals. Signs, exponents, NaN, infinities, thousands separators, surrounding or embedded white space,
non-ASCII digits and absurd lengths are refused with `InvalidAmount` and a `reason`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from babel import Locale
from babel.numbers import format_currency, format_decimal

from paydesk.core.errors import InvalidAmount, UnknownCurrency

INT64_MAX = 2**63 - 1
MAX_AMOUNT_CHARS = 40  # longer than any real amount of any listed currency; refused before any work

CurrencyKind = Literal["fiat", "crypto"]


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    scale: int  # digits after the decimal point: the minor unit is 10**-scale
    kind: CurrencyKind = "fiat"

    @property
    def minor_per_major(self) -> int:
        return int(10**self.scale)


# The DESIGN.md table. ETH is kept in gwei (9 digits), USDT in micro-units (6 digits).
DEFAULT_CURRENCIES: tuple[Currency, ...] = (
    Currency("USD", 2),
    Currency("EUR", 2),
    Currency("GBP", 2),
    Currency("CNY", 2),
    Currency("HKD", 2),
    Currency("JPY", 0),
    Currency("BTC", 8, "crypto"),
    Currency("ETH", 9, "crypto"),
    Currency("USDT", 6, "crypto"),
)

_CODE = re.compile(r"[A-Z][A-Z0-9]{2,9}", re.ASCII)


class Currencies(Mapping[str, Currency]):
    """The currencies this installation lists, looked up by code."""

    def __init__(self, currencies: Iterable[Currency] = DEFAULT_CURRENCIES) -> None:
        self._by_code: dict[str, Currency] = {}
        for currency in currencies:
            if not _CODE.fullmatch(currency.code):
                raise ValueError(f"bad currency code {currency.code!r}")
            if not 0 <= currency.scale <= 18:
                raise ValueError(f"bad scale {currency.scale} for {currency.code}")
            if currency.code in self._by_code:
                raise ValueError(f"currency {currency.code} listed twice")
            self._by_code[currency.code] = currency

    @classmethod
    def from_spec(cls, spec: str) -> Currencies:
        """Parse `"USD:2,EUR:2,BTC:8:crypto"` (code:scale[:kind]) as used by PAYDESK_CURRENCIES."""
        items: list[Currency] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            fields = part.split(":")
            if len(fields) not in (2, 3) or not fields[1].isdigit():
                raise ValueError(f"bad currency entry {part!r}; expected CODE:SCALE[:fiat|crypto]")
            kind = fields[2] if len(fields) == 3 else "fiat"
            if kind not in ("fiat", "crypto"):
                raise ValueError(f"bad currency kind {kind!r}")
            items.append(Currency(fields[0].upper(), int(fields[1]), kind))  # type: ignore[arg-type]
        return cls(items)

    def __getitem__(self, code: str) -> Currency:
        return self._by_code[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)

    def get_or_raise(self, code: object) -> Currency:
        if isinstance(code, str) and code in self._by_code:
            return self._by_code[code]
        raise UnknownCurrency(
            f"{code!r} is not a currency Paydesk lists; use one of {', '.join(self._by_code)}",
            currency=str(code)[:16],
        )


_PLAIN_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?", re.ASCII)


def parse_amount(text: object, currency: Currency, *, allow_zero: bool = False) -> int:
    """The exact number of minor units `text` denotes in `currency`, or `InvalidAmount`."""
    reason, detail = _diagnose(text, currency)
    if reason is None:
        assert isinstance(text, str)  # noqa: S101 - guaranteed by _diagnose
        match = _PLAIN_DECIMAL.fullmatch(text)
        assert match is not None  # noqa: S101
        whole, fraction = match.group(1), match.group(2) or ""
        minor = int(whole) * currency.minor_per_major + int(fraction.ljust(currency.scale, "0") or "0")
        if minor > INT64_MAX:
            reason, detail = "too_large", "the amount is larger than Paydesk can hold"
        elif minor == 0 and not allow_zero:
            reason, detail = "zero", "the amount must be greater than zero"
        else:
            return minor
    raise InvalidAmount(detail, reason=reason, currency=currency.code)


def _diagnose(text: object, currency: Currency) -> tuple[str | None, str]:
    """Why `text` is not a valid amount string, as (reason, message); (None, "") if its form is fine."""
    if not isinstance(text, str):
        return "not_a_string", "write the amount as a decimal string such as \"12.50\", not a number"
    if not text:
        return "empty", "the amount is empty"
    if len(text) > MAX_AMOUNT_CHARS:
        return "too_long", f"the amount is longer than {MAX_AMOUNT_CHARS} characters"
    if text != text.strip() or any(ch.isspace() for ch in text):
        return "whitespace", "the amount must not contain spaces or other white space"
    if text[0] in "+-":
        return "sign", "write the amount without a sign; the operation says which way money moves"
    if not text.isascii():
        return "not_ascii", "write the amount with the digits 0-9 and a point"
    if any(ch in text for ch in "eE") and not text.lower().lstrip("+-").startswith(("inf", "nan")):
        return "exponent", "write the amount out in full, without an exponent"
    lowered = text.lower()
    if lowered in {"nan", "snan", "inf", "infinity"}:
        return "not_a_number", "the amount must be a number"
    if "," in text or "_" in text:
        return "separator", "write the amount without thousands separators; use a point for decimals"
    match = _PLAIN_DECIMAL.fullmatch(text)
    if match is None:
        if re.fullmatch(r"0[0-9]+(\.[0-9]+)?", text, re.ASCII):
            return "leading_zero", "the amount must not start with a zero"
        return "malformed", "the amount must be digits with at most one decimal point, such as \"12.50\""
    fraction = match.group(2)
    if fraction is not None and len(fraction) > currency.scale:
        if currency.scale == 0:
            return "too_precise", f"{currency.code} has no decimal places"
        return "too_precise", f"{currency.code} has at most {currency.scale} decimal places"
    return None, ""


def format_amount(minor: int, currency: Currency) -> str:
    """`minor` units as an exact decimal string with exactly the currency's number of decimals."""
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), currency.minor_per_major)
    if currency.scale == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{currency.scale}d}"


def to_decimal(minor: int, currency: Currency) -> Decimal:
    return Decimal(minor).scaleb(-currency.scale)


def format_money(minor: int, currency: Currency, locale: str) -> str:
    """A human rendering for pages and emails, exact to the currency's scale: `$1,234.56`, `¥1,234`,
    `0.00150000 BTC`."""
    babel_locale = Locale.parse(locale.replace("-", "_"))
    fraction = "." + "0" * currency.scale if currency.scale else ""
    amount = to_decimal(minor, currency)
    if currency.kind == "crypto":
        number = format_decimal(amount, format="#,##0" + fraction, locale=babel_locale)
        return f"{number} {currency.code}"
    standard = babel_locale.currency_formats["standard"].pattern.split(";")[0]
    pattern = re.sub(r"0(\.0+)?", "0" + fraction, standard, count=1)
    return format_currency(amount, currency.code, format=pattern, locale=babel_locale, currency_digits=False)

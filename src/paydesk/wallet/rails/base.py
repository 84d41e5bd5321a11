"""Payment rails: how money enters and leaves the wallet. Each rail declares what it carries; a provider
(the sandbox by default, a real one later) moves the money and reports outcomes, at once or by webhook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from paydesk.core.errors import DomainError
from paydesk.core.money import Currency, parse_amount


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # the provider reports later, by webhook


class DestinationKind(StrEnum):
    IBAN = "iban"
    IBAN_BIC = "iban_bic"
    BTC = "btc"
    ETH = "eth"
    TRON = "tron"


@dataclass(frozen=True, slots=True)
class RailSpec:
    name: str
    currencies: tuple[str, ...]
    deposits: bool
    withdrawals: bool
    destination: DestinationKind | None
    min_major: str  # per transaction, in the currency's major unit ("1" = 1 USD, 1 BTC …)
    max_major: str
    withdrawal_hold: timedelta  # how long a withdrawal's hold lasts before it is released unsettled
    settles: str  # what people are told: "instant", "1–2 business days" …


class Provider(Protocol):
    def deposit(self, reference: str, currency: str, amount: int) -> Outcome: ...

    def withdraw(self, reference: str, currency: str, amount: int, destination: dict[str, str]) -> Outcome: ...


class UnknownMethod(DomainError):
    code = "unknown_method"
    status = 422
    title = "This payment method does not exist"


class MethodNotAvailable(DomainError):
    code = "method_not_available"
    status = 422
    title = "This payment method does not carry this currency or operation"


class AmountOutOfRange(DomainError):
    code = "amount_out_of_range"
    status = 422
    title = "The amount is outside what this payment method accepts"


FIAT = ("USD", "EUR", "GBP", "CNY", "HKD", "JPY")

RAILS: dict[str, RailSpec] = {
    spec.name: spec for spec in (
        RailSpec("bank_domestic", FIAT, True, True, DestinationKind.IBAN, "1", "1000000", timedelta(days=5),
                 "1–2 business days"),
        RailSpec("bank_international", FIAT, True, True, DestinationKind.IBAN_BIC, "10", "1000000",
                 timedelta(days=10), "2–5 business days (SWIFT)"),
        RailSpec("card", FIAT, True, False, None, "1", "10000", timedelta(days=1), "instant"),
        RailSpec("btc", ("BTC",), True, True, DestinationKind.BTC, "0.0001", "100", timedelta(days=1),
                 "about an hour (3 confirmations)"),
        RailSpec("eth", ("ETH", "USDT"), True, True, DestinationKind.ETH, "0.001", "10000", timedelta(days=1),
                 "a few minutes"),
        RailSpec("tron", ("USDT",), True, True, DestinationKind.TRON, "1", "1000000", timedelta(days=1),
                 "a few minutes"),
    )
}


class SandboxProvider:
    """Moves no real money. Confirms at once, or, when `delayed`, answers `pending` and leaves the outcome
    to a signed webhook (`POST /api/v1/rails/{rail}/events`), as a real provider would."""

    def __init__(self, *, delayed: bool = False) -> None:
        self.delayed = delayed

    def deposit(self, reference: str, currency: str, amount: int) -> Outcome:  # noqa: ARG002
        return Outcome.PENDING if self.delayed else Outcome.SUCCEEDED

    def withdraw(
        self, reference: str, currency: str, amount: int, destination: dict[str, str],  # noqa: ARG002
    ) -> Outcome:
        return Outcome.PENDING if self.delayed else Outcome.SUCCEEDED


def rail_for(method: str, cur: Currency, minor: int, *, deposit: bool) -> RailSpec:
    """The rail for a top-up or a withdrawal: it exists, carries the currency that way, and takes the amount."""
    spec = RAILS.get(method)
    if spec is None:
        raise UnknownMethod(f"{method!r} is not a payment method; use one of {', '.join(RAILS)}")
    if cur.code not in spec.currencies or not (spec.deposits if deposit else spec.withdrawals):
        what = "top-ups" if deposit else "withdrawals"
        raise MethodNotAvailable(f"{spec.name} does not carry {cur.code} {what}", method=spec.name)
    low, high = parse_amount(spec.min_major, cur), parse_amount(spec.max_major, cur)
    if not low <= minor <= high:
        raise AmountOutOfRange(f"{spec.name} accepts {spec.min_major} to {spec.max_major} {cur.code}",
                               minimum=spec.min_major, maximum=spec.max_major)
    return spec

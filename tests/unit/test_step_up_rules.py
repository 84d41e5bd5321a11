"""EUR equivalents for the step-up rules, and what binds a confirmation to its payment."""

from __future__ import annotations

import pytest

from paydesk.core.money import Currencies
from paydesk.fx.reference import DEFAULT_PER_EUR, ReferenceRates
from paydesk.identity.stepup import Payment

CUR = Currencies()


@pytest.mark.parametrize(("code", "minor", "cents"), [
    ("EUR", 3000, 3000),
    ("EUR", 1, 1),
    ("USD", 3150, 3000),       # 31.50 / 1.05
    ("USD", 3151, 3001),       # rounded up: the rule errs towards asking
    ("CNY", 22500, 3000),      # 225 / 7.5
    ("JPY", 155, 100),
    ("BTC", 30_000, 3000),     # 0.0003 BTC at 100,000 EUR
    ("USDT", 0, 0),
])
def test_eur_equivalents_round_up(code: str, minor: int, cents: int) -> None:
    assert ReferenceRates(DEFAULT_PER_EUR).eur_cents(CUR[code], minor) == cents


def test_a_currency_without_a_rate_has_no_equivalent_and_bad_rates_are_refused() -> None:
    assert ReferenceRates({"EUR": "1"}).eur_cents(CUR["USD"], 100) is None
    for bad in ("0", "-1", "abc", "NaN", "Infinity"):
        with pytest.raises(ValueError, match="USD"):
            ReferenceRates({"USD": bad})


def test_every_default_currency_has_a_reference_rate() -> None:
    assert set(CUR) <= set(DEFAULT_PER_EUR)


def test_the_binding_changes_with_amount_currency_payee_and_kind_but_not_the_label() -> None:
    base = Payment("send", CUR["EUR"], 5000, "user-1", "bob@example.com")
    same = Payment("send", CUR["EUR"], 5000, "user-1", "PD-AAAA-BBBB")
    assert base.binding() == same.binding()
    for other in (Payment("send", CUR["EUR"], 5001, "user-1", ""), Payment("send", CUR["USD"], 5000, "user-1", ""),
                  Payment("send", CUR["EUR"], 5000, "user-2", ""), Payment("withdraw", CUR["EUR"], 5000, "user-1", ""),
                  Payment("send", CUR["EUR"], 5000, "user-1", "", fee=1)):
        assert other.binding() != base.binding()

"""Fee rules: properties over random rules and amounts, the shipped schedule's examples, and refused input."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.core.money import Currencies
from paydesk.fees.domain import AmountBelowFee, InvalidSchedule, Rule, Schedule, charge, parse_rules
from paydesk.fees.service import default_rules
from paydesk.wallet.rails.base import RAILS

CUR = Currencies()
DEFAULT = Schedule(1, datetime(2000, 1, 1, tzinfo=UTC), parse_rules(default_rules()["rules"], CUR, list(RAILS)))

money = st.integers(min_value=0, max_value=10**12)


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    code = draw(st.sampled_from(["USD", "JPY", "BTC", "ETH"]))
    low = draw(st.integers(0, 10**6))
    high = draw(st.one_of(st.none(), st.integers(low, 10**9)))
    return Rule(
        id="r", operation="withdraw", percent=draw(st.decimals(0, 100, places=3)),
        rounding=draw(st.sampled_from(["half_up", "up", "down"])), may_exceed_amount=draw(st.booleans()),
        fixed={code: draw(st.integers(0, 10**6))}, min={code: low}, max={code: high} if high is not None else {},
        network_fee={code: draw(st.integers(0, 10**5))} if draw(st.booleans()) else {},
    )


@given(rule=rules(), amount=money)
def test_a_fee_is_exact_never_negative_within_its_bounds_and_never_above_the_amount_unless_allowed(
    rule: Rule, amount: int,
) -> None:
    code = next(iter(rule.fixed))
    fee = rule.fee(CUR[code], amount)
    assert fee >= 0 and isinstance(fee, int)
    exact = Fraction(amount) * Fraction(rule.percent) / 100  # the percentage, exactly, then the stated rounding
    mode = {"half_up": ROUND_HALF_UP, "up": ROUND_CEILING, "down": ROUND_FLOOR}[rule.rounding]
    rounded = int((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal(1), rounding=mode))
    expected = max(rounded + rule.fixed[code], rule.min[code])
    if code in rule.max:
        expected = min(expected, rule.max[code])
    assert fee == expected + rule.network_fee.get(code, 0)
    schedule = Schedule(9, datetime(2000, 1, 1, tzinfo=UTC), (rule,))
    if fee > amount and not rule.may_exceed_amount:
        with pytest.raises(AmountBelowFee):
            charge(schedule, CUR[code], "withdraw", amount)
    else:
        assert charge(schedule, CUR[code], "withdraw", amount).fee == fee


def test_small_crypto_withdrawals_below_the_network_fee_are_refused() -> None:
    with pytest.raises(AmountBelowFee):
        charge(DEFAULT, CUR["USDT"], "withdraw", 1_000, "eth")  # 0.001 USDT against a 3 USDT network fee
    with pytest.raises(AmountBelowFee):
        charge(DEFAULT, CUR["USD"], "withdraw", 1_000, "bank_international", "international")  # 10 < min 15


@pytest.mark.parametrize(("currency", "operation", "amount", "method", "region", "fee", "rule"), [
    ("USD", "p2p", "500.00", None, "domestic", "0.00", "p2p-free"),
    ("USD", "topup", "100.00", "card", None, "1.50", "topup-card"),      # 1.5 %
    ("USD", "topup", "10.00", "card", None, "0.30", "topup-card"),       # the minimum
    ("CNY", "topup", "1000.00", "bank_domestic", None, "0.00", "topup-free"),
    ("EUR", "withdraw", "250.00", "bank_domestic", "domestic", "1.00", "withdraw-bank-domestic"),
    ("EUR", "withdraw", "10000.00", "bank_domestic", "domestic", "0.00", "withdraw-bank-large"),  # the tier
    ("EUR", "withdraw", "9999.99", "bank_domestic", "domestic", "1.00", "withdraw-bank-domestic"),
    ("EUR", "withdraw", "100.00", "bank_domestic", "international", "2.00", "withdraw-bank-cross-border"),
    ("EUR", "withdraw", "1000.00", "bank_domestic", "international", "5.00", "withdraw-bank-cross-border"),
    ("EUR", "withdraw", "9000.00", "bank_domestic", "international", "20.00", "withdraw-bank-cross-border"),
    ("USD", "withdraw", "100.00", "bank_international", "international", "15.00", "withdraw-swift"),
    ("USD", "withdraw", "3000.00", "bank_international", "international", "30.00", "withdraw-swift"),
    ("USD", "withdraw", "90000.00", "bank_international", "international", "50.00", "withdraw-swift"),
    ("JPY", "withdraw", "100000", "bank_international", "international", "2000", "withdraw-swift"),
    ("BTC", "withdraw", "0.5", "btc", None, "0.00020000", "withdraw-btc"),
    ("USDT", "withdraw", "50", "tron", None, "1.000000", "withdraw-tron"),
    ("USDT", "withdraw", "50", "eth", None, "3.000000", "withdraw-eth"),
    ("EUR", "exchange", "100.00", None, None, "0.00", "exchange-spread-only"),
])
def test_the_shipped_schedule(currency: str, operation: str, amount: str, method: str | None, region: str | None,
                              fee: str, rule: str) -> None:
    from paydesk.core.money import format_amount, parse_amount

    cur = CUR[currency]
    got = charge(DEFAULT, cur, operation, parse_amount(amount, cur), method, region)
    assert (format_amount(got.fee, cur), got.rule) == (fee, f"1:{rule}")


@pytest.mark.parametrize(("rules", "reason"), [
    ([], "non-empty"),
    ("nope", "non-empty"),
    ([{"id": "a", "operation": "teleport"}], "operation"),
    ([{"id": "a", "operation": "p2p"}, {"id": "a", "operation": "p2p"}], "unique"),
    ([{"id": "a", "operation": "p2p", "percent": "-1"}], "between 0 and 100"),
    ([{"id": "a", "operation": "p2p", "percent": "NaN"}], "between 0 and 100"),
    ([{"id": "a", "operation": "p2p", "percent": "lots"}], "not a number"),
    ([{"id": "a", "operation": "p2p", "fixed": {"XXX": "1"}}], "unsupported currency"),
    ([{"id": "a", "operation": "p2p", "fixed": {"USD": "0.001"}}], "fixed.USD"),
    ([{"id": "a", "operation": "p2p", "fixed": {"USD": "-1"}}], "fixed.USD"),
    ([{"id": "a", "operation": "p2p", "min": {"USD": "5"}, "max": {"USD": "1"}}], "below"),
    ([{"id": "a", "operation": "withdraw", "method": "pigeon"}], "unknown method"),
    ([{"id": "a", "operation": "p2p", "region": "moon"}], "region"),
    ([{"id": "a", "operation": "p2p", "rounding": "banker"}], "rounding"),
    ([{"id": "a", "operation": "p2p", "surprise": 1}], "unknown fields"),
])
def test_bad_schedules_are_refused_with_the_reason(rules: object, reason: str) -> None:
    with pytest.raises(InvalidSchedule, match=reason):
        parse_rules(rules, CUR, list(RAILS))


def test_a_rule_survives_its_json_round_trip() -> None:
    again = parse_rules([r.to_json(CUR) for r in DEFAULT.rules], CUR, list(RAILS))
    assert again == DEFAULT.rules

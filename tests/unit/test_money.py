from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.core.errors import InvalidAmount, UnknownCurrency
from paydesk.core.money import (
    DEFAULT_CURRENCIES,
    INT64_MAX,
    Currencies,
    Currency,
    format_amount,
    format_money,
    parse_amount,
)

C = Currencies()
USD, JPY, BTC, ETH, USDT = C["USD"], C["JPY"], C["BTC"], C["ETH"], C["USDT"]


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("12.50", USD, 1250), ("12.5", USD, 1250), ("12", USD, 1200), ("0.01", USD, 1), ("1000000", USD, 100000000),
    ("1235", JPY, 1235), ("0.00000001", BTC, 1), ("21000000", BTC, 2_100_000_000_000_000),
    ("1.000000001", ETH, 1_000_000_001), ("0.000001", USDT, 1), ("0.10", USD, 10),
])
def test_parses_exact_decimal_strings_into_minor_units(text: str, currency: Currency, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(("text", "currency", "reason"), [
    ("12.505", USD, "too_precise"), ("1.5", JPY, "too_precise"), ("0.000000001", BTC, "too_precise"),
    ("-1", USD, "sign"), ("+1", USD, "sign"), ("-0.00", USD, "sign"),
    ("1e3", USD, "exponent"), ("1E3", USD, "exponent"), ("1.5e-2", USD, "exponent"),
    ("NaN", USD, "not_a_number"), ("nan", USD, "not_a_number"), ("Infinity", USD, "not_a_number"),
    ("inf", USD, "not_a_number"), ("sNaN", USD, "not_a_number"),
    (" 1", USD, "whitespace"), ("1 ", USD, "whitespace"), ("1\n", USD, "whitespace"), ("1 000", USD, "whitespace"),
    ("1\u00a0000", USD, "whitespace"), ("\t1", USD, "whitespace"), ("1\u2003", USD, "whitespace"),
    ("1,000.00", USD, "separator"), ("1_000", USD, "separator"), ("12,50", USD, "separator"),
    ("١٢", USD, "not_ascii"), ("１２", USD, "not_ascii"), ("12\u200b", USD, "not_ascii"),
    ("", USD, "empty"), ("1" * 41, USD, "too_long"), ("9" * 40, USD, "too_large"),
    ("92233720368547758.08", USD, "too_large"),
    (".5", USD, "malformed"), ("5.", USD, "malformed"), ("1.2.3", USD, "malformed"), ("0x10", USD, "malformed"),
    ("abc", USD, "malformed"), ("$5", USD, "malformed"), ("5USD", USD, "malformed"), ("01", USD, "leading_zero"),
    ("00.5", USD, "leading_zero"), ("0", USD, "zero"), ("0.00", USD, "zero"),
])
def test_refuses_hostile_amount_strings_with_a_reason(text: str, currency: Currency, reason: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(text, currency)
    assert caught.value.extra["reason"] == reason
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize("value", [12.5, 12, None, b"12", ["12"], {"amount": "1"}, True])
def test_refuses_amounts_that_are_not_strings(value: object) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(value, USD)
    assert caught.value.extra["reason"] == "not_a_string"


def test_zero_is_accepted_only_when_asked_for() -> None:
    assert parse_amount("0", USD, allow_zero=True) == 0


def test_largest_amount_that_fits_in_a_bigint_is_accepted() -> None:
    assert parse_amount("92233720368547758.07", USD) == INT64_MAX


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (1250, USD, "12.50"), (1, USD, "0.01"), (0, USD, "0.00"), (1235, JPY, "1235"), (1, BTC, "0.00000001"),
    (-1250, USD, "-12.50"), (1_000_000_001, ETH, "1.000000001"),
])
def test_formats_minor_units_with_the_currency_scale(minor: int, currency: Currency, text: str) -> None:
    assert format_amount(minor, currency) == text


@given(st.sampled_from(DEFAULT_CURRENCIES), st.integers(min_value=1, max_value=INT64_MAX))
def test_format_then_parse_is_the_identity(currency: Currency, minor: int) -> None:
    assert parse_amount(format_amount(minor, currency), currency) == minor


def test_formats_money_for_people_in_each_locale() -> None:
    assert format_money(123456, USD, "en") == "$1,234.56"
    assert format_money(1234, JPY, "en") == "¥1,234"
    assert format_money(150000, BTC, "zh-CN") == "0.00150000 BTC"
    assert "1,234.56" in format_money(123456, USD, "zh-CN")


def test_currency_list_is_configurable_and_checked() -> None:
    custom = Currencies.from_spec("USD:2, SGD:2, SOL:9:crypto")
    assert list(custom) == ["USD", "SGD", "SOL"]
    assert custom["SOL"].kind == "crypto"
    with pytest.raises(ValueError, match="bad currency entry"):
        Currencies.from_spec("USD")
    with pytest.raises(ValueError, match="twice"):
        Currencies.from_spec("USD:2,USD:2")
    with pytest.raises(UnknownCurrency):
        custom.get_or_raise("EUR")

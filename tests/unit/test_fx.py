"""Rate sources (the ECB's XML, CSV) and conversion: rounding is always the house's, by less than a unit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.core.money import Currencies
from paydesk.fx.service import Price
from paydesk.fx.sources import InvalidRates, parse_csv, parse_ecb

CUR = Currencies()
FIXTURE = Path(__file__).parents[1] / "data" / "eurofxref-daily.xml"
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_the_ecb_daily_file_is_read() -> None:
    rates = parse_ecb(FIXTURE.read_bytes())
    assert rates.source == "ecb" and rates.as_of == datetime(2026, 11, 27, 15, tzinfo=UTC)
    assert rates.per_eur["USD"] == Decimal("1.0562") and rates.per_eur["CNY"] == Decimal("7.6473")
    assert rates.per_eur["EUR"] == 1 and "CHF" in rates.per_eur  # kept here; recording skips what we don't carry


@pytest.mark.parametrize("xml", [
    b"",
    b"<not-closed",
    b"<Envelope><Cube><Cube time='2026-11-27'></Cube></Cube></Envelope>",  # no rates
    b"<Envelope><Cube><Cube currency='USD' rate='1.05'/></Cube></Envelope>",  # no date
    b"<Envelope><Cube time='2026-11-27'><Cube currency='USD' rate='-1'/></Cube></Envelope>",
    b"<Envelope><Cube time='2026-11-27'><Cube currency='USD' rate='abc'/></Cube></Envelope>",
    b"<Envelope><Cube time='yesterday'><Cube currency='USD' rate='1'/></Cube></Envelope>",
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    b"<Envelope><Cube time='2026-11-27'><Cube currency='USD' rate='&lol2;'/></Cube></Envelope>",
])
def test_anything_else_is_refused_without_expanding_entities(xml: bytes) -> None:
    with pytest.raises(InvalidRates):
        parse_ecb(xml)


def test_csv_rates() -> None:
    rates = parse_csv("currency,per_eur,as_of\nusd,1.07,2026-11-28\nBTC,0.0000104,\n", NOW)
    assert rates.per_eur == {"USD": Decimal("1.07"), "BTC": Decimal("0.0000104")}
    assert rates.as_of == datetime(2026, 11, 28, tzinfo=UTC)
    for bad in ("", "USD\n", "USD,0\n", "USD,x\n", "US D,1\n", "USD,1,not-a-date\n", "USD,1,2,3\n",
                "USD,1.05,2020-01-01\nGBP,0.85,2026-11-29\n"):  # an old rate can't borrow a newer date
        with pytest.raises(InvalidRates):
            parse_csv(bad, NOW)


@given(amount=st.integers(1, 10**13), rate=st.decimals(Decimal("0.000001"), Decimal("200000"), places=6),
       pair=st.sampled_from([("USD", "JPY"), ("JPY", "USD"), ("EUR", "BTC"), ("BTC", "USDT"), ("CNY", "ETH")]))
def test_conversion_rounds_down_by_less_than_one_minor_unit(amount: int, rate: Decimal,
                                                            pair: tuple[str, str]) -> None:
    source, target = CUR[pair[0]], CUR[pair[1]]
    price = Price(source.code, target.code, rate, rate, Decimal(0), NOW)
    got = price.convert(amount, source, target)
    exact = Fraction(amount, 10**source.scale) * Fraction(rate) * 10**target.scale
    assert got <= exact < got + 1  # the customer gets the exact value less under one minor unit, never more


@given(amount=st.integers(1, 10**12), spread=st.decimals(Decimal("0"), Decimal("3"), places=2))
def test_a_round_trip_never_creates_value(amount: int, spread: Decimal) -> None:
    usd, cny = CUR["USD"], CUR["CNY"]
    mid = Decimal("7.2345")
    there = Price("USD", "CNY", mid, (mid * (1 - spread / 100)).quantize(Decimal("1e-12"), rounding="ROUND_FLOOR"),
                  spread, NOW)
    back_rate = (1 / mid * (1 - spread / 100)).quantize(Decimal("1e-12"), rounding="ROUND_FLOOR")  # as FxService
    back = Price("CNY", "USD", 1 / mid, back_rate, spread, NOW)
    assert back.convert(there.convert(amount, usd, cny), cny, usd) <= amount

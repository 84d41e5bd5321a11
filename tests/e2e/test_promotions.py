"""Promotions: codes and automatic ones, the window's edges, eligibility, limits; the quote shows them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydesk.app import create_app
from paydesk.config import Settings
from paydesk.core.clock import FrozenClock
from tests.e2e.conftest import PASSWORD, Person, sign_up

IBAN = "DE89370400440532013000"
START = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def client(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock, run_jobs=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def ops(client: TestClient) -> Person:
    person = sign_up(client, "Olga")
    client.app.state.container.identity.grant_role(person.email, "operator")  # type: ignore[attr-defined]
    return person


def _promote(ops: Person, **fields: Any) -> dict[str, Any]:
    body = {"label": {"en": "Test offer", "zh-CN": "测试优惠"}, "starts_at": START.isoformat(),
            "ends_at": (START + timedelta(days=1)).isoformat(), "percent_off": "100", **fields}
    made = ops.post("/api/v1/admin/promotions", body, key=None)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _withdraw(who: Person, amount: str = "10", **extra: Any) -> Any:
    return who.post("/api/v1/withdrawals", {"currency": "EUR", "amount": amount, "method": "bank_domestic",
                                            "destination": {"iban": IBAN}, **extra})


def test_a_code_waives_the_fee_once_and_the_quote_shows_it(ops: Person, alice: Person) -> None:
    _promote(ops, code="welcome", operation="withdraw", per_user_limit=1)
    alice.top_up("100", "EUR")
    quote = alice.post("/api/v1/quotes", {"operation": "withdraw", "currency": "EUR", "amount": "10",
                                          "method": "bank_domestic", "destination": {"iban": IBAN},
                                          "promo_code": "Welcome"}, key=None).json()
    assert quote["fee"] == "0.00" and quote["fee_before_promotion"] == "1.00"
    assert quote["promotion"]["discount"] == "1.00" and quote["promotion"]["label"]["en"] == "Test offer"
    out = _withdraw(alice, quote_id=quote["quote_id"])
    assert out.status_code == 201 and out.json()["fee"] == "0.00" and out.json()["promotion_id"]
    assert alice.balance("EUR")["total"] == "90.00"
    again = _withdraw(alice, promo_code="WELCOME")
    assert again.status_code == 422 and again.json()["code"] == "promotion_invalid"
    assert "as often as it allows" in again.json()["detail"]
    assert _withdraw(alice).json()["fee"] == "1.00"  # without the code: the schedule's fee
    listed = ops.get("/api/v1/admin/promotions").json()["items"][0]
    assert listed["used"] == 1 and listed["code"] == "WELCOME"


def test_the_window_is_half_open_and_eligibility_is_checked(client: TestClient, ops: Person, alice: Person,
                                                            clock: FrozenClock) -> None:
    _promote(ops, code="LATER", starts_at=(START + timedelta(hours=1)).isoformat(),
             ends_at=(START + timedelta(hours=2)).isoformat())
    _promote(ops, code="USDONLY", currency="USD")
    _promote(ops, code="CARDS", method="card")
    alice.top_up("100", "EUR")
    early = _withdraw(alice, promo_code="LATER")
    assert early.status_code == 422 and "isn't running" in early.json()["detail"]
    assert "for USD" in _withdraw(alice, promo_code="USDONLY").json()["detail"]
    assert "for card" in _withdraw(alice, promo_code="CARDS").json()["detail"]
    assert _withdraw(alice, promo_code="NOSUCH").json()["code"] == "promotion_invalid"
    clock.advance(timedelta(hours=1))  # the first instant of the window: on
    alice.token = client.post("/api/v1/auth/login", json={"login": alice.email, "password": PASSWORD}
                              ).json()["access_token"]
    assert _withdraw(alice, promo_code="LATER").json()["fee"] == "0.00"
    clock.advance(timedelta(hours=1))  # the end is excluded
    alice.token = client.post("/api/v1/auth/login", json={"login": alice.email, "password": PASSWORD}
                              ).json()["access_token"]
    assert "isn't running" in _withdraw(alice, promo_code="LATER").json()["detail"]


def test_automatic_promotions_for_new_people_and_first_operations(client: TestClient, ops: Person,
                                                                  clock: FrozenClock) -> None:
    _promote(ops, operation="topup", method="card", new_users_days=7, percent_off="50", cap={"USD": "0.50"},
             per_user_limit=5, label={"en": "Half-price card top-ups in your first week"})
    _promote(ops, operation="withdraw", first_n=1, label={"en": "Your first withdrawal is free"})
    carol = sign_up(client, "Carol")
    topped = carol.post("/api/v1/deposits", {"currency": "USD", "amount": "100", "method": "card"}).json()
    assert topped["fee"] == "1.00" and topped["promotion_id"]  # 1.50 less 50 %, capped at 0.50 off
    carol.top_up("100", "EUR")
    assert _withdraw(carol).json()["fee"] == "0.00"  # the first
    assert _withdraw(carol).json()["fee"] == "1.00"  # the second
    clock.advance(timedelta(days=8))
    carol.token = client.post("/api/v1/auth/login", json={"login": carol.email, "password": PASSWORD}
                              ).json()["access_token"]
    late = carol.post("/api/v1/deposits", {"currency": "USD", "amount": "100", "method": "card"}).json()
    assert late["fee"] == "1.50" and late["promotion_id"] is None


def test_only_operators_make_promotions_and_bad_ones_are_refused(ops: Person,
                                                                 alice: Person) -> None:
    body = {"label": {"en": "x"}, "starts_at": START.isoformat(), "ends_at": START.isoformat()}
    assert alice.post("/api/v1/admin/promotions", body, key=None).status_code == 403
    for bad in (body, {**body, "ends_at": "tomorrow"}, {**body, "ends_at": "2027-01-01T00:00:00+00:00",
                                                        "percent_off": "0"},
                {**body, "ends_at": "2027-01-01T00:00:00+00:00", "per_user_limit": 0},
                {**body, "ends_at": "2027-01-01T00:00:00+00:00", "cap": {"XXX": "1"}},
                {**body, "ends_at": "2027-01-01T00:00:00+00:00", "code": "no spaces"}):
        made = ops.post("/api/v1/admin/promotions", bad, key=None)
        assert made.status_code == 422 and made.json()["code"] == "promotion_invalid", bad
    assert ops.get("/api/v1/admin/promotions").json()["items"] == []


def test_a_failed_top_up_gives_its_promotion_back_and_a_free_operation_uses_none(
    client: TestClient, ops: Person, alice: Person, bob: Person, clock: FrozenClock,
) -> None:
    _promote(ops, code="CARD1", method="card", per_user_limit=1, total_limit=1)
    container = client.app.state.container  # type: ignore[attr-defined]
    container.wallet.providers["card"].delayed = True
    pending = alice.post("/api/v1/deposits", {"currency": "USD", "amount": "100", "method": "card",
                                              "promo_code": "CARD1"}).json()
    assert pending["status"] == "pending" and pending["fee"] == "0.00"
    from tests.e2e.test_wallet_api import event

    declined = event(client, "card", {"id": "e1", "type": "deposit.failed", "reference": pending["reference"]},
                     at=int(clock.now().timestamp()))
    assert declined.json()["transaction"]["status"] == "failed"  # type: ignore[attr-defined]
    assert ops.get("/api/v1/admin/promotions").json()["items"][0]["used"] == 0  # given back
    container.wallet.providers["card"].delayed = False
    again = alice.post("/api/v1/deposits", {"currency": "USD", "amount": "100", "method": "card",
                                            "promo_code": "CARD1"})
    assert again.status_code == 201 and again.json()["fee"] == "0.00"
    _promote(ops, code="FREEP2P", per_user_limit=1)
    free = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "1",
                                            "promo_code": "FREEP2P"}).json()
    assert free["fee"] == "0.00" and free["promotion_id"] is None  # nothing to take off: nothing used
    assert {p["code"]: p["used"] for p in ops.get("/api/v1/admin/promotions").json()["items"]}["FREEP2P"] == 0


def test_operator_mistakes_are_422_not_500(ops: Person) -> None:
    naive = ops.post("/api/v1/admin/fee-schedules", {"rules": [{"id": "a", "operation": "p2p"}],
                                                     "effective_at": "2026-12-01T00:00:00"}, key=None)
    assert naive.status_code == 422
    body = {"label": {"en": "x"}, "starts_at": START.isoformat(), "ends_at": (START + timedelta(days=1)).isoformat()}
    assert ops.post("/api/v1/admin/promotions", {**body, "cap": "lots"}, key=None).status_code == 422
    assert ops.post("/api/v1/admin/promotions", {**body, "code": "TWICE"}, key=None).status_code == 201
    assert ops.post("/api/v1/admin/promotions", {**body, "code": "twice"}, key=None).status_code == 409

"""64 real HTTP clients at once against a real server: a balance is spent exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx2 as httpx

from paydesk.app import create_app
from paydesk.config import Settings
from tests.e2e.conftest import PASSWORD, emailed_code
from tests.e2e.server import serve

N = 64


def _register(http: httpx.Client, name: str) -> tuple[str, dict[str, str]]:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    assert http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    token = http.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD}).json()["access_token"]
    return email, {"Authorization": f"Bearer {token}"}


def _all_at_once(base: str, request: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(N)

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=60) as http:
            barrier.wait()
            return request(http, i)

    with ThreadPoolExecutor(N) as pool:
        return list(pool.map(one, range(N)))


def test_64_concurrent_spend_everything_requests_succeed_exactly_once(settings: Settings) -> None:
    app = create_app(settings, run_jobs=False)
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        _, alice = _register(http, "alice")
        bob_email, _ = _register(http, "bob")
        deposit = http.post("/api/v1/deposits", headers={**alice, "Idempotency-Key": "d1"},
                            json={"currency": "USD", "amount": "25.00", "method": "bank_domestic"})
        assert deposit.status_code == 201

        sends = _all_at_once(base, lambda h, i: h.post(  # amounts within the step-up exemption
            "/api/v1/transfers", headers={**alice, "Idempotency-Key": f"send-{i}"},
            json={"to": bob_email, "currency": "USD", "amount": "25.00"}))
        assert sorted(r.status_code for r in sends) == [201] + [422] * (N - 1)
        assert {r.json()["code"] for r in sends if r.status_code == 422} == {"insufficient_funds"}

        _, carol = _register(http, "carol")
        assert http.post("/api/v1/deposits", headers={**carol, "Idempotency-Key": "d2"},
                         json={"currency": "EUR", "amount": "30", "method": "bank_domestic"}).status_code == 201
        app.state.container.wallet.providers["bank_domestic"].delayed = True
        outs = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/withdrawals", headers={**carol, "Idempotency-Key": f"out-{i}"},
            json={"currency": "EUR", "amount": "29", "method": "bank_domestic",  # + 1.00 fee = everything
                  "destination": {"iban": "DE89370400440532013000"}}))
        assert sorted(r.status_code for r in outs) == [201] + [422] * (N - 1)
        balances = http.get("/api/v1/wallet", headers=carol).json()["balances"]
        assert balances == [{"currency": "EUR", "available": "0.00", "pending": "30.00", "total": "30.00"}]

        assert http.post("/api/v1/deposits", headers={**carol, "Idempotency-Key": "d3"},  # a rail still answering
                         json={"currency": "USD", "amount": "10", "method": "bank_international"}).status_code == 201
        same_key = _all_at_once(base, lambda h, _: h.post(
            "/api/v1/transfers", headers={**carol, "Idempotency-Key": "once"},
            json={"to": bob_email, "currency": "USD", "amount": "1"}))
        assert {r.status_code for r in same_key} == {201}
        assert len({r.text for r in same_key}) == 1  # everyone got the first response
        assert http.get("/api/v1/wallet", headers=carol).json()["balances"][1]["total"] == "9.00"
        assert not app.state.container.ledger.check()


def test_step_up_confirmations_exemptions_and_daily_limits_hold_under_64_concurrent_requests(
    settings: Settings,
) -> None:
    limited = settings.model_copy(update={"daily_limits": {"send": {"count": 3}}})
    app = create_app(limited, run_jobs=False)
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        alice_email, alice = _register(http, "alice")
        bob_email, _ = _register(http, "bob")
        assert http.post("/api/v1/deposits", headers={**alice, "Idempotency-Key": "d1"},
                         json={"currency": "EUR", "amount": "1000", "method": "bank_domestic"}).status_code == 201
        # one confirmed payment, answered 64 times at once (other keys): it pays once
        body = {"to": bob_email, "currency": "EUR", "amount": "100"}
        asked = http.post("/api/v1/transfers", headers={**alice, "Idempotency-Key": "ask"}, json=body).json()
        assert asked["code"] == "step_up_required"
        code = emailed_code(app, alice_email)
        confirmed = {**body, "confirmation_id": asked["confirmation_id"], "otp": code}
        answers = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/transfers", headers={**alice, "Idempotency-Key": f"c-{i}"}, json=confirmed))
        assert sorted(r.status_code for r in answers) == [201] + [409] * (N - 1)
        assert {r.json()["code"] for r in answers if r.status_code == 409} == {"confirmation_invalid"}
        # small payments at once: the daily count (3) lets exactly three through, the rest are told why
        small = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/transfers", headers={**alice, "Idempotency-Key": f"s-{i}"},
            json={"to": bob_email, "currency": "EUR", "amount": "1"}))
        assert sorted(r.status_code for r in small) == [201] * 2 + [422] * (N - 2)  # 1 + 2 = 3 today
        assert {r.json()["code"] for r in small if r.status_code == 422} == {"daily_limit_exceeded"}
        balances = http.get("/api/v1/wallet", headers=alice).json()["balances"]
        assert balances[0]["total"] == "898.00"

        carol_email, carol = _register(http, "carol")
        assert http.post("/api/v1/deposits", headers={**carol, "Idempotency-Key": "d2"},
                         json={"currency": "EUR", "amount": "100", "method": "bank_domestic"}).status_code == 201
        app.state.container.settings.daily_limits = {}
        tiny = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/transfers", headers={**carol, "Idempotency-Key": f"t-{i}"},
            json={"to": bob_email, "currency": "EUR", "amount": "1"}))
        # the exemption covers five payments since the last confirmed one, however many arrive together
        assert sorted(r.status_code for r in tiny) == [201] * 5 + [401] * (N - 5)
        assert not app.state.container.ledger.check()



def test_paying_someone_while_they_withdraw_never_deadlocks(settings: Settings) -> None:
    """A payer's lock must not block the rows a payment writes for its recipient (their foreign keys)."""
    roomy = settings.model_copy(update={"step_up_count": 10_000, "step_up_cumulative_eur": 10**9})
    app = create_app(roomy, run_jobs=False)
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        alice_email, alice = _register(http, "alice")
        bob_email, bob = _register(http, "bob")
        for who, key in ((alice, "da"), (bob, "db")):
            assert http.post("/api/v1/deposits", headers={**who, "Idempotency-Key": key},
                             json={"currency": "EUR", "amount": "500", "method": "bank_domestic"}).status_code == 201

        def one(h: httpx.Client, i: int) -> httpx.Response:
            if i % 2:
                return h.post("/api/v1/transfers", headers={**alice, "Idempotency-Key": f"a-{i}"},
                              json={"to": bob_email, "currency": "EUR", "amount": "1"})
            if i % 4:
                return h.post("/api/v1/transfers", headers={**bob, "Idempotency-Key": f"b-{i}"},
                              json={"to": alice_email, "currency": "EUR", "amount": "1"})
            return h.post("/api/v1/withdrawals", headers={**bob, "Idempotency-Key": f"w-{i}"},
                          json={"currency": "EUR", "amount": "1", "method": "bank_domestic",
                                "destination": {"iban": "DE89370400440532013000"}})

        answers = _all_at_once(base, one)
        assert [r.status_code for r in answers] == [201] * N, [r.text for r in answers if r.status_code != 201]
        assert not app.state.container.ledger.check()


def test_a_single_use_promotion_code_is_redeemed_once_by_64_concurrent_requests(settings: Settings) -> None:
    roomy = settings.model_copy(update={"step_up_count": 10_000, "step_up_cumulative_eur": 10**9,
                                        "daily_limits": {}})
    app = create_app(roomy, run_jobs=False)
    container = app.state.container
    now = container.clock.now()
    container.promotions.create({"code": "ONCE", "label": {"en": "One free withdrawal"}, "percent_off": "100",
                                 "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=1)).isoformat(),
                                 "per_user_limit": 64, "total_limit": 1})
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        _, dora = _register(http, "dora")
        assert http.post("/api/v1/deposits", headers={**dora, "Idempotency-Key": "d"},
                         json={"currency": "EUR", "amount": "500", "method": "bank_domestic"}).status_code == 201
        answers = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/withdrawals", headers={**dora, "Idempotency-Key": f"p-{i}"},
            json={"currency": "EUR", "amount": "1", "method": "bank_domestic", "promo_code": "ONCE",
                  "destination": {"iban": "DE89370400440532013000"}}))
        codes = sorted(r.status_code for r in answers)
        assert codes.count(201) == 1, [r.text for r in answers if r.status_code != 201][:3]
        assert {r.json()["code"] for r in answers if r.status_code != 201} <= {"promotion_used_up",
                                                                               "promotion_invalid"}
        assert codes.count(201) + codes.count(409) + codes.count(422) == N
        assert [r.json()["fee"] for r in answers if r.status_code == 201] == ["0.00"]
        assert container.promotions.list()[0]["used"] == 1
        assert not container.ledger.check()


def test_an_automatic_offer_that_runs_out_mid_flight_just_does_not_apply(settings: Settings) -> None:
    roomy = settings.model_copy(update={"step_up_count": 10_000, "step_up_cumulative_eur": 10**9,
                                        "daily_limits": {}})
    app = create_app(roomy, run_jobs=False)
    container = app.state.container
    now = container.clock.now()
    container.promotions.create({"label": {"en": "One free withdrawal, first come"}, "percent_off": "100",
                                 "operation": "withdraw", "starts_at": now.isoformat(),
                                 "ends_at": (now + timedelta(days=1)).isoformat(), "per_user_limit": 64,
                                 "total_limit": 1})
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        _, eve = _register(http, "eve")
        assert http.post("/api/v1/deposits", headers={**eve, "Idempotency-Key": "d"},
                         json={"currency": "EUR", "amount": "500", "method": "bank_domestic"}).status_code == 201
        answers = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/withdrawals", headers={**eve, "Idempotency-Key": f"w-{i}"},
            json={"currency": "EUR", "amount": "1", "method": "bank_domestic",
                  "destination": {"iban": "DE89370400440532013000"}}))
        assert [r.status_code for r in answers] == [201] * N, {r.text for r in answers if r.status_code != 201}
        assert sorted(r.json()["fee"] for r in answers) == ["0.00"] + ["1.00"] * (N - 1)
        assert container.promotions.list()[0]["used"] == 1
        assert not container.ledger.check()

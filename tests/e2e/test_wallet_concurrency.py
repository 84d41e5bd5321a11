"""64 real HTTP clients at once against a real server: a balance is spent exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx

from paydesk.app import create_app
from paydesk.config import Settings
from tests.e2e.conftest import PASSWORD
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
                            json={"currency": "USD", "amount": "64.00", "method": "card"})
        assert deposit.status_code == 201

        sends = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/transfers", headers={**alice, "Idempotency-Key": f"send-{i}"},
            json={"to": bob_email, "currency": "USD", "amount": "64.00"}))
        assert sorted(r.status_code for r in sends) == [201] + [422] * (N - 1)
        assert {r.json()["code"] for r in sends if r.status_code == 422} == {"insufficient_funds"}

        _, carol = _register(http, "carol")
        assert http.post("/api/v1/deposits", headers={**carol, "Idempotency-Key": "d2"},
                         json={"currency": "EUR", "amount": "100", "method": "card"}).status_code == 201
        app.state.container.wallet.providers["bank_domestic"].delayed = True
        outs = _all_at_once(base, lambda h, i: h.post(
            "/api/v1/withdrawals", headers={**carol, "Idempotency-Key": f"out-{i}"},
            json={"currency": "EUR", "amount": "100", "method": "bank_domestic",
                  "destination": {"iban": "DE89370400440532013000"}}))
        assert sorted(r.status_code for r in outs) == [201] + [422] * (N - 1)
        balances = http.get("/api/v1/wallet", headers=carol).json()["balances"]
        assert balances == [{"currency": "EUR", "available": "0.00", "pending": "100.00", "total": "100.00"}]

        assert http.post("/api/v1/deposits", headers={**carol, "Idempotency-Key": "d3"},
                         json={"currency": "USD", "amount": "10", "method": "card"}).status_code == 201
        same_key = _all_at_once(base, lambda h, _: h.post(
            "/api/v1/transfers", headers={**carol, "Idempotency-Key": "once"},
            json={"to": bob_email, "currency": "USD", "amount": "1"}))
        assert {r.status_code for r in same_key} == {201}
        assert len({r.text for r in same_key}) == 1  # everyone got the first response
        assert http.get("/api/v1/wallet", headers=carol).json()["balances"][1]["total"] == "9.00"
        assert not app.state.container.ledger.check()

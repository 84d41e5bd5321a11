"""Inputs a fuzzer (schemathesis over the OpenAPI spec, and hand-made bodies) found answered with a 500: each
is now a 4xx problem with a stable code, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydesk.app import create_app
from paydesk.config import Settings
from paydesk.core import signing
from paydesk.core.clock import FrozenClock
from paydesk.fx.sources import RateSet
from tests.e2e.conftest import Person, sign_up


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    clock = FrozenClock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    with TestClient(create_app(settings, clock=clock, run_jobs=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def ops(client: TestClient) -> Person:
    person = sign_up(client, "Olga")
    for role in ("operator", "editor"):
        client.app.state.container.identity.grant_role(person.email, role)  # type: ignore[attr-defined]
    return person


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_rates_out_of_any_real_range_are_refused_and_the_public_rates_keep_working(client: TestClient,
                                                                                   ops: Person) -> None:
    assert ops.post("/api/v1/admin/rates", {"per_eur": {"HKD": "8.3", "USD": "1.05"}}, key=None).status_code == 201
    for typo in ("1e30", "1E-30", "1e999999", "9" * 40, "0.00000001", "100000001", "1" * 41):
        _refused(ops.post("/api/v1/admin/rates", {"per_eur": {"HKD": typo}}, key=None), 422, "invalid_rates")
        _refused(client.post("/api/v1/admin/rates/import?format=csv", content=f"HKD,{typo}\n".encode(),
                             headers=ops.auth), 422, "invalid_rates")
    for base in ("EUR", "HKD", "USD"):
        listed = client.get(f"/api/v1/rates?base={base}")
        assert listed.status_code == 200 and len(listed.json()["items"]) >= 2
    hkd = next(i for i in client.get("/api/v1/rates").json()["items"] if i["currency"] == "HKD")
    assert hkd["mid"].startswith("8.3")  # unchanged
    # The bounds themselves are rates.
    assert ops.post("/api/v1/admin/rates", {"per_eur": {"BTC": "0.0000001", "HKD": "100000000"}},
                    key=None).status_code == 201
    assert client.get("/api/v1/rates?base=BTC").status_code == 200


def test_a_rate_stored_before_the_bounds_is_unavailable_rather_than_an_error(client: TestClient, ops: Person) -> None:
    container = client.app.state.container  # type: ignore[attr-defined]
    container.fx.record(RateSet({"HKD": Decimal("1e30")}, container.clock.now(), "old"))
    assert client.get("/api/v1/rates?base=EUR").status_code == 200
    quote = ops.post("/api/v1/quotes", {"operation": "exchange", "currency": "EUR", "amount": "10",
                                        "to_currency": "HKD"}, key=None)
    assert quote.status_code in (409, 422) and quote.json()["code"] == "rate_unavailable", quote.text


def test_a_csv_too_odd_for_the_csv_reader_is_refused(client: TestClient, ops: Person) -> None:
    for content in (b"USD," + b"1" * 140_000 + b"\n", b"USD,1.05\x00\n"):
        response = client.post("/api/v1/admin/rates/import?format=csv", content=content, headers=ops.auth)
        assert response.status_code == 422 and response.json()["code"] in ("invalid_rates", "invalid_request")
    assert client.get("/api/v1/rates").json()["items"] == []


def test_times_at_the_ends_of_the_calendar_are_refused(client: TestClient, ops: Person) -> None:
    promotion = {"label": {"en": "x"}, "starts_at": "0001-01-01T00:00:00+01:00", "ends_at": "2027-01-01T00:00:00Z",
                 "percent_off": "10"}
    _refused(ops.post("/api/v1/admin/promotions", promotion, key=None), 422, "promotion_invalid")
    _refused(ops.post("/api/v1/admin/promotions", {**promotion, "starts_at": "2026-12-01T00:00:00Z",
                                                   "ends_at": "9999-12-31T23:59:59-01:00"}, key=None),
             422, "promotion_invalid")
    rules = client.get("/api/v1/fees").json()["rules"]
    _refused(ops.post("/api/v1/admin/fee-schedules", {"rules": rules, "effective_at": "9999-12-31T23:59:59-01:00"},
                      key=None), 422, "invalid_schedule")
    _refused(client.post("/api/v1/admin/rates/import?format=csv", content=b"USD,1.05,0001-01-01T00:00:00+01:00\n",
                         headers=ops.auth), 422, "invalid_rates")
    assert ops.get("/api/v1/admin/promotions").json()["items"] == []
    assert ops.get("/api/v1/admin/fee-schedules").status_code == 200
    assert client.get("/api/v1/rates").json()["items"] == []


def test_half_a_surrogate_pair_is_refused_before_anything_is_stored(client: TestClient, ops: Person) -> None:
    def raw(path: str, text: str, **headers: str) -> Any:
        return client.post(path, content=text.encode(), headers={**ops.auth, **headers})

    json_type = {"Content-Type": "application/json"}
    _refused(raw("/api/v1/admin/rates", '{"per_eur": {"HKD": "8.3", "\\ud800": "1"}}', **json_type),
             422, "invalid_text")
    _refused(raw("/api/v1/admin/promotions", '{"label": {"en": "ok", "zh-CN": "\\udc00"}, "starts_at": '
                 '"2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z", "percent_off": "10"}', **json_type),
             422, "invalid_text")
    _refused(raw("/api/v1/admin/rates", '{"per_eur": {"\\uD83D": "1"}}'), 422, "invalid_text")  # no type given
    assert client.get("/api/v1/rates").json()["items"] == []
    assert ops.get("/api/v1/admin/promotions").json()["items"] == []
    # A whole pair is an emoji, and a backslash before "ud800" is just text: both go through.
    fine = raw("/api/v1/admin/promotions", '{"label": {"en": "gift \\ud83c\\udf81 \\\\ud800"}, "starts_at": '
               '"2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z", "percent_off": "10"}', **json_type)
    assert fine.status_code == 201, fine.text
    assert ops.get("/api/v1/admin/promotions").json()["items"][0]["label"]["en"] == "gift 🎁 \\ud800"


def test_a_help_revision_beyond_any_number_is_refused(client: TestClient, ops: Person) -> None:
    body = {"title": "Card lost", "category": "security", "body": "Freeze it.", "keywords": "stolen"}
    saved = client.put("/api/v1/help/admin/articles/en/card-lost", json=body, headers=ops.auth).json()
    _refused(client.post(f"/api/v1/help/admin/articles/{saved['id']}/publish?revision={2**63}", headers=ops.auth),
             422, "invalid_request")
    _refused(client.post(f"/api/v1/help/admin/articles/{saved['id']}/publish?revision={2**31 - 1}",
                         headers=ops.auth), 404, "not_found")


def _signed(client: TestClient, raw: bytes) -> Any:
    container = client.app.state.container  # type: ignore[attr-defined]
    at = int(container.clock.now().timestamp())
    return client.post("/api/v1/rails/card/events", content=raw,
                       headers={"Paydesk-Signature": signing.sign(container.settings.rail_secret("card"), raw, at),
                                "Content-Type": "application/json"})


def test_signed_rail_events_of_the_wrong_shape_are_refused(client: TestClient) -> None:
    for event_type in ([], {}, 7):
        _refused(_signed(client, json.dumps({"id": "e1", "type": event_type, "reference": "x"}).encode()),
                 422, "invalid_request")
    _refused(_signed(client, b"[" * 100_000 + b"]" * 100_000), 422, "invalid_request")


def test_an_unexpected_error_logs_no_secrets(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(token: str = "") -> None:
        secret = f"kept-in-a-local-{token}"
        raise RuntimeError("boom " + str(len(secret)))

    client.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    response = client.get("/boom?token=tok-123456", headers={"Authorization": "Bearer tok-123456"})
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    out = capsys.readouterr()
    logged = out.out + out.err
    assert "unhandled_error" in logged and "RuntimeError: boom" in logged
    assert "tok-123456" not in logged and "kept-in-a-local" not in logged

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
    container.fx.record(RateSet({"HKD": Decimal("1e999999"), "USD": Decimal("1e-999999"), "GBP": Decimal("0.85")},
                                container.clock.now(), "old"))
    for base in ("EUR", "USD", "HKD", "GBP"):
        listed = client.get(f"/api/v1/rates?base={base}")
        assert listed.status_code == 200
        assert {item["currency"] for item in listed.json()["items"]} & {"HKD", "USD"} <= {base}
    assert client.get("/rates?base=USD").status_code == 200
    for source, target in (("EUR", "HKD"), ("USD", "HKD"), ("GBP", "USD")):
        quote = ops.post("/api/v1/quotes", {"operation": "exchange", "currency": source, "amount": "10",
                                            "to_currency": target}, key=None)
        _refused(quote, 422, "rate_unavailable")


def test_a_rate_is_refused_when_what_would_be_stored_is_too_long(ops: Person) -> None:
    _refused(ops.post("/api/v1/admin/rates", {"per_eur": {"HKD": "123456789012345678901234567890123456e-41"}},
                      key=None), 422, "invalid_rates")


def test_an_exchange_worth_more_than_a_wallet_can_hold_is_refused(ops: Person) -> None:
    assert ops.post("/api/v1/admin/rates", {"per_eur": {"JPY": "160", "ETH": "0.0003"}}, key=None).status_code == 201
    quote = ops.post("/api/v1/quotes", {"operation": "exchange", "currency": "JPY", "amount": "9000000000000000000",
                                        "to_currency": "ETH"}, key=None)
    _refused(quote, 422, "invalid_amount")
    assert quote.json()["reason"] == "too_large"


def test_a_csv_too_odd_for_the_csv_reader_is_refused(client: TestClient, ops: Person) -> None:
    response = client.post("/api/v1/admin/rates/import?format=csv", content=b"USD," + b"1" * 140_000 + b"\n",
                           headers=ops.auth)
    _refused(response, 422, "invalid_rates")
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


def test_raw_surrogates_in_any_encoding_and_oversized_json_bodies_are_refused(client: TestClient,
                                                                            ops: Person) -> None:
    promotion = ('{"label": {"en": "LONE"}, "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z", '
                 '"percent_off": "10"}')
    raw_utf8 = promotion.encode().replace(b"LONE", b"\xed\xa0\x80")  # the UTF-8 bytes of U+D800 itself
    for body, kind in ((raw_utf8, "application/json"),
                       (promotion.replace("LONE", "\ud800").encode("utf-16-le", "surrogatepass"), "application/json"),
                       (raw_utf8, "application/json; charset=utf-8")):
        _refused(client.post("/api/v1/admin/promotions", content=body, headers={**ops.auth, "Content-Type": kind}),
                 422, "invalid_text")
    big = promotion.replace("LONE", "ok") + " " * (1 << 20)
    _refused(client.post("/api/v1/admin/promotions", content=big.encode(),
                         headers={**ops.auth, "Content-Type": "application/json"}), 413, "payload_too_large")
    assert ops.get("/api/v1/admin/promotions").json()["items"] == []


def test_promotion_and_fee_fields_of_the_wrong_kind_or_size_are_refused(client: TestClient, ops: Person) -> None:
    base = {"label": {"en": "x"}, "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z",
            "percent_off": "10"}
    for extra in ({"per_user_limit": 2**63}, {"total_limit": 2**31}, {"first_n": 2**40}, {"new_users_days": 10**9},
                  {"currency": []}, {"operation": {}}, {"method": [1]}, {"cap": {"[]": "1"}}):
        _refused(ops.post("/api/v1/admin/promotions", {**base, **extra}, key=None), 422, "promotion_invalid")
    made = ops.post("/api/v1/admin/promotions", {**base, "total_limit": 2**31 - 1, "new_users_days": 36_500}, key=None)
    assert made.status_code == 201, made.text
    rules = client.get("/api/v1/fees").json()["rules"]
    for field, value in (("rounding", []), ("currencies", [[]]), ("method", {}), ("operation", ["p2p"])):
        broken = [{**rules[0], field: value}, *rules[1:]]
        _refused(ops.post("/api/v1/admin/fee-schedules", {"rules": broken, "effective_at": "2027-01-01T00:00:00Z"},
                          key=None), 422, "invalid_schedule")


def test_chat_commands_with_lone_surrogates_or_odd_numbers_are_answered_not_fatal(client: TestClient) -> None:
    token = client.post("/api/v1/support/visitors").json()["visitor_token"]
    with client.websocket_connect(f"/ws/chat?visitor_token={token}&after=99999999999999999999") as chat:
        assert chat.receive_json()["type"] == "hello"  # its catch-up reads past any number: nothing, no error
        chat.send_text('{"type": "typing", "seq": "\\udc00"}')
        assert chat.receive_json()["code"] == "invalid_text"  # the socket still listens
    with client.websocket_connect(f"/ws/chat?visitor_token={token}") as chat:
        assert chat.receive_json()["type"] == "hello"
        chat.send_text('{"type": "message", "body": "help \\ud800"}')
        error = chat.receive_json()
        assert error["type"] == "error" and error["code"] == "invalid_text"
        chat.send_text('{"type": "typing", "seq": "\\udc00"}')
        assert chat.receive_json()["code"] == "invalid_text"
        chat.send_text('{"type": "typing", "seq": "seven"}')  # not a number: sent on as none
        chat.send_text('{"type": "message", "body": "still here \\ud83d\\ude00"}')
        while (event := chat.receive_json())["type"] != "message" or event["kind"] != "inbound":
            pass
        assert event["body"] == "still here 😀"


def test_chat_frames_that_are_not_json_commands_are_answered_and_the_socket_stays(client: TestClient,
                                                                                  ops: Person) -> None:
    token = client.post("/api/v1/support/visitors").json()["visitor_token"]
    client.app.state.container.support.create_agent(ops.email, "general", 3)  # type: ignore[attr-defined]
    with client.websocket_connect(f"/ws/chat?visitor_token={token}") as chat, \
            client.websocket_connect(f"/ws/agent?token={ops.token}") as agent:
        assert chat.receive_json()["type"] == "hello" and agent.receive_json()["type"] == "hello"
        for socket in (chat, agent):
            for frame in ("help!", '{"type": "message", "body": ', "[" * 100_000 + "]" * 100_000):
                socket.send_text(frame)
                error = socket.receive_json()
                assert (error["type"], error["code"]) == ("error", "invalid_request"), frame[:20]
            socket.send_bytes(b'{"type": "typing"}')  # JSON, but in a binary frame
            assert socket.receive_json()["code"] == "invalid_request"
            socket.send_text("null")  # JSON that isn't a command: ignored, as before
            socket.send_text('"typing"')
        chat.send_text('{"type": "message", "body": "still here"}')
        while (event := chat.receive_json())["type"] != "message" or event["kind"] != "inbound":
            pass
        assert event["body"] == "still here" and event["seq"] == 1


def test_a_help_revision_beyond_any_number_is_refused(client: TestClient, ops: Person) -> None:
    body = {"title": "Card lost", "category": "security", "body": "Freeze it.", "keywords": "stolen"}
    saved = client.put("/api/v1/help/admin/articles/en/card-lost", json=body, headers=ops.auth).json()
    _refused(client.post(f"/api/v1/help/admin/articles/{saved['id']}/publish?revision={2**63}", headers=ops.auth),
             422, "invalid_request")
    _refused(client.post(f"/api/v1/help/admin/articles/{saved['id']}/publish?revision={2**31 - 1}",
                         headers=ops.auth), 404, "not_found")


def _signed(client: TestClient, raw: bytes, kind: str = "application/json") -> Any:
    container = client.app.state.container  # type: ignore[attr-defined]
    at = int(container.clock.now().timestamp())
    return client.post("/api/v1/rails/card/events", content=raw,
                       headers={"Paydesk-Signature": signing.sign(container.settings.rail_secret("card"), raw, at),
                                "Content-Type": kind})


def test_signed_rail_events_of_the_wrong_shape_are_refused(client: TestClient) -> None:
    for event_type in ([], {}, 7):
        _refused(_signed(client, json.dumps({"id": "e1", "type": event_type, "reference": "x"}).encode()),
                 422, "invalid_request")
    _refused(_signed(client, b"[" * 100_000 + b"]" * 100_000), 422, "invalid_request")
    _refused(_signed(client, b'{"id": "\\ud800", "type": "deposit.succeeded", "reference": "x"}', "text/plain"),
             422, "invalid_request")


def test_an_unexpected_error_logs_no_secrets(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(token: str = "") -> None:
        secret = f"kept-in-a-local-{token}"
        raise RuntimeError("boom " + str(len(secret)))

    client.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    response = client.get("/boom?token=tok-123456", headers={"Authorization": "Bearer tok-123456"})
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    out = capsys.readouterr()
    logged = out.out + out.err
    assert "unhandled_error" in logged and "RuntimeError: boom" in logged
    assert "tok-123456" not in logged and "kept-in-a-local" not in logged

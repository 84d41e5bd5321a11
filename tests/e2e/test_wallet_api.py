"""The wallet over HTTP, on SQLite and PostgreSQL: the whole journey and its edges."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from paydesk.core import signing
from tests.e2e.conftest import PASSWORD, Person, sign_up

IBAN = "DE89370400440532013000"


def event(client: TestClient, rail: str, body: dict[str, str], *, secret: str | None = None,
          at: int | None = None) -> object:
    raw = json.dumps(body).encode()
    settings = client.app.state.container.settings  # type: ignore[attr-defined]
    signature = signing.sign(secret or settings.rail_secret(rail), raw, at or int(time.time()))
    return client.post(f"/api/v1/rails/{rail}/events", content=raw,
                       headers={"Paydesk-Signature": signature, "Content-Type": "application/json"})


def test_register_top_up_send_withdraw_and_see_it_all(client: TestClient, alice: Person, bob: Person) -> None:
    me = alice.get("/api/v1/me").json()
    assert me["email"] == alice.email and me["wallet_id"].startswith("PD-")
    topped = alice.top_up("250.00")
    assert topped["status"] == "completed" and topped["amount"] == "250.00"
    assert alice.balance("USD") == {"currency": "USD", "available": "250.00", "pending": "0.00", "total": "250.00"}

    sent = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "40.5", "note": "晚饭"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["type"] == "send" and sent.json()["amount"] == "40.50" and sent.json()["fee"] == "0.00"
    assert bob.balance("USD")["available"] == "40.50"
    received = bob.get("/api/v1/transactions").json()["items"][0]
    assert received["type"] == "receive" and received["counterparty"] == "Alice" and received["note"] == "晚饭"
    # by phone and by wallet id, too
    for to in ("+86 138 1234 5678", bob.wallet_id.lower().replace("-", "")):
        assert alice.post("/api/v1/transfers", {"to": to, "currency": "USD", "amount": "1"}).status_code == 201
    assert bob.balance("USD")["available"] == "42.50"

    out = alice.post("/api/v1/withdrawals", {"currency": "USD", "amount": "100", "method": "bank_domestic",
                                             "destination": {"iban": "DE89 3704 0044 0532 0130 00"}})
    assert out.status_code == 201, out.text
    assert out.json()["status"] == "completed" and out.json()["destination"] == {"iban": IBAN}
    # a domestic bank withdrawal (a German IBAN, Alice's country by default) costs the schedule's fixed 1.00
    assert out.json()["fee"] == "1.00" and out.json()["fee_rule"] == "1:withdraw-bank-domestic"
    assert alice.balance("USD") == {"currency": "USD", "available": "106.50", "pending": "0.00", "total": "106.50"}

    history = alice.get("/api/v1/transactions").json()["items"]
    assert [t["type"] for t in history] == ["withdrawal", "send", "send", "send", "topup"]
    one = alice.get(f"/api/v1/transactions/{history[0]['id']}").json()
    assert one == history[0]
    today = datetime.now(UTC).date().isoformat()
    statement = alice.get("/api/v1/statements", params={"since": today, "until": today})
    assert statement.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(statement.text)))
    assert [r["amount"] for r in rows] == ["250.00", "-40.50", "-1.00", "-1.00", "-100.00"]
    assert not client.app.state.container.ledger.check()  # type: ignore[attr-defined]
    outbox = client.app.state.container.notify.recent()  # type: ignore[attr-defined]
    subjects = {m.subject for m in outbox}
    assert "您收到了 40.50 USD" in subjects  # Bob reads Chinese
    assert "Your top-up of 250.00 USD arrived" in subjects


def test_delayed_rails_settle_by_signed_webhook(client: TestClient, alice: Person) -> None:
    client.app.state.container.wallet.providers["btc"].delayed = True  # type: ignore[attr-defined]
    client.app.state.container.wallet.providers["eth"].delayed = True  # type: ignore[attr-defined]
    topped = alice.top_up("0.5", "BTC", "btc")
    assert topped["status"] == "pending" and alice.balance("BTC")["total"] == "0"
    assert event(client, "btc", {"id": "ev1", "type": "deposit.succeeded", "reference": topped["reference"]}
                 ).status_code == 200  # type: ignore[attr-defined]
    assert alice.balance("BTC")["available"] == "0.50000000"
    replay = event(client, "btc", {"id": "ev1", "type": "deposit.succeeded", "reference": topped["reference"]})
    assert replay.json()["status"] == "duplicate"  # type: ignore[attr-defined]
    assert alice.balance("BTC")["available"] == "0.50000000"

    out = alice.post("/api/v1/withdrawals", {"currency": "BTC", "amount": "0.2", "method": "btc",
                                             "destination": {"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}})
    assert out.status_code == 201 and out.json()["status"] == "pending"
    assert out.json()["fee"] == "0.00020000"  # the network fee, held with the amount
    assert alice.balance("BTC") == {"currency": "BTC", "available": "0.29980000", "pending": "0.20020000",
                                    "total": "0.50000000"}
    failed = event(client, "btc", {"id": "ev2", "type": "withdrawal.failed", "reference": out.json()["reference"]})
    assert failed.json()["transaction"]["status"] == "failed"  # type: ignore[attr-defined]
    assert alice.balance("BTC")["available"] == "0.50000000"
    assert not client.app.state.container.ledger.check()  # type: ignore[attr-defined]


def test_webhooks_refuse_bad_signatures_stale_events_and_unknown_references(client: TestClient, alice: Person) -> None:
    client.app.state.container.wallet.providers["card"].delayed = True  # type: ignore[attr-defined]
    topped = alice.top_up("10", "USD", "card")
    ok = {"id": "e1", "type": "deposit.succeeded", "reference": topped["reference"]}
    cases = [
        (event(client, "card", ok, secret="wrong-secret"), 401, "bad_signature"),
        (event(client, "card", ok, at=int(time.time()) - 301), 401, "stale_event"),
        (event(client, "card", {**ok, "reference": "nope"}), 404, "unknown_reference"),
        (event(client, "card", {**ok, "type": "withdrawal.succeeded"}), 422, "event_mismatch"),
        (event(client, "nowhere", ok), 404, "unknown_rail"),
        (client.post("/api/v1/rails/card/events", content=b"{}"), 401, "bad_signature"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text  # type: ignore[attr-defined]
        assert response.json()["code"] == code  # type: ignore[attr-defined]
    assert alice.balance("USD")["total"] == "0"
    assert event(client, "card", ok).status_code == 200  # type: ignore[attr-defined]
    assert alice.balance("USD")["total"] == "9.70"  # 10.00 less the card fee's minimum, 0.30


def test_a_retry_with_the_same_key_returns_the_first_response(alice: Person, bob: Person) -> None:
    alice.top_up("100")
    body = {"to": bob.email, "currency": "USD", "amount": "30"}
    first = alice.post("/api/v1/transfers", body, key="pay-bob-1")
    again = alice.post("/api/v1/transfers", body, key="pay-bob-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert bob.balance("USD")["total"] == "30.00"
    other = alice.post("/api/v1/transfers", {**body, "amount": "31"}, key="pay-bob-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    missing = alice.post("/api/v1/transfers", body, key=None)
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    assert bob.balance("USD")["total"] == "30.00"


def test_bad_requests_get_their_own_code_and_change_nothing(client: TestClient, alice: Person, bob: Person) -> None:
    alice.top_up("50")
    send = "/api/v1/transfers"
    cases = [
        (send, {"to": alice.email, "currency": "USD", "amount": "1"}, "cannot_send_to_self"),
        (send, {"to": "nobody@example.com", "currency": "USD", "amount": "1"}, "recipient_not_found"),
        (send, {"to": "PD-0000-0000", "currency": "USD", "amount": "1"}, "recipient_not_found"),
        (send, {"to": bob.email, "currency": "XAU", "amount": "1"}, "unknown_currency"),
        (send, {"to": bob.email, "currency": "USD", "amount": "50.01"}, "insufficient_funds"),
        (send, {"to": bob.email, "currency": "EUR", "amount": "1"}, "insufficient_funds"),
        (send, {"to": bob.email, "currency": "USD", "amount": "0"}, "invalid_amount"),
        (send, {"to": bob.email, "currency": "USD", "amount": "-5"}, "invalid_amount"),
        (send, {"to": bob.email, "currency": "USD", "amount": 5}, "invalid_amount"),
        (send, {"to": bob.email, "currency": "USD", "amount": "1.005"}, "invalid_amount"),
        (send, {"to": bob.email, "currency": "USD", "amount": "1e2"}, "invalid_amount"),
        (send, {"to": bob.email, "currency": "USD", "amount": "NaN"}, "invalid_amount"),
        (send, {"to": bob.email, "currency": "USD", "amount": " 1"}, "invalid_amount"),
        (send, {"to": bob.email, "currency": "USD"}, "invalid_request"),
        ("/api/v1/deposits", {"currency": "USD", "amount": "5", "method": "pigeon"}, "unknown_method"),
        ("/api/v1/deposits", {"currency": "BTC", "amount": "1", "method": "card"}, "method_not_available"),
        ("/api/v1/deposits", {"currency": "USD", "amount": "20000", "method": "card"}, "amount_out_of_range"),
        ("/api/v1/withdrawals", {"currency": "USD", "amount": "5", "method": "card", "destination": {}},
         "method_not_available"),
        ("/api/v1/withdrawals", {"currency": "USD", "amount": "5", "method": "bank_domestic",
                                 "destination": {"iban": "DE89370400440532013001"}}, "invalid_iban"),
        ("/api/v1/withdrawals", {"currency": "USD", "amount": "10", "method": "bank_international",
                                 "destination": {"iban": IBAN, "bic": "DEUT"}}, "invalid_bic"),
        ("/api/v1/withdrawals", {"currency": "USD", "amount": "5", "method": "bank_domestic",
                                 "destination": {"account": "1"}}, "invalid_destination"),
        ("/api/v1/withdrawals", {"currency": "USD", "amount": "60", "method": "bank_domestic",
                                 "destination": {"iban": IBAN}}, "insufficient_funds"),
    ]
    for path, body, code in cases:
        response = alice.post(path, body)
        assert response.status_code in (400, 404, 409, 422), (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code, (body, response.json())
    assert alice.balance("USD")["available"] == "50.00"
    assert bob.get("/api/v1/wallet").json()["balances"] == []
    assert len(alice.get("/api/v1/transactions").json()["items"]) == 1
    assert not client.app.state.container.ledger.check()  # type: ignore[attr-defined]


def test_crypto_destinations_are_checked(alice: Person) -> None:
    alice.top_up("1", "BTC", "btc")
    alice.top_up("100", "USDT", "tron")
    cases = [
        ("BTC", "btc", {"address": "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"}, "invalid_btc_address"),
        ("USDT", "eth", {"address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}, "eth_checksum_mismatch"),
        ("USDT", "eth", {"address": "0x12"}, "invalid_eth_address"),
        ("USDT", "tron", {"address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"}, "invalid_tron_address"),
    ]
    for currency, method, destination, code in cases:
        response = alice.post("/api/v1/withdrawals", {"currency": currency, "amount": "0.5" if currency == "BTC"
                                                      else "5", "method": method, "destination": destination})
        assert response.json()["code"] == code
    ok = alice.post("/api/v1/withdrawals", {"currency": "USDT", "amount": "5", "method": "tron",
                                            "destination": {"address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}})
    assert ok.status_code == 201 and alice.balance("USDT")["available"] == "94.000000"  # 5 + 1 network fee


def test_a_user_sees_and_changes_nothing_of_anothers(client: TestClient, alice: Person, bob: Person) -> None:
    tx = alice.top_up("20")
    assert bob.get(f"/api/v1/transactions/{tx['id']}").status_code == 404
    assert bob.get("/api/v1/transactions").json()["items"] == []
    assert bob.get("/api/v1/wallet").json()["balances"] == []
    assert bob.get("/api/v1/me").json()["email"] == bob.email
    assert client.get("/api/v1/wallet").status_code == 401
    assert client.get("/api/v1/wallet", headers={"Authorization": "Bearer nonsense"}).json()["code"] == \
        "not_authenticated"
    # Bob reusing Alice's idempotency key moves Bob's money (keys are per user), never Alice's
    response = bob.post("/api/v1/transfers", {"to": alice.email, "currency": "USD", "amount": "1"}, key="k")
    assert response.json()["code"] == "insufficient_funds"
    assert alice.balance("USD")["total"] == "20.00"


def test_logout_ends_the_session_and_wrong_passwords_look_alike(client: TestClient, alice: Person) -> None:
    wrong = client.post("/api/v1/auth/login", json={"login": alice.email, "password": "not the password!"})
    unknown = client.post("/api/v1/auth/login", json={"login": "ghost@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert client.post("/api/v1/auth/logout", headers=alice.auth).status_code == 204
    assert alice.get("/api/v1/me").status_code == 401


def test_registration_checks_its_input(client: TestClient) -> None:
    cases = [
        ({"email": "not-an-email", "password": PASSWORD}, "invalid_email"),
        ({"phone": "12345", "password": PASSWORD}, "invalid_phone"),
        ({"email": "short@example.com", "password": "short"}, "weak_password"),
        ({"email": "carol@example.com", "password": "carol-secret-passphrase"}, "weak_password"),
        ({"password": PASSWORD}, "invalid_email"),
    ]
    for body, code in cases:
        response = client.post("/api/v1/auth/register", json=body)
        assert response.status_code == 422 and response.json()["code"] == code, response.text
    person = sign_up(client, "Dora")
    again = client.post("/api/v1/auth/register", json={"email": person.email.upper(), "password": PASSWORD})
    assert again.status_code in (201, 409)  # the local part is case-sensitive by RFC; the domain is not


HOSTILE_AMOUNTS = ["", " ", "0", "-1", "+1", "1e3", "NaN", "Infinity", "0x10", "1,000", "1_000", "１２", "1.001",
                   "9" * 41, "99999999999999999999", "1.2.3", ".5", "5.", None, 5, 5.5, True, [], {}]


def test_hostile_amounts_on_every_money_endpoint_change_nothing(client: TestClient, alice: Person,
                                                                  bob: Person) -> None:
    alice.top_up("100")
    endpoints = [
        ("/api/v1/deposits", {"currency": "USD", "method": "card"}),
        ("/api/v1/transfers", {"to": bob.email, "currency": "USD"}),
        ("/api/v1/withdrawals", {"currency": "USD", "method": "bank_domestic", "destination": {"iban": IBAN}}),
    ]
    for path, body in endpoints:
        for amount in HOSTILE_AMOUNTS:
            response = alice.post(path, {**body, "amount": amount})
            assert response.status_code == 422, (path, amount, response.text)
            assert response.json()["code"] in ("invalid_amount", "amount_out_of_range"), (path, amount)
    assert alice.balance("USD") == {"currency": "USD", "available": "100.00", "pending": "0.00", "total": "100.00"}
    assert len(alice.get("/api/v1/transactions").json()["items"]) == 1
    assert not client.app.state.container.ledger.check()  # type: ignore[attr-defined]


def test_hostile_ids_cursors_and_keys_are_refused_cleanly(alice: Person, bob: Person) -> None:
    for tx_id in ("nope", "1", "00000000-0000-0000-0000-000000000000", "' OR 1=1 --", "%00"):
        response = alice.get(f"/api/v1/transactions/{tx_id}")
        assert response.status_code in (404, 422) and response.headers["content-type"] == "application/problem+json"
    for cursor in ("garbage", "MjAyNnxub3BlCg==", "=" * 10):
        response = alice.get("/api/v1/transactions", params={"cursor": cursor})
        assert response.status_code == 422 and response.json()["code"] == "invalid_cursor"
    for to in ("", "PD-", "+", "@", "a" * 320, "'; DROP TABLE users; --"):
        response = alice.post("/api/v1/transfers", {"to": to, "currency": "USD", "amount": "1"})
        assert response.status_code == 422 and response.json()["code"] == "recipient_not_found", to
    long_key = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "1"}, key="k" * 300)
    assert long_key.status_code == 400 and long_key.json()["code"] == "idempotency_key_required"


def test_every_endpoint_refuses_a_stranger_and_hides_others_data(client: TestClient, alice: Person,
                                                                 bob: Person) -> None:
    tx = alice.top_up("20")
    for method, path in [("GET", "/api/v1/me"), ("GET", "/api/v1/wallet"), ("GET", "/api/v1/transactions"),
                         ("GET", f"/api/v1/transactions/{tx['id']}"), ("POST", "/api/v1/deposits"),
                         ("POST", "/api/v1/transfers"), ("POST", "/api/v1/withdrawals"),
                         ("POST", "/api/v1/auth/logout"),
                         ("GET", "/api/v1/statements?since=2026-01-01&until=2026-12-31")]:
        response = client.request(method, path, json={})
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated", path
    assert bob.get(f"/api/v1/transactions/{tx['id']}").status_code == 404
    statement = bob.get("/api/v1/statements", params={"since": "2026-01-01", "until": "2026-12-31"})
    assert statement.text.count("\n") == 1  # the header only
    # Replaying Alice's idempotency key as Bob does not return Alice's response.
    key = "shared-key"
    alice.post("/api/v1/deposits", {"currency": "USD", "amount": "1", "method": "card"}, key=key)
    replay = bob.post("/api/v1/deposits", {"currency": "USD", "amount": "1", "method": "card"}, key=key)
    assert replay.status_code == 201 and replay.json()["id"] not in {t["id"] for t in
                                                                    alice.get("/api/v1/transactions").json()["items"]}


def test_a_late_report_that_contradicts_a_settled_withdrawal_is_refused_loudly(client: TestClient,
                                                                                alice: Person) -> None:
    alice.top_up("1", "BTC", "btc")
    client.app.state.container.wallet.providers["btc"].delayed = True  # type: ignore[attr-defined]
    out = alice.post("/api/v1/withdrawals", {"currency": "BTC", "amount": "0.5", "method": "btc",
                                             "destination": {"address": "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"}}).json()
    ref = out["reference"]
    failed = event(client, "btc", {"id": "w1", "type": "withdrawal.failed", "reference": ref})
    assert failed.status_code == 200  # type: ignore[attr-defined]
    late = event(client, "btc", {"id": "w2", "type": "withdrawal.succeeded", "reference": ref})
    assert late.status_code == 409 and late.json()["code"] == "conflicting_outcome"  # type: ignore[attr-defined]
    assert alice.balance("BTC")["available"] == "1.00000000"
    again = event(client, "btc", {"id": "w3", "type": "withdrawal.failed", "reference": ref})
    assert again.json()["status"] == "no_change"  # type: ignore[attr-defined]


def test_odd_signature_headers_and_extreme_dates_are_clean_errors(client: TestClient, alice: Person) -> None:
    for header in ("t=1,v1=é" + "0" * 63, "t=" + "9" * 5000 + ",v1=" + "0" * 64, "garbage", "t=,v1="):
        response = client.post("/api/v1/rails/card/events", content=b"{}",
                               headers={"Paydesk-Signature": header.encode()})
        assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    assert alice.get("/api/v1/transactions", params={"until": "9999-12-31"}).status_code == 200
    assert alice.get("/api/v1/statements", params={"since": "9999-01-01", "until": "9999-12-31"}).status_code == 200
    assert alice.get("/wallet/statement.csv", params={"since": "0001-01-01", "until": "9999-12-31"}).status_code == 200
    assert alice.get("/wallet/statement.csv", params={"since": "0001-01-01", "until": "0001-01-02"}).status_code == 200


def test_a_cookie_session_cannot_call_the_api_without_the_csrf_header(client: TestClient, alice: Person) -> None:
    client.cookies.set("paydesk_session", alice.token)
    response = client.post("/api/v1/auth/logout", data={"x": "1"})
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert alice.get("/api/v1/me").status_code == 200


def test_people_log_in_with_their_phone_number_in_any_common_format(client: TestClient, bob: Person) -> None:
    for login in ("+8613812345678", "+86 138 1234 5678", "+86-138-1234-5678"):
        response = client.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
        assert response.status_code == 200, (login, response.text)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}).json()
    assert me["phone"] == "+8613812345678" and me["email"] == bob.email

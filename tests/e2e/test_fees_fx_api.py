"""Fees, quotes, rates and exchanges over HTTP: what is quoted is what is charged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paydesk.app import create_app
from paydesk.config import Settings
from paydesk.core.clock import FrozenClock
from tests.e2e.conftest import PASSWORD, Person, sign_up

IBAN_DE = "DE89370400440532013000"
IBAN_FR = "FR1420041010050500013M02606"
ECB = Path(__file__).parents[1] / "data" / "eurofxref-daily.xml"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))  # two days after the ECB file's rates


@pytest.fixture
def client(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock, run_jobs=False), raise_server_exceptions=False) as c:
        yield c


def _operator(client: TestClient) -> Person:
    ops = sign_up(client, "Olga")
    client.app.state.container.identity.grant_role(ops.email, "operator")  # type: ignore[attr-defined]
    return ops


def _rates(ops: Person, **per_eur: str) -> None:
    assert ops.post("/api/v1/admin/rates", {"per_eur": per_eur}, key=None).status_code == 201


def test_the_public_schedule_and_a_quote_that_is_charged_exactly(client: TestClient, alice: Person,
                                                                 clock: FrozenClock) -> None:
    fees = client.get("/api/v1/fees").json()
    assert fees["version"] == 1 and fees["rules"][0]["id"] == "p2p-free"
    alice.top_up("500", "EUR")
    body = {"operation": "withdraw", "currency": "EUR", "amount": "100", "method": "bank_domestic",
            "destination": {"iban": IBAN_FR}}
    quote = alice.post("/api/v1/quotes", body, key=None).json()
    assert quote["fee"] == "2.00" and quote["fee_rule"] == "1:withdraw-bank-cross-border"
    assert quote["region"] == "international" and quote["debit"] == "102.00" and quote["credit"] == "100.00"
    out = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "100", "method": "bank_domestic",
                                             "destination": {"iban": IBAN_FR}, "quote_id": quote["quote_id"]})
    assert out.status_code == 201 and out.json()["fee"] == "2.00"
    assert alice.balance("EUR")["total"] == "398.00"
    again = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "100", "method": "bank_domestic",
                                               "destination": {"iban": IBAN_FR}, "quote_id": quote["quote_id"]})
    assert again.status_code == 409 and again.json()["code"] == "quote_expired"  # used up
    # a quote for one thing can't pay for another; an old one can't pay at all
    fresh = alice.post("/api/v1/quotes", {**body, "destination": {"iban": IBAN_DE}}, key=None).json()
    assert fresh["fee"] == "1.00" and fresh["region"] == "domestic"
    other = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "100", "method": "bank_domestic",
                                               "destination": {"iban": IBAN_FR}, "quote_id": fresh["quote_id"]})
    assert other.status_code == 409 and other.json()["code"] == "quote_mismatch"
    clock.advance(timedelta(minutes=11))
    late = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "100", "method": "bank_domestic",
                                              "destination": {"iban": IBAN_DE}, "quote_id": fresh["quote_id"]})
    assert late.status_code == 409 and late.json()["code"] == "quote_expired"
    assert alice.post("/api/v1/transfers", {"to": "x@example.com", "currency": "EUR", "amount": "1",
                                            "quote_id": "nope"}).status_code in (404, 422)
    assert alice.balance("EUR")["total"] == "398.00"
    card = alice.post("/api/v1/quotes", {"operation": "topup", "currency": "USD", "amount": "100", "method": "card"},
                      key=None).json()
    assert (card["fee"], card["credit"]) == ("1.50", "98.50")
    topped = alice.post("/api/v1/deposits", {"currency": "USD", "amount": "100", "method": "card",
                                             "quote_id": card["quote_id"]})
    assert topped.json()["fee"] == "1.50" and alice.balance("USD")["total"] == "98.50"


def test_a_new_schedule_applies_from_its_time_and_old_fees_keep_their_rule(client: TestClient, alice: Person,
                                                                           clock: FrozenClock) -> None:
    ops = _operator(client)
    alice.top_up("500", "EUR")
    before = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "10", "method": "bank_domestic",
                                                "destination": {"iban": IBAN_DE}}).json()
    assert before["fee_rule"] == "1:withdraw-bank-domestic" and before["fee"] == "1.00"
    rules = client.get("/api/v1/fees").json()["rules"]
    for rule in rules:
        if rule["id"] == "withdraw-bank-domestic":
            rule["fixed"] = {**rule["fixed"], "EUR": "0.80"}
    assert alice.post("/api/v1/admin/fee-schedules", {"rules": rules, "effective_at": clock.now().isoformat()},
                      key=None).status_code == 403  # operators only
    past = ops.post("/api/v1/admin/fee-schedules", {"rules": rules, "effective_at": (clock.now() - timedelta(
        days=1)).isoformat()}, key=None)
    assert past.status_code == 422 and past.json()["code"] == "invalid_schedule"
    bad = ops.post("/api/v1/admin/fee-schedules", {"rules": [{"id": "x", "operation": "p2p", "percent": "200"}],
                                                   "effective_at": clock.now().isoformat()}, key=None)
    assert bad.status_code == 422 and "rule 1" in bad.json()["detail"]
    soon = clock.now() + timedelta(minutes=10)
    published = ops.post("/api/v1/admin/fee-schedules", {"rules": rules, "effective_at": soon.isoformat(),
                                                         "note": "cheaper domestic withdrawals"}, key=None)
    assert published.status_code == 201 and published.json()["version"] == 2
    assert client.get("/api/v1/fees").json()["upcoming"][0]["version"] == 2
    today = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "10", "method": "bank_domestic",
                                               "destination": {"iban": IBAN_DE}}).json()
    assert today["fee"] == "1.00"  # not yet
    clock.advance(timedelta(minutes=10, seconds=1))
    client.app.state.container.fees._cache = None  # type: ignore[attr-defined]  # (other processes: within 5 s)
    after = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "10", "method": "bank_domestic",
                                               "destination": {"iban": IBAN_DE}}).json()
    assert after["fee"] == "0.80" and after["fee_rule"] == "2:withdraw-bank-domestic"
    kept = alice.get(f"/api/v1/transactions/{before['id']}").json()
    assert kept["fee"] == "1.00" and kept["fee_rule"] == "1:withdraw-bank-domestic"  # yesterday's rule stays
    versions = ops.get("/api/v1/admin/fee-schedules").json()["items"]
    assert [v["version"] for v in versions] == [1, 2]


def test_exchange_charges_exactly_the_quote_and_conserves_every_currency(client: TestClient, alice: Person,
                                                                         clock: FrozenClock) -> None:
    ops = _operator(client)
    imported = client.post("/api/v1/admin/rates/import?format=ecb", content=ECB.read_bytes(), headers=ops.auth)
    assert imported.status_code == 201 and "CHF" in imported.json()["skipped"]
    _rates(ops, USD="1.0562", CNY="7.6473")  # today's, as the ECB file is two days old
    rates = client.get("/api/v1/rates?base=USD").json()
    cny = next(i for i in rates["items"] if i["currency"] == "CNY")
    assert cny["mid"] == "7.240390077637" and cny["spread_percent"] == "0.5"
    alice.top_up("1000", "USD")
    quote = alice.post("/api/v1/quotes", {"operation": "exchange", "currency": "USD", "amount": "100",
                                          "to_currency": "CNY"}, key=None).json()
    assert quote["rate"] == cny["rate"] and quote["credit"] == "720.41"  # 100 × 7.2041881272… rounded down
    assert quote["expires_at"] == (clock.now() + timedelta(seconds=45)).isoformat()
    done = alice.post("/api/v1/exchanges", {"from_currency": "USD", "to_currency": "CNY", "amount": "100",
                                            "quote_id": quote["quote_id"]})
    assert done.status_code == 201, done.text
    assert (done.json()["type"], done.json()["to_amount"], done.json()["to_currency"]) == ("exchange", "720.41",
                                                                                          "CNY")
    assert alice.balance("USD")["total"] == "900.00" and alice.balance("CNY")["total"] == "720.41"
    positions = {p["currency"]: p["position_minor"] for p in ops.get("/api/v1/admin/fx-positions").json()["items"]}
    assert positions == {"USD": 10000, "CNY": -72041}
    assert alice.get("/api/v1/admin/fx-positions").status_code == 403
    late = alice.post("/api/v1/quotes", {"operation": "exchange", "currency": "USD", "amount": "100",
                                         "to_currency": "CNY"}, key=None).json()
    clock.advance(timedelta(seconds=46))
    expired = alice.post("/api/v1/exchanges", {"from_currency": "USD", "to_currency": "CNY", "amount": "100",
                                               "quote_id": late["quote_id"]})
    assert expired.status_code == 409 and expired.json()["code"] == "quote_expired"
    no_rate = alice.post("/api/v1/exchanges", {"from_currency": "USD", "to_currency": "BTC", "amount": "1"})
    assert no_rate.status_code == 422 and no_rate.json()["code"] == "rate_unavailable"
    same = alice.post("/api/v1/exchanges", {"from_currency": "USD", "to_currency": "USD", "amount": "1"})
    assert same.json()["code"] == "same_currency"
    broke = alice.post("/api/v1/exchanges", {"from_currency": "USD", "to_currency": "CNY", "amount": "901"})
    assert broke.status_code == 422 and broke.json()["code"] == "insufficient_funds"
    clock.advance(timedelta(days=5))
    alice.token = client.post("/api/v1/auth/login", json={"login": alice.email, "password": PASSWORD}
                              ).json()["access_token"]
    stale = alice.post("/api/v1/exchanges", {"from_currency": "USD", "to_currency": "CNY", "amount": "1"})
    assert stale.status_code == 503 and stale.json()["code"] == "rate_stale"
    assert alice.balance("USD")["total"] == "900.00"
    assert not client.app.state.container.ledger.check()  # type: ignore[attr-defined]


def test_rates_from_the_future_or_from_strangers_are_refused(client: TestClient, alice: Person) -> None:
    ops = _operator(client)
    future = client.post("/api/v1/admin/rates/import?format=csv", content=b"USD,1.05,2027-01-01\n", headers=ops.auth)
    assert future.status_code == 422 and future.json()["code"] == "invalid_rates"
    assert client.post("/api/v1/admin/rates/import?format=csv", content=b"USD,1.05\n",
                       headers=alice.auth).status_code == 403
    assert client.post("/api/v1/admin/rates", json={"per_eur": {"USD": "0"}}, headers=ops.auth).status_code == 422
    assert client.get("/api/v1/rates").json() == {"base": "EUR", "items": []}


def test_the_fee_and_rate_pages_come_from_the_live_system(client: TestClient, clock: FrozenClock) -> None:
    page = client.get("/fees?lang=en")
    assert page.status_code == 200 and "version 1" in page.text
    assert "100.00 USD</td><td>1.50 USD" in page.text  # a worked example, priced by the engine
    assert "Card top-up: 1.5%" in page.text and "0.30 USD" in page.text
    zh = client.get("/fees?lang=zh-CN")
    assert "收费标准" in zh.text and "银行卡充值" in zh.text
    assert "No rates have been set yet." in client.get("/rates?lang=en").text
    ops = _operator(client)
    _rates(ops, USD="1.08", CNY="7.8")
    rates = client.get("/rates?lang=en&base=USD")
    assert "1 USD → CNY" in rates.text and "7.222222222222" in rates.text and "0.5 %" in rates.text
    ops.post("/api/v1/admin/fee-schedules", {"rules": [{"id": "all-free", "operation": "p2p"}],
                                             "effective_at": (clock.now() + timedelta(hours=1)).isoformat()},
             key=None)
    assert "Version 2 takes effect" in client.get("/fees?lang=en").text


def _sign_in_page(client: TestClient, who: Person) -> None:
    import re

    page = client.get("/login?lang=en")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    client.post("/login", data={"login": who.email, "password": PASSWORD, "csrf_token": token.group(1)})


def test_operators_publish_on_the_admin_page_and_read_the_revenue_report(client: TestClient,
                                                                         alice: Person) -> None:
    import re

    alice.top_up("300", "EUR")
    for _ in range(2):
        assert alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "10", "method": "bank_domestic",
                                                  "destination": {"iban": IBAN_DE}}).status_code == 201
    alice.post("/api/v1/deposits", {"currency": "USD", "amount": "100", "method": "card"})
    _sign_in_page(client, alice)
    assert client.get("/admin/fees").status_code == 404  # not an operator: nothing to see here
    ops = _operator(client)
    _sign_in_page(client, ops)
    page = client.get("/admin/fees?lang=en")
    assert page.status_code == 200 and "Version 1" in page.text and "withdraw-bank-domestic" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    broken = client.post("/admin/fees", data={"csrf_token": csrf.group(1), "rules": "[{", "effective_at":
                                              "2026-11-29T10:00"})
    assert broken.status_code == 422 and "JSON" in broken.text
    invalid = client.post("/admin/fees", data={"csrf_token": csrf.group(1), "rules": '[{"id": "a", "operation": '
                                               '"p2p", "percent": "101"}]', "effective_at": "2026-11-29T10:00"})
    assert invalid.status_code == 422 and "between 0 and 100" in invalid.text
    lone = client.post("/admin/fees", data={"csrf_token": csrf.group(1), "rules": '[{"id": "a", "operation": "p2p", '
                                            '"label": {"en": "\\ud800"}}]', "effective_at": "2026-11-29T10:00"})
    assert lone.status_code == 422 and "surrogate" in lone.text
    deep = client.post("/admin/fees", data={"csrf_token": csrf.group(1), "rules": "[" * 100_000,
                                            "effective_at": "2026-11-29T10:00"})
    assert deep.status_code == 422 and "JSON" in deep.text
    done = client.post("/admin/fees", data={"csrf_token": csrf.group(1), "rules": '[{"id": "free", "operation": '
                                            '"p2p"}]', "effective_at": "2026-11-29T10:00", "note": "test"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/fees?saved=2"
    assert "Version 2" in client.get("/admin/fees?lang=en").text
    report = client.get("/admin/reports/fees?lang=en&currency=EUR")
    assert report.status_code == 200 and "<svg" in report.text and "No exchanges yet." in report.text
    assert "1:withdraw-bank-domestic</code></td><td>2</td><td>2.00" in report.text
    csv_text = client.get("/admin/reports/fees.csv").text
    assert csv_text.splitlines()[0] == "day,currency,rule,count,fees"
    for since, until in (("0001-01-01", "0001-01-05"), ("0001-01-01", "9999-12-31")):  # clamped, ten years at most
        far = client.get(f"/admin/reports/fees?lang=en&currency=EUR&since={since}&until={until}")
        assert far.status_code == 200 and "Fee revenue" in far.text
    assert "2026-11-29,EUR,1:withdraw-bank-domestic,2,2.00" in csv_text
    assert "2026-11-29,USD,1:topup-card,1,1.50" in csv_text


def test_the_dashboard_totals_every_balance_in_one_currency(client: TestClient, alice: Person) -> None:
    ops = _operator(client)
    _rates(ops, USD="1.25", CNY="7.5")
    alice.top_up("100", "EUR")
    alice.top_up("150", "CNY")
    _sign_in_page(client, alice)
    page = client.get("/wallet?lang=en&total=USD")
    assert "≈ $150.00" in page.text  # 100 EUR = 125 USD, 150 CNY = 25 USD, at mid rates
    alice.post("/api/v1/deposits", {"currency": "BTC", "amount": "0.1", "method": "btc"})
    assert "Not counted (no current rate): BTC." in client.get("/wallet?lang=en&total=USD").text

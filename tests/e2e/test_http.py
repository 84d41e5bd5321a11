"""The app over HTTP (in process): health, metrics, OpenAPI, problem+json errors, pages in two languages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paydesk.app import create_app
from paydesk.config import Settings
from tests.conftest import REDIS_URL


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def test_health_reports_the_database(client: TestClient, settings: Settings) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"] == ("sqlite" if settings.is_sqlite else "postgresql")


if REDIS_URL:  # defined only where Redis is configured; there it must be reachable
    REDIS: str = REDIS_URL

    @pytest.mark.redis
    def test_health_pings_redis_when_it_is_configured(settings: Settings) -> None:
        with TestClient(create_app(settings.model_copy(update={"redis_url": REDIS}))) as c:
            assert c.get("/healthz").json()["pubsub"] == "redis"
        with TestClient(create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))) as c:
            response = c.get("/healthz")
            assert response.status_code == 503 and response.json()["status"] == "unavailable"


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'paydesk_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    assert "paydesk_ledger_group_commits_total" in response.text


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/currencies" in spec["paths"]
    assert client.get("/api/docs").status_code == 200


def test_openapi_says_errors_are_problems_and_how_to_sign_a_call(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and {"code", "detail", "status"} <= set(schemas["Problem"]["required"])
    transfer = spec["paths"]["/api/v1/transfers"]["post"]
    assert transfer["responses"]["422"]["content"] == problem == transfer["responses"]["default"]["content"]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer" and schemes["APIKeyCookie"]["name"] == "paydesk_session"
    signed = [{"HTTPBearer": []}, {"APIKeyCookie": []}]  # either one
    assert transfer["security"] == signed and spec["paths"]["/api/v1/wallet"]["get"]["security"] == signed
    assert spec["paths"]["/api/v1/admin/fee-schedules"]["post"]["security"] == signed  # an operator's
    assert "security" not in spec["paths"]["/api/v1/currencies"]["get"]  # public
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]
    # what the document promises is what a bad request gets
    response = client.post("/api/v1/transfers", json={"amount": "x"}, headers={"Authorization": "Bearer nope"})
    assert response.headers["content-type"] == "application/problem+json" and response.json()["code"]


def test_unknown_currency_is_a_problem_with_a_stable_code(client: TestClient) -> None:
    response = client.get("/api/v1/currencies/XYZ")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "unknown_currency"
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body["status"] == 422


def test_invalid_parameters_list_the_fields(client: TestClient) -> None:
    response = client.get("/api/v1/currencies", params={"kind": "gold"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["errors"][0]["field"] == "query.kind"


def test_an_unknown_path_is_a_problem_too(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_currencies_list_their_scale(client: TestClient) -> None:
    items = {c["code"]: c for c in client.get("/api/v1/currencies").json()["items"]}
    assert items["JPY"]["minor_unit"] == "1" and items["BTC"]["minor_unit"] == "0.00000001"
    crypto = client.get("/api/v1/currencies", params={"kind": "crypto"}).json()["items"]
    assert {c["code"] for c in crypto} == {"BTC", "ETH", "USDT"}


def test_home_page_speaks_the_visitors_language(client: TestClient) -> None:
    zh = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert zh.headers["content-language"] == "zh-CN"
    assert '<html lang="zh-CN">' in zh.text and "自带客服的钱包" in zh.text
    en = client.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "A wallet with help built in" in en.text
    assert en.cookies.get("paydesk_lang") == "en"
    again = client.get("/", headers={"Accept-Language": "zh-CN"})  # the cookie now wins
    assert again.headers["content-language"] == "en"
    assert "¥1,234<" in again.text and "$1,234.56<" in again.text  # JPY has no decimals, USD two


def test_expired_holds_are_released_by_the_running_app(settings: Settings) -> None:
    import time
    import uuid

    from paydesk.core.clock import FrozenClock
    from paydesk.ledger.domain import AccountFlags, Kind, TransferRequest

    clock = FrozenClock()
    app = create_app(settings, clock=clock)
    ledger = app.state.container.ledger
    with TestClient(app):
        user = ledger.open_account("u", "wallet", "USD", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
        bank = ledger.system_account("settlement:card", "USD")
        ledger.post([TransferRequest(uuid.uuid4(), bank, user, 100, "USD", "topup")])
        ledger.post([TransferRequest(uuid.uuid4(), user, bank, 100, "USD", "withdraw", Kind.PENDING, timeout_s=60)])
        assert ledger.account(user).available_balance == 0
        clock.advance(61)
        deadline = time.monotonic() + 10
        while ledger.account(user).available_balance == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ledger.account(user).available_balance == 100


@pytest.mark.parametrize("path", ["/", "/login", "/reset?token=abc", "/agent", "/api/v1/currencies", "/widget.js",
                                  "/api/openapi.json", "/no-such-page"])
def test_no_response_can_be_framed_or_sniffed_and_none_leaks_a_referer(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code < 500
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_a_body_refused_before_routing_carries_the_headers_too(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", content=b'{"login": "\\ud800", "password": "x"}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_text"
    assert response.headers["x-frame-options"] == "DENY"

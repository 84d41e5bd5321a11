"""An app per test on each backend, and helpers that act like an API client."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paydesk.app import create_app
from paydesk.config import Settings
from paydesk.identity import policy

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, run_jobs=False), raise_server_exceptions=False) as c:
        yield c


@dataclass
class Person:
    client: TestClient
    token: str
    email: str
    wallet_id: str
    id: str
    totp_secret: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.auth, **kw)

    def post(self, path: str, body: Any, key: str | None = "auto", confirm: bool = True, **kw: Any) -> Any:
        """POST as this person; a payment above the exemption is confirmed as a person would: the same request
        again with the code from the email (or from the authenticator, when `totp_secret` is set)."""
        headers = dict(self.auth)
        if key == "auto":
            key = str(uuid.uuid4())
        if key is not None:
            headers["Idempotency-Key"] = key
        response = self.client.post(path, json=body, headers=headers, **kw)
        if confirm and response.status_code == 401 and response.json().get("code") == "step_up_required":
            problem = response.json()
            code = self.confirmation_code(problem)
            response = self.client.post(path, json={**body, "confirmation_id": problem["confirmation_id"],
                                                    "otp": code}, headers=headers, **kw)
        return response

    def confirmation_code(self, problem: dict[str, Any]) -> str:
        if problem["method"] == "totp":
            assert self.totp_secret, "this person has 2-step on: set totp_secret"
            return policy.totp_code(self.totp_secret, datetime.now(UTC))
        return emailed_code(self.client.app, self.email)

    def balance(self, currency: str) -> dict[str, str]:
        for b in self.get("/api/v1/wallet").json()["balances"]:
            if b["currency"] == currency:
                return dict(b)
        return {"currency": currency, "available": "0", "pending": "0", "total": "0"}

    def top_up(self, amount: str, currency: str = "USD", method: str = "bank_domestic") -> Any:
        response = self.post("/api/v1/deposits", {"currency": currency, "amount": amount, "method": method})
        assert response.status_code == 201, response.text
        return response.json()


def emailed_code(app: Any, email: str) -> str:
    """The code in the newest payment confirmation sent to this address (`app`: the FastAPI app)."""
    outbox = app.state.container.notify.recent()
    for message in outbox:
        if message.recipient == email and message.template == "payment_confirmation":
            found = re.search(r"^\s+(\d{6})$", message.body, re.MULTILINE)
            assert found, message.body
            return found.group(1)
    raise AssertionError(f"no confirmation code was sent to {email}")


def sign_up(client: TestClient, name: str = "Alice", locale: str = "en", phone: str | None = None) -> Person:
    email = f"{name.lower()}{next(_numbers)}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": name, "locale": locale}
    if phone:
        body["phone"] = phone
    registered = client.post("/api/v1/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    login = client.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    data = registered.json()
    return Person(client, login.json()["access_token"], email, data["wallet_id"], data["id"])


@pytest.fixture
def alice(client: TestClient) -> Person:
    return sign_up(client, "Alice")


@pytest.fixture
def bob(client: TestClient) -> Person:
    return sign_up(client, "Bob", "zh-CN", phone="+8613812345678")

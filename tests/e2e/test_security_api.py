"""The security endpoints over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from paydesk.identity import policy
from tests.e2e.conftest import PASSWORD, Person


def test_two_step_sessions_and_activity_through_the_api(client: TestClient, alice: Person) -> None:
    enrol = alice.post("/api/v1/me/2fa/totp", {}, key=None).json()
    assert enrol["otpauth_uri"].startswith("otpauth://totp/") and enrol["qr_svg"].startswith("<")
    bad = alice.post("/api/v1/me/2fa/totp/confirm", {"code": "000000"}, key=None)
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_otp"
    now = datetime.now(UTC)
    codes = alice.post("/api/v1/me/2fa/totp/confirm", {"code": policy.totp_code(enrol["secret"], now)},
                       key=None).json()["recovery_codes"]
    assert len(codes) == 10

    needs = client.post("/api/v1/auth/login", json={"login": alice.email, "password": PASSWORD})
    assert needs.status_code == 401 and needs.json()["code"] == "otp_required"
    second = client.post("/api/v1/auth/login", json={"login": alice.email, "password": PASSWORD, "otp": codes[0]},
                         headers={"User-Agent": "tablet"})
    assert second.status_code == 200
    other = {"Authorization": f"Bearer {second.json()['access_token']}"}

    sessions = alice.get("/api/v1/me/sessions").json()["items"]
    assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
    tablet = next(s for s in sessions if not s["current"])
    assert tablet["device"] == "tablet"
    assert client.delete(f"/api/v1/me/sessions/{tablet['id']}", headers=alice.auth).status_code == 204
    assert client.get("/api/v1/me", headers=other).status_code == 401

    kinds = [e["kind"] for e in alice.get("/api/v1/me/activity").json()["items"]]
    for kind in ("login", "two_step_enabled", "recovery_code_used", "new_device", "session_revoked"):
        assert kind in kinds, kind

    change = alice.post("/api/v1/me/password", {"current_password": PASSWORD, "new_password":
                                                "an even better passphrase", "otp": codes[1]}, key=None)
    assert change.status_code == 204
    assert alice.get("/api/v1/me").status_code == 200  # this session stays


def test_password_reset_always_answers_202(client: TestClient, alice: Person) -> None:
    for login in (alice.email, "ghost@example.com", "+8613000000000", "not even a login"):
        response = client.post("/api/v1/auth/password-reset", json={"login": login})
        assert response.status_code == 202 and response.content == b""
    bad = client.post("/api/v1/auth/password-reset/confirm", json={"token": "nope", "new_password": "x" * 20})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_reset_token"


def test_this_wasnt_me_freezes_outgoing_money_but_not_incoming(client: TestClient, alice: Person,
                                                               bob: Person) -> None:
    alice.top_up("50")
    tx = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "5"}).json()
    assert bob.post(f"/api/v1/transactions/{tx['id']}/not-me", {}, key=None).status_code == 404  # not Bob's
    report = alice.post(f"/api/v1/transactions/{tx['id']}/not-me", {}, key=None)
    assert report.status_code == 200 and report.json()["status"] == "frozen"
    assert alice.get("/api/v1/me").status_code == 401  # every session ended
    again = client.post("/api/v1/auth/login", json={"login": alice.email, "password": PASSWORD}).json()
    alice.token = again["access_token"]
    send = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "1"})
    assert send.status_code == 423 and send.json()["code"] == "account_frozen"
    out = alice.post("/api/v1/withdrawals", {"currency": "USD", "amount": "5", "method": "bank_domestic",
                                             "destination": {"iban": "DE89370400440532013000"}})
    assert out.json()["code"] == "account_frozen"
    assert bob.post("/api/v1/transfers", {"to": alice.email, "currency": "USD", "amount": "2"}).status_code == 201
    assert alice.balance("USD")["total"] == "47.00"
    kinds = [e["kind"] for e in alice.get("/api/v1/me/activity").json()["items"]]
    assert "incident_reported" in kinds
    subjects = [m.subject for m in client.app.state.container.notify.recent()]  # type: ignore[attr-defined]
    assert "We froze outgoing money on your Paydesk account" in subjects


def test_daily_limits_give_a_clear_error(client: TestClient, alice: Person, bob: Person) -> None:
    container = client.app.state.container  # type: ignore[attr-defined]
    container.settings.daily_limits["send"] = {"count": 3, "amounts": {"USD": "100"}}
    alice.top_up("500")
    assert alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "60"}).status_code == 201
    over = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "40.01"})
    assert over.status_code == 422 and over.json()["code"] == "daily_limit_exceeded"
    assert over.json()["remaining"] == "40.00"
    for _ in range(2):
        assert alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "1"}).status_code == 201
    count = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "1"})
    assert count.json()["code"] == "daily_limit_exceeded" and count.json()["limit"] == "count"
    assert bob.balance("USD")["total"] == "62.00"


def test_people_without_email_get_their_reset_link_by_sms(client: TestClient) -> None:
    assert client.post("/api/v1/auth/register", json={"phone": "+8613711112222", "password": PASSWORD}
                       ).status_code == 201
    assert client.post("/api/v1/auth/password-reset", json={"login": "+86 137 1111 2222"}).status_code == 202
    client.app.state.container.security.send_reset_links()  # type: ignore[attr-defined] # the job's work
    [sms] = [m for m in client.app.state.container.notify.recent() if m.channel == "sms"]  # type: ignore[attr-defined]
    assert sms.recipient == "+8613711112222" and "/reset?token=" in sms.body

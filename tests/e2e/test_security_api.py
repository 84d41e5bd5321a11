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

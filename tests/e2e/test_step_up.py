"""Step-up over HTTP: the low-value exemption, confirmations bound to the payment, wrong codes, 2-step users,
saved withdrawal destinations, changing the email or phone, large transfers and new countries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from paydesk.app import create_app
from paydesk.config import Settings
from paydesk.identity import policy
from tests.e2e.conftest import PASSWORD, Person, emailed_code, sign_up

IBAN = "DE89370400440532013000"


def _send(who: Person, to: Person, amount: str, currency: str = "EUR", **extra: Any) -> Any:
    return who.post("/api/v1/transfers", {"to": to.email, "currency": currency, "amount": amount, **extra},
                    confirm=False)


def _outbox(client: TestClient, template: str, to: str) -> list[Any]:
    return [m for m in client.app.state.container.notify.recent()  # type: ignore[attr-defined]
            if m.template == template and m.recipient == to]


def _kinds(who: Person) -> list[str]:
    return [e["kind"] for e in who.get("/api/v1/me/activity").json()["items"]]


def test_small_payments_pass_until_the_exemption_runs_out(client: TestClient, alice: Person, bob: Person) -> None:
    alice.top_up("500", "EUR")
    for _ in range(5):  # five payments of at most 30 EUR, 50 EUR in all: no code asked
        assert _send(alice, bob, "10").status_code == 201
    sixth = _send(alice, bob, "1")
    assert sixth.status_code == 401 and sixth.json()["code"] == "step_up_required"
    problem = sixth.json()
    assert problem["method"] == "email" and problem["amount"] == "1.00" and problem["payee"] == bob.email
    [mail] = _outbox(client, "payment_confirmation", alice.email)
    assert "1.00 EUR" in mail.body and bob.email in mail.body  # the code names what it confirms
    assert alice.balance("EUR")["total"] == "450.00"  # nothing moved without the code

    done = _send(alice, bob, "1", confirmation_id=problem["confirmation_id"], otp=emailed_code(client.app, alice.email))
    assert done.status_code == 201
    # a confirmed payment restarts the count: three of 30 EUR pass, the fourth would pass 100 EUR
    for _ in range(3):
        assert _send(alice, bob, "30").status_code == 201
    assert _send(alice, bob, "20").json()["code"] == "step_up_required"
    assert _send(alice, bob, "30.01", "EUR").json()["code"] == "step_up_required"  # over 30 on its own
    # other currencies count by their EUR equivalent (reference rates: 1.05 USD, 7.5 CNY per EUR)
    alice.top_up("1000", "CNY", "bank_domestic")
    assert alice.post("/api/v1/transfers", {"to": bob.email, "currency": "CNY", "amount": "230"},
                      confirm=False).json()["code"] == "step_up_required"  # 30.67 EUR


def test_a_confirmation_is_bound_to_the_amount_currency_and_payee(client: TestClient, alice: Person,
                                                                  bob: Person) -> None:
    carol = sign_up(client, "Carol")
    alice.top_up("500", "EUR")
    asked = _send(alice, bob, "50").json()
    code = emailed_code(client.app, alice.email)
    cid = asked["confirmation_id"]
    for changed in ({"amount": "50.01"}, {"currency": "USD"}, {"to": carol.email}):
        body = {"to": bob.email, "currency": "EUR", "amount": "50", "confirmation_id": cid, "otp": code, **changed}
        answer = alice.post("/api/v1/transfers", body, confirm=False)
        assert answer.status_code == 409 and answer.json()["code"] in ("confirmation_mismatch", "confirmation_invalid")
    # the first change voided it: even the original payment with the right code is refused now
    again = _send(alice, bob, "50", confirmation_id=cid, otp=code)
    assert again.status_code == 409 and again.json()["code"] == "confirmation_invalid"
    assert alice.balance("EUR")["total"] == "500.00"
    # a fresh one works once; its id can't pay a second time
    fresh = _send(alice, bob, "50").json()
    code = emailed_code(client.app, alice.email)
    assert _send(alice, bob, "50", confirmation_id=fresh["confirmation_id"], otp=code).status_code == 201
    reuse = _send(alice, bob, "50", confirmation_id=fresh["confirmation_id"], otp=code)
    assert reuse.status_code == 409 and reuse.json()["code"] == "confirmation_invalid"
    assert _send(alice, bob, "50", confirmation_id="not-a-uuid", otp=code).json()["code"] == "confirmation_invalid"
    assert bob.balance("EUR")["total"] == "50.00"


def test_five_wrong_codes_block_the_confirmation_and_alert_the_user(client: TestClient, alice: Person,
                                                                    bob: Person) -> None:
    alice.top_up("500", "EUR")
    cid = _send(alice, bob, "200").json()["confirmation_id"]
    right = emailed_code(client.app, alice.email)
    wrong = "000000" if right != "000000" else "111111"
    for left in ("4", "3", "2", "1"):
        answer = _send(alice, bob, "200", confirmation_id=cid, otp=wrong)
        assert answer.status_code == 401 and answer.json()["code"] == "invalid_otp"
        assert answer.json()["attempts_left"] == left
    fifth = _send(alice, bob, "200", confirmation_id=cid, otp=wrong)
    assert fifth.status_code == 403 and fifth.json()["code"] == "confirmation_blocked"
    late = _send(alice, bob, "200", confirmation_id=cid, otp=right)
    assert late.status_code == 403 and late.json()["code"] == "confirmation_blocked"
    assert alice.balance("EUR")["total"] == "500.00"
    [alert] = _outbox(client, "payment_confirmation_blocked", alice.email)
    assert "200.00 EUR" in alert.body
    assert "payment_confirmation_blocked" in _kinds(alice)
    missing = _send(alice, bob, "200", confirmation_id=_send(alice, bob, "200").json()["confirmation_id"])
    assert missing.status_code == 401 and missing.json()["code"] == "otp_required"


def test_with_two_step_on_the_authenticator_confirms_and_a_code_works_once(client: TestClient, alice: Person,
                                                                           bob: Person) -> None:
    secret = alice.post("/api/v1/me/2fa/totp", {}, key=None).json()["secret"]
    codes = alice.post("/api/v1/me/2fa/totp/confirm", {"code": policy.totp_code(secret, datetime.now(UTC))},
                       key=None).json()["recovery_codes"]
    alice.top_up("500", "EUR")
    asked = _send(alice, bob, "100").json()
    assert asked["method"] == "totp" and not _outbox(client, "payment_confirmation", alice.email)
    # the code of this time step was used to turn 2-step on: it can't confirm anything now
    stale = _send(alice, bob, "100", confirmation_id=asked["confirmation_id"],
                  otp=policy.totp_code(secret, datetime.now(UTC)))
    if stale.status_code == 401:  # (unless the clock moved to the next step in between)
        assert stale.json()["code"] == "invalid_otp"
    ok = _send(alice, bob, "100", confirmation_id=asked["confirmation_id"], otp=codes[0])  # a recovery code
    assert ok.status_code == 201
    second = _send(alice, bob, "100").json()
    assert _send(alice, bob, "100", confirmation_id=second["confirmation_id"], otp=codes[0]).status_code == 401
    assert _send(alice, bob, "100", confirmation_id=second["confirmation_id"], otp=codes[1]).status_code == 201
    assert bob.balance("EUR")["total"] == "200.00"


def test_saved_destinations_need_a_step_up_and_withdrawals_confirm_like_payments(client: TestClient,
                                                                                 alice: Person) -> None:
    body = {"label": "My bank", "method": "bank_domestic", "destination": {"iban": IBAN}}
    wrong = alice.post("/api/v1/me/destinations", {**body, "password": "not my password at all"}, key=None)
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    bad = alice.post("/api/v1/me/destinations", {**body, "destination": {"iban": "DE00"}, "password": PASSWORD},
                     key=None)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_iban"
    assert alice.get("/api/v1/me/destinations").json()["items"] == []
    saved = alice.post("/api/v1/me/destinations", {**body, "password": PASSWORD}, key=None)
    assert saved.status_code == 201, saved.text
    dest = saved.json()
    assert alice.get("/api/v1/me/destinations").json()["items"] == [dest]
    assert _outbox(client, "destination_added", alice.email) and "destination_added" in _kinds(alice)

    alice.top_up("500", "EUR")
    asked = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "250", "destination_id": dest["id"]},
                       confirm=False)
    assert asked.status_code == 401 and asked.json()["code"] == "step_up_required"
    assert alice.balance("EUR")["available"] == "500.00"
    out = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "250", "destination_id": dest["id"]})
    assert out.status_code == 201 and out.json()["destination"] == {"iban": IBAN}
    assert alice.balance("EUR")["total"] == "249.00"  # 250 and the 1.00 domestic fee

    assert client.delete(f"/api/v1/me/destinations/{dest['id']}", headers=alice.auth).status_code == 204
    gone = alice.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "5", "destination_id": dest["id"]})
    assert gone.status_code == 404 and gone.json()["code"] == "destination_not_found"
    stranger = sign_up(client, "Mallory")
    assert stranger.post("/api/v1/withdrawals", {"currency": "EUR", "amount": "5", "destination_id": dest["id"]}
                         ).json()["code"] == "destination_not_found"


def test_changing_the_email_or_phone_needs_the_password_and_tells_the_old_address(client: TestClient,
                                                                                   alice: Person,
                                                                                   bob: Person) -> None:
    old = alice.email
    wrong = alice.post("/api/v1/me/email", {"email": "new@example.com", "password": "wrong wrong wrong"}, key=None)
    assert wrong.status_code == 401
    taken = alice.post("/api/v1/me/email", {"email": bob.email, "password": PASSWORD}, key=None)
    assert taken.status_code == 409 and taken.json()["code"] == "account_exists"
    assert alice.post("/api/v1/me/email", {"email": "Alice.New@Example.com", "password": PASSWORD},
                      key=None).status_code == 204
    [told] = _outbox(client, "login_changed", old)
    assert "Alice.New@example.com" in told.body  # the domain is case-folded, the local part kept
    assert client.post("/api/v1/auth/login", json={"login": old, "password": PASSWORD}).status_code == 401
    assert client.post("/api/v1/auth/login", json={"login": "Alice.New@example.com", "password": PASSWORD}
                       ).status_code == 200
    assert alice.post("/api/v1/me/phone", {"phone": "+86 139 1234 5678", "password": PASSWORD},
                      key=None).status_code == 204
    assert alice.get("/api/v1/me").json()["phone"] == "+8613912345678"
    assert {"email_changed", "phone_changed"} <= set(_kinds(alice))


def test_large_transfers_and_new_countries_are_in_the_activity_log(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"country_header": "X-Country"}), run_jobs=False)
    with TestClient(app) as client:
        alice, bob = sign_up(client, "Alice"), sign_up(client, "Bob")
        alice.top_up("5000", "EUR")
        assert alice.post("/api/v1/transfers", {"to": bob.email, "currency": "EUR", "amount": "1200"}
                          ).status_code == 201
        large = [e for e in alice.get("/api/v1/me/activity").json()["items"] if e["kind"] == "large_transfer"]
        assert large and large[0]["detail"]["amount"] == "1200.00"

        def login(country: str) -> None:
            assert client.post("/api/v1/auth/login", json={"login": bob.email, "password": PASSWORD},
                               headers={"X-Country": country}).status_code == 200

        login("CN")  # the first sign-in with a known country: nothing to compare with, not news
        login("cn")
        login("XX")  # "unknown" is never new
        assert "new_country" not in _kinds(bob)
        login("GB")
        login("GB")
        assert len([e for e in _kinds(bob) if e == "new_country"]) == 1
        [mail] = _outbox(client, "new_country", bob.email)
        assert "GB" in mail.subject

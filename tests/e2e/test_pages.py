"""The pages over HTTP: forms need their CSRF token, pages need a session, errors sit next to their field."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from paydesk.app import create_app
from paydesk.config import Settings
from tests.e2e.conftest import PASSWORD, Person, emailed_code


def token(html: str, name: str = "csrf_token") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def test_wallet_pages_send_strangers_to_the_login_page(client: TestClient) -> None:
    for path in ("/wallet", "/wallet/send", "/wallet/transactions"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"


def test_a_form_without_its_token_changes_nothing(client: TestClient) -> None:
    response = client.post("/signup", data={"email": "x@example.com", "password": PASSWORD})
    assert response.status_code == 403 and ("表单已过期" in response.text or "form expired" in response.text)
    login = client.post("/login", data={"login": "x@example.com", "password": PASSWORD, "csrf_token": "forged"})
    assert login.status_code == 403


def test_log_in_with_the_form_then_pages_show_the_wallet(client: TestClient, alice: Person) -> None:
    alice.top_up("12.50")
    page = client.get("/login?lang=en")
    wrong = client.post("/login", data={"login": alice.email, "password": "wrong password!!", "csrf_token":
                                        token(page.text)})
    assert wrong.status_code == 401 and 'id="e-password"' in wrong.text and "wrong" in wrong.text
    ok = client.post("/login", data={"login": alice.email, "password": PASSWORD, "csrf_token": token(page.text),
                                     "next": "https://evil.example/"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/wallet"  # no open redirect
    assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=lax" in ok.headers["set-cookie"].lower()
    dashboard = client.get("/wallet")
    assert "$12.50" in dashboard.text and alice.wallet_id in dashboard.text
    send = client.get("/wallet/send")
    bad = client.post("/wallet/send", data={"csrf_token": token(send.text), "key": token(send.text, "key"),
                                            "to": alice.email, "currency": "USD", "amount": "1"})
    assert bad.status_code == 422 and 'id="e-to"' in bad.text
    # A cookie-authenticated JSON call without the CSRF header is refused: a page can't be made to pay.
    api = client.post("/api/v1/transfers", json={"to": "x", "currency": "USD", "amount": "1"},
                      headers={"Idempotency-Key": "k"})
    assert api.status_code == 403 and api.json()["code"] == "csrf_failed"
    out = client.post("/logout", data={"csrf_token": token(dashboard.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/wallet", follow_redirects=False).status_code == 303


def test_statement_downloads_as_csv_and_the_dev_outbox_shows_mail(client: TestClient, alice: Person,
                                                                   bob: Person, settings: Settings) -> None:
    alice.top_up("10")
    alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "2.5", "note": "=SUM(A1)"})
    csv_text = alice.get("/wallet/statement.csv").text
    assert csv_text.startswith("\ufeffdate,type")
    assert ",-2.50," in csv_text and "'=SUM(A1)" in csv_text  # formulas are neutralised
    assert client.get("/dev/outbox").status_code == 404  # only in development
    with TestClient(create_app(settings.model_copy(update={"env": "development"}), run_jobs=False)) as dev:
        outbox = dev.get("/dev/outbox")
    assert outbox.status_code == 200 and "您收到了 2.50 USD" in outbox.text


def test_the_security_page_reports_not_me_and_shows_limits(client: TestClient, alice: Person) -> None:
    page = client.get("/login?lang=en")
    client.post("/login", data={"login": alice.email, "password": PASSWORD, "csrf_token": token(page.text)})
    security = client.get("/settings/security")
    assert security.status_code == 200 and "Your daily limits" in security.text and "20000 USD" in security.text
    action = re.search(r'action="(/settings/security/not-me-[^"]+)"', security.text)
    assert action, "a 'this wasn't me' button on a login entry"
    done = client.post(action.group(1), data={"csrf_token": token(security.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
    assert client.get("/settings/security", follow_redirects=False).status_code == 303  # signed out everywhere
    again = client.get("/login?lang=en")
    client.post("/login", data={"login": alice.email, "password": PASSWORD, "csrf_token": token(again.text)})
    assert "Outgoing money is frozen" in client.get("/settings/security").text


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def through_review(client: TestClient, path: str, data: dict[str, str], **kw: Any) -> Any:
    """Submit a money form, check its review page (fee and numbers), and confirm what it shows."""
    review = client.post(path, data=data)
    assert review.status_code == 200 and 'data-testid="quote"' in review.text, review.text[:2000]
    fields = hidden_fields(review.text)
    assert fields["quote_id"]
    return client.post(path, data=fields, **kw)


def _sign_in(client: TestClient, who: Person) -> None:
    page = client.get("/login?lang=en")
    assert client.post("/login", data={"login": who.email, "password": PASSWORD, "csrf_token": token(page.text)},
                       follow_redirects=False).status_code == 303


def test_a_payment_above_the_exemption_is_confirmed_on_its_own_page(client: TestClient, alice: Person,
                                                                   bob: Person) -> None:
    alice.top_up("300")
    _sign_in(client, alice)
    send = client.get("/wallet/send")
    form = {"csrf_token": token(send.text), "key": token(send.text, "key"), "to": bob.email, "currency": "USD",
            "amount": "120", "note": "rent"}
    asked = through_review(client, "/wallet/send", form)
    assert asked.status_code == 401 and "Confirm this payment" in asked.text and "120.00 USD" in asked.text
    assert alice.balance("USD")["total"] == "300.00"
    carried = hidden_fields(asked.text)
    assert carried["quote_id"] and carried["confirmation_id"]  # the quote is carried through the confirmation
    wrong = client.post("/wallet/send", data={**carried, "currency": "USD", "otp": "12345x"})
    assert wrong.status_code == 401 and 'id="e-otp"' in wrong.text and "120.00 USD" in wrong.text
    code = emailed_code(client.app, alice.email)
    done = client.post("/wallet/send", data={**carried, "currency": "USD", "otp": code}, follow_redirects=False)
    assert done.status_code == 303 and "/wallet/transactions/" in done.headers["location"]
    assert alice.balance("USD")["total"] == "180.00" and bob.balance("USD")["total"] == "120.00"
    tampered = client.post("/wallet/send", data={**carried, "amount": "200", "currency": "USD", "otp": "000000"})
    assert tampered.status_code == 422 and "expired" in tampered.text  # the quote was used up by the payment
    assert alice.balance("USD")["total"] == "180.00"


def test_security_page_changes_the_email_and_saves_a_destination_used_by_the_withdraw_page(
    client: TestClient, alice: Person,
) -> None:
    _sign_in(client, alice)
    page = client.get("/settings/security")
    assert "Saved withdrawal destinations" in page.text
    csrf = token(page.text)
    refused = client.post("/settings/security/destination-add", data={
        "csrf_token": csrf, "label": "Rent account", "method": "bank_domestic", "iban": "DE89370400440532013000",
        "password": "not the password"})
    assert refused.status_code == 422 and alice.get("/api/v1/me/destinations").json()["items"] == []
    saved = client.post("/settings/security/destination-add", data={
        "csrf_token": csrf, "label": "Rent account", "method": "bank_domestic", "iban": "DE89370400440532013000",
        "password": PASSWORD}, follow_redirects=False)
    assert saved.status_code == 303
    [dest] = alice.get("/api/v1/me/destinations").json()["items"]
    withdraw = client.get("/wallet/withdraw")
    assert f'value="{dest["id"]}"' in withdraw.text and "Rent account" in withdraw.text
    alice.top_up("20", "EUR")
    out = through_review(client, "/wallet/withdraw", {
        "csrf_token": token(withdraw.text), "key": token(withdraw.text, "key"), "currency": "EUR", "amount": "10",
        "method": "bank_domestic", "destination_id": dest["id"]}, follow_redirects=False)
    assert out.status_code == 303 and alice.balance("EUR")["available"] == "9.00"  # 10 + the 1.00 domestic fee
    moved = client.post("/settings/security/email", data={"csrf_token": csrf, "email": "alice.moved@example.com",
                                                          "password": PASSWORD}, follow_redirects=False)
    assert moved.status_code == 303
    assert "alice.moved@example.com" in client.get("/settings/security").text


def test_this_wasnt_me_on_a_payment_freezes_outgoing_money(client: TestClient, alice: Person, bob: Person) -> None:
    alice.top_up("20")
    paid = alice.post("/api/v1/transfers", {"to": bob.email, "currency": "USD", "amount": "5"}).json()
    _sign_in(client, alice)
    detail = client.get(f"/wallet/transactions/{paid['id']}")
    assert f'action="/wallet/transactions/{paid["id"]}/not-me"' in detail.text
    other = client.get(f"/wallet/transactions/{bob.get('/api/v1/transactions').json()['items'][0]['id']}")
    assert other.status_code == 404  # someone else's payment: not even shown
    done = client.post(f"/wallet/transactions/{paid['id']}/not-me", data={"csrf_token": token(detail.text)},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
    assert alice.get("/api/v1/me").status_code == 401  # every session ended
    _sign_in(client, alice)
    frozen = client.get("/api/v1/me/activity").json()["items"][1]
    assert frozen["kind"] == "incident_reported" and frozen["detail"]["transaction"] == paid["id"]


def test_a_forgotten_password_is_reset_through_the_pages_with_the_emailed_link(client: TestClient,
                                                                               alice: Person) -> None:
    login = client.get("/login?lang=en")
    assert 'href="/forgot"' in login.text
    forgot = client.get("/forgot")
    for who in (alice.email, "nobody@example.com"):  # the same answer either way
        sent = client.post("/forgot", data={"login": who, "csrf_token": token(forgot.text)})
        assert sent.status_code == 200 and "a link is on its way" in sent.text
    client.app.state.container.security.send_reset_links()  # type: ignore[attr-defined] # the job's work
    mail = next(m for m in client.app.state.container.notify.recent()  # type: ignore[attr-defined]
                if m.recipient == alice.email and "/reset?token=" in m.body)
    link = re.search(r"/reset\?token=([\w-]+)", mail.body)
    assert link
    page = client.get(f"/reset?token={link.group(1)}")
    assert page.status_code == 200 and link.group(1) in page.text
    weak = client.post("/reset", data={"token": link.group(1), "password": "short", "csrf_token": token(page.text)})
    assert weak.status_code == 422 and 'id="e-password"' in weak.text
    done = client.post("/reset", data={"token": link.group(1), "password": "a brand new long passphrase",
                                       "csrf_token": token(page.text)}, follow_redirects=True)
    assert done.status_code == 200 and "Your password is changed" in done.text
    again = client.post("/reset", data={"token": link.group(1), "password": "another long passphrase!",
                                        "csrf_token": token(page.text)})
    assert again.status_code == 422 and "not valid any more" in again.text  # a link works once
    assert client.post("/api/v1/auth/login", json={"login": alice.email, "password": "a brand new long passphrase"}
                       ).status_code == 200


def test_the_forgot_page_says_so_in_the_form_past_the_hourly_cap(client: TestClient) -> None:
    forgot = client.get("/forgot?lang=zh-CN")
    answers = [client.post("/forgot", data={"login": f"someone{i}@example.com", "csrf_token": token(forgot.text)})
               for i in range(21)]
    assert {a.status_code for a in answers[:20]} == {200}
    refused = answers[20]
    assert refused.status_code == 429 and refused.headers["content-type"].startswith("text/html")
    assert "申请重置密码的次数过多" in refused.text and 'name="login"' in refused.text  # the form, in its language

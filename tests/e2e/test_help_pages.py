"""The help center over HTTP: pages in both languages with live data, search (page and API, open to other
sites), votes, the contact page, and the editors' pages and API (write, preview, publish; others refused)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from paydesk.config import Settings
from tests.e2e.conftest import PASSWORD, Person, sign_up
from tests.e2e.test_pages import token


def _starter(client: TestClient) -> None:
    client.app.state.container.help.import_starter()  # type: ignore[attr-defined]


def test_help_pages_in_both_languages_show_live_data_not_copied_numbers(client: TestClient) -> None:
    _starter(client)
    assert client.get("/help", headers={"accept-language": "zh-CN"}, follow_redirects=False).headers[
        "location"] == "/help/zh-CN"
    home = client.get("/help/zh-CN")
    assert home.status_code == 200 and "帮助中心" in home.text and "/help/zh-CN/categories/security" in home.text
    fees = client.get("/help/en/articles/fees-overview")
    assert fees.status_code == 200 and fees.headers["content-language"] == "en"
    assert 'data-live="fees"' in fees.text and "{{" not in fees.text
    # the numbers come from the schedule in force: publish a new one and the article changes with it
    app = client.app.state.container  # type: ignore[attr-defined]
    rules = app.fees.as_json(app.fees.schedule_at())["rules"]
    for rule in rules:
        if rule["operation"] == "withdraw" and "EUR" in rule.get("fixed", {}):
            rule["fixed"]["EUR"] = "7.77"
    app.fees.publish(rules, app.clock.now(), "test")
    withdraw = client.get("/help/en/articles/withdrawal-times").text
    assert "7.77" in withdraw
    zh = client.get("/help/zh-CN/articles/locked-account")
    assert "账户" in zh.text and 'href="/help/en/articles/locked-account"' in zh.text  # the translation
    assert client.get("/help/en/articles/no-such-thing").status_code == 404
    assert client.get("/help/xx").status_code == 404


def test_the_contact_page_lists_every_channel_with_hours_and_whether_chat_is_staffed(
        client: TestClient, settings: Settings) -> None:
    page = client.get("/contact", follow_redirects=True, headers={"accept-language": "en"})
    assert page.status_code == 200
    for channel in settings.support_channels:
        assert channel["hours"]["en"] in page.text and channel["response"]["en"] in page.text
        if channel["value"]:
            assert channel["value"] in page.text
    assert "nobody is online right now" in page.text
    assert "/help/en/articles/complaints-process" in page.text


def test_search_finds_chinese_and_english_and_the_api_is_open_to_the_widget(client: TestClient) -> None:
    _starter(client)
    found = client.get("/api/v1/help/search", params={"q": "帳戶被鎖定了", "locale": "zh-CN"})
    assert found.status_code == 200 and found.headers["access-control-allow-origin"] == "*"
    first = found.json()["items"][0]
    assert first["key"] == "locked-account" and "<mark>" in first["snippet"] and first["url"].startswith("/help/")
    typo = client.get("/api/v1/help/search", params={"q": "forgot pasword", "locale": "en"}).json()["items"]
    assert typo[0]["key"] == "forgot-password"
    page = client.get("/help/zh-CN/search", params={"q": "提现多久到账"})
    assert page.status_code == 200 and "/help/zh-CN/articles/withdrawal-times" in page.text
    bad = client.get("/api/v1/help/search", params={"q": "x", "locale": "fr"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    assert client.get("/api/v1/help/search", params={"q": "x" * 201}).status_code == 422


def test_a_reader_votes_with_a_comment(client: TestClient) -> None:
    _starter(client)
    page = client.get("/help/en/articles/limits")
    refused = client.post("/help/en/articles/limits/vote", data={"helpful": "no", "csrf_token": "forged"})
    assert refused.status_code == 400
    voted = client.post("/help/en/articles/limits/vote", data={"helpful": "no", "comment": "more examples",
                                                               "csrf_token": token(page.text)}, follow_redirects=True)
    assert voted.status_code == 200 and "Thank you" in voted.text
    assert client.get("/api/v1/help/articles/en/limits").json()["unhelpful"] == 1
    assert client.post("/api/v1/help/articles/en/limits/votes", json={"helpful": "maybe"}).status_code == 422


def _editor(client: TestClient) -> Person:
    person = sign_up(client, "Editor")
    client.app.state.container.identity.grant_role(person.email, "editor")  # type: ignore[attr-defined]
    return person


def test_editors_write_preview_and_publish_and_nobody_else_can(client: TestClient, alice: Person) -> None:
    body = {"title": "Card lost", "category": "security", "body": "Freeze it.\n\n{{hours}}", "keywords": "stolen"}
    refused = client.put("/api/v1/help/admin/articles/en/card-lost", json=body, headers=alice.auth)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.put("/api/v1/help/admin/articles/en/card-lost", json=body).status_code == 401
    editor = _editor(client)
    bad = client.put("/api/v1/help/admin/articles/en/card-lost", json={**body, "body": "{{secrets}}"},
                     headers=editor.auth)
    assert bad.status_code == 422 and bad.json()["code"] == "article_invalid"
    saved = client.put("/api/v1/help/admin/articles/en/card-lost", json=body, headers=editor.auth).json()
    assert saved["published"] is False
    assert client.get("/help/en/articles/card-lost").status_code == 404  # a draft is not public
    published = client.post(f"/api/v1/help/admin/articles/{saved['id']}/publish", headers=editor.auth).json()
    assert published["published"] and client.get("/help/en/articles/card-lost").status_code == 200
    client.get("/api/v1/help/search", params={"q": "zebra crossing", "locale": "en"})  # the API keeps none
    client.get("/help/en/search", params={"q": "zebra crossing"})  # the search page does
    misses = client.get("/api/v1/help/admin/misses", headers=editor.auth).json()["items"]
    assert misses[0]["query"] == "zebra crossing"

    # the editor's pages: sign in, preview a change, publish it
    login = client.get("/login")
    client.post("/login", data={"login": editor.email, "password": PASSWORD, "csrf_token": token(login.text)})
    listing = client.get("/help/editor")
    assert listing.status_code == 200 and "zebra crossing" in listing.text and "Card lost" in listing.text
    form = client.get("/help/editor/en/card-lost")
    change = {"title": "Card lost or stolen", "category": "security", "body": "## First\n\nFreeze it now.",
              "keywords": "stolen", "related": "locked-account", "csrf_token": token(form.text)}
    preview = client.post("/help/editor/en/card-lost", data={**change, "action": "preview"})
    assert preview.status_code == 200 and re.search(r'data-testid="preview".*<h2>First</h2>', preview.text, re.S)
    assert client.get("/help/en/articles/card-lost").text.count("Card lost or stolen") == 0  # preview saves nothing
    done = client.post("/help/editor/en/card-lost", data={**change, "action": "publish"}, follow_redirects=True)
    assert done.status_code == 200 and "Published" in done.text
    assert "Card lost or stolen" in client.get("/help/en/articles/card-lost").text
    invalid = client.post("/help/editor/en/card-lost", data={**change, "category": "nope", "action": "draft"})
    assert invalid.status_code == 422 and 'aria-invalid="true"' in invalid.text

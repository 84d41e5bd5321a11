"""Chat attachments: the type is read from the content, sizes are limited, names can't climb out, and only the
conversation's visitor or an agent who may see it can read one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from tests.e2e.conftest import Person, sign_up

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def _visitor(client: TestClient) -> tuple[str, str]:
    token = client.post("/api/v1/support/visitors").json()["visitor_token"]
    conversation = client.app.state.container.support.visitor_conversation(token)  # type: ignore[attr-defined]
    return token, conversation["conversation_id"]


def _upload(client: TestClient, name: str, data: bytes, **headers: Any) -> Any:
    return client.post("/api/v1/support/attachments", params={"name": name}, content=data,
                       headers={"Content-Type": "application/octet-stream", **headers})


def test_a_visitor_attaches_an_image_and_only_the_right_people_can_read_it(client: TestClient) -> None:
    token, cid = _visitor(client)
    sent = _upload(client, "收据 photo.png", PNG, **{"X-Visitor-Token": token})
    assert sent.status_code == 201, sent.text
    attachment = sent.json()["data"]["attachment"]
    assert attachment["type"] == "image/png" and attachment["image"] and sent.json()["kind"] == "inbound"
    got = client.get(f"/api/v1/support/attachments/{attachment['id']}", params={"visitor_token": token})
    assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff" and got.headers["content-disposition"].startswith(
        "inline")
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox; frame-ancestors 'none'"
    other, _ = _visitor(client)
    assert client.get(f"/api/v1/support/attachments/{attachment['id']}",
                      params={"visitor_token": other}).status_code == 404
    assert client.get(f"/api/v1/support/attachments/{attachment['id']}").status_code == 404  # nobody
    messages = client.app.state.container.support.messages_after(UUID(cid), 0, with_notes=False)  # type: ignore
    assert messages[-1]["data"]["attachment"]["id"] == attachment["id"]


def test_refused_files_say_why_and_store_nothing(client: TestClient) -> None:
    token, _ = _visitor(client)
    visitor = {"X-Visitor-Token": token}
    blobs = client.app.state.container.settings.blob_dir  # type: ignore[attr-defined]
    cases = [
        ("evil.png", b"<script>alert(1)</script>", 415, "attachment_type_not_allowed"),  # a script renamed .png
        ("page.pdf", b"<html><body>hi</body></html>", 415, "attachment_type_not_allowed"),
        ("empty.png", b"", 415, "attachment_type_not_allowed"),
        ("big.png", PNG + b"\x00" * (10 * 1024 * 1024), 413, "attachment_too_large"),
        ("../../etc/passwd.png", PNG, 422, "attachment_name_invalid"),
        ("a/b.png", PNG, 422, "attachment_name_invalid"),
        ("..\\x.pdf", PDF, 422, "attachment_name_invalid"),
        ("bad\x00.png", PNG, 422, "attachment_name_invalid"),
        (".hidden.png", PNG, 422, "attachment_name_invalid"),
    ]
    for name, data, status, code in cases:
        answer = _upload(client, name, data, **visitor)
        assert (answer.status_code, answer.json()["code"]) == (status, code), name
    assert not blobs.exists() or not any(blobs.rglob("*"))
    assert _upload(client, "x.png", PNG, **{"X-Visitor-Token": "not-a-token-" * 3}).status_code == 404


def test_an_agent_attaches_a_pdf_to_a_conversation_they_may_see(client: TestClient, alice: Person) -> None:
    token, cid = _visitor(client)
    support = client.app.state.container.support  # type: ignore[attr-defined]
    support.create_agent(alice.email, "general", 3)
    answer = _upload(client, "statement.pdf", PDF, Authorization=f"Bearer {alice.token}")
    assert answer.status_code == 404  # which conversation? none named: nothing
    sent = client.post("/api/v1/support/attachments", params={"name": "statement.pdf", "conversation_id": cid},
                       content=PDF, headers={"Authorization": f"Bearer {alice.token}"})
    assert sent.status_code == 201 and sent.json()["kind"] == "outbound"
    attachment = sent.json()["data"]["attachment"]
    got = client.get(f"/api/v1/support/attachments/{attachment['id']}", params={"visitor_token": token})
    assert got.headers["content-type"] == "application/pdf" and got.headers["content-disposition"].startswith(
        "attachment")
    stranger = sign_up(client, "Mallory")
    assert client.post("/api/v1/support/attachments", params={"name": "x.pdf", "conversation_id": cid},
                       content=PDF, headers={"Authorization": f"Bearer {stranger.token}"}).status_code == 404

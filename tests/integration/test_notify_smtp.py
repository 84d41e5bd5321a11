"""Notifications go out through a real SMTP server on loopback (aiosmtpd) and a real HTTP SMS gateway on
loopback, and failures are retried."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from paydesk.core import signing
from paydesk.core.clock import FrozenClock
from paydesk.core.db import Database
from paydesk.notify.service import NotifyService, backoff, senders_from

FROM = "Paydesk <no-reply@paydesk.test>"


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[bytes] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(bytes(message))  # type: ignore[call-overload]

    def prepare_message(self, session: object, envelope: object) -> bytes:  # type: ignore[override]  # noqa: ARG002
        return envelope.original_content  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_queued_messages_are_delivered_over_smtp_in_the_users_language(
    smtp: tuple[Inbox, int], database: Database, clock: FrozenClock,
) -> None:
    inbox, port = smtp
    notify = NotifyService(database, clock, senders_from(f"smtp://127.0.0.1:{port}", FROM, None, ""))
    with database.transaction() as session:
        notify.enqueue_in(session, to="bob@example.com", locale="zh-CN", template="payment_received",
                          context={"name": "Bob", "sender": "Alice", "amount": "40.50", "currency": "USD",
                                   "note_line": ""})
    assert notify.deliver_due() == 1
    assert notify.deliver_due() == 0  # sent once
    [raw] = inbox.messages
    email = message_from_bytes(raw)
    assert str(make_header(decode_header(email["Subject"]))) == "您收到了 40.50 USD"
    assert email["To"] == "bob@example.com"
    assert "Alice 向您转账 40.50 USD" in email.get_payload(decode=True).decode()  # type: ignore[union-attr]
    [row] = notify.recent()
    assert row.status == "sent" and row.attempts == 1


def test_an_unreachable_server_is_retried_with_backoff(database: Database, clock: FrozenClock) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # nothing listens here once the socket closes
    notify = NotifyService(database, clock, senders_from(f"smtp://127.0.0.1:{dead_port}", FROM, None, ""))
    with database.transaction() as session:
        notify.enqueue_in(session, to="a@example.com", locale="en", template="topup_completed",
                          context={"name": "A", "amount": "1.00", "currency": "USD", "method": "card"})
    assert notify.deliver_due() == 0
    [row] = notify.recent()
    assert row.status == "pending" and row.attempts == 1 and "ConnectionRefused" in row.last_error
    assert row.next_attempt_at == clock.now() + backoff(1)
    assert notify.deliver_due() == 0 and notify.recent()[0].attempts == 1  # not due yet
    clock.advance(backoff(1) + timedelta(seconds=1))
    notify.deliver_due()
    assert notify.recent()[0].attempts == 2


class Gateway(BaseHTTPRequestHandler):
    """A stand-in SMS gateway: records what it is sent; answers 503 while `down`."""

    received: list[tuple[bytes, str]] = []
    down = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if Gateway.down:
            self.send_response(503)
        else:
            Gateway.received.append((body, self.headers.get("Paydesk-Signature", "")))
            self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_sms_go_to_the_gateway_signed_and_are_retried_while_it_is_down(database: Database,
                                                                        clock: FrozenClock) -> None:
    Gateway.received, Gateway.down = [], True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sms"
        notify = NotifyService(database, clock, senders_from(None, FROM, url, "gateway secret"))
        with database.transaction() as session:
            notify.enqueue_in(session, to=None, phone="+8613711112222", locale="zh-CN", template="password_reset",
                              context={"name": "", "when": "now", "ip": "?", "link": "https://x/reset?token=t"})
            notify.enqueue_in(session, to="mail@example.com", locale="en", template="topup_completed",
                              context={"name": "A", "amount": "1.00", "currency": "USD", "method": "card"})
        assert notify.deliver_due() == 0
        sms = next(m for m in notify.recent() if m.channel == "sms")
        assert sms.status == "pending" and "503" in sms.last_error
        Gateway.down = False
        clock.advance(backoff(1) + timedelta(seconds=1))
        assert notify.deliver_due() == 1
        [(body, signature)] = Gateway.received
        signing.verify("gateway secret", body, signature, datetime.now(UTC))  # raises unless signed by us
        sent = json.loads(body)
        assert sent["to"] == "+8613711112222" and sent["locale"] == "zh-CN" and "reset?token=t" in sent["text"]
        assert {m.channel: m.status for m in notify.recent()} == {"sms": "sent", "email": "pending"}  # no SMTP
    finally:
        server.shutdown()
        server.server_close()

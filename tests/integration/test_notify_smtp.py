"""Notifications go out through a real SMTP server on loopback (aiosmtpd), and failures are retried."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from paydesk.core.clock import FrozenClock
from paydesk.core.db import Database
from paydesk.notify.service import NotifyService, backoff


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
    notify = NotifyService(database, clock, f"smtp://127.0.0.1:{port}", "Paydesk <no-reply@paydesk.test>")
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
    notify = NotifyService(database, clock, f"smtp://127.0.0.1:{dead_port}", "Paydesk <no-reply@paydesk.test>")
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

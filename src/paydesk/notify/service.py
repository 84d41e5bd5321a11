"""Notifications: enqueue in the caller's transaction; a job delivers them (email over SMTP, SMS to a
gateway, see `senders.py`) with retries and backoff. A channel without a sender keeps its messages in the
outbox, readable at `/dev/outbox` in development."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.ids import uuid7
from paydesk.notify import store
from paydesk.notify.senders import HttpSmsSender, Sender, SmtpSender
from paydesk.notify.templates import render

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)  # a message being sent is not picked up by another worker for this long


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class NotifyService:
    def __init__(self, db: Database, clock: Clock, senders: Mapping[str, Sender]) -> None:
        """`senders`: per channel (`email`, `sms`); a channel without one keeps its messages in the outbox."""
        self.db = db
        self.clock = clock
        self.senders = dict(senders)

    def enqueue_in(
        self, session: Session, *, to: str | None, locale: str, template: str, context: dict[str, Any],
        phone: str | None = None,
    ) -> None:
        """Write the message in the caller's transaction: it exists exactly when the event does. People
        without an email address get it by SMS when a phone number is given."""
        channel, recipient = ("email", to) if to else ("sms", phone)
        if not recipient:
            return
        subject, body = render(template, locale, context)
        now = self.clock.now()
        session.add(store.OutboxRow(
            id=uuid7(), channel=channel, recipient=recipient, locale=locale, template=template, subject=subject,
            body=body, status="pending", attempts=0, next_attempt_at=now, last_error="", created_at=now,
            sent_at=None,
        ))

    def deliver_due(self, limit: int = 100) -> int:
        """Send what is due on every channel that has a sender; a failure is recorded on the message and
        retried later with backoff."""
        return sum(self._deliver(channel, sender, limit) for channel, sender in self.senders.items())

    def _deliver(self, channel: str, sender: Sender, limit: int) -> int:
        # Lease the due messages in a short transaction (another worker skips them until the lease ends), talk
        # to the server with no transaction open, then record each outcome in another short one.
        with self.db.uow() as uow:
            batch = store.due(uow.session, self.clock.now(), limit, channel)
            for message in batch:
                message.next_attempt_at = self.clock.now() + LEASE
            uow.commit()
        outcomes: dict[UUID, str | None] = {}
        for message in batch:
            try:
                sender.send(message)
                outcomes[message.id] = None
            except (OSError, smtplib.SMTPException) as exc:
                outcomes[message.id] = f"{type(exc).__name__}: {exc}"[:500]
        with self.db.uow() as uow:
            for message in store.by_ids(uow.session, list(outcomes)):
                error = outcomes[message.id]
                message.attempts += 1
                if error is None:
                    message.status, message.sent_at = "sent", self.clock.now()
                    continue
                message.last_error = error
                message.status = "failed" if message.attempts >= MAX_ATTEMPTS else "pending"
                message.next_attempt_at = self.clock.now() + backoff(message.attempts)
                log.warning("notify.delivery_failed", id=str(message.id), channel=channel,
                            attempts=message.attempts, error=error)
            uow.commit()
        return sum(1 for error in outcomes.values() if error is None)

    def recent(self, limit: int = 50) -> list[store.OutboxRow]:
        with self.db.uow() as uow:
            return store.recent(uow.session, limit)


def senders_from(smtp_url: str | None, mail_from: str, sms_url: str | None, sms_secret: str) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    if smtp_url:
        senders["email"] = SmtpSender(smtp_url, mail_from)
    if sms_url:
        senders["sms"] = HttpSmsSender(sms_url, sms_secret)
    return senders

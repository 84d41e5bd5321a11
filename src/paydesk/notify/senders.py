"""How a queued message leaves: one sender per channel. Email goes over SMTP; SMS goes to an HTTP gateway
(`PAYDESK_SMS_URL`) that hands it to the carrier. A channel without a sender keeps its messages in the outbox
(readable at /dev/outbox in development) — the default for SMS, since no carrier is reachable from here.

A sender raises `OSError` (or `smtplib.SMTPException`) when delivery fails; the outbox retries with backoff."""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlparse

from paydesk.core import signing
from paydesk.notify.store import OutboxRow


class Sender(Protocol):
    def send(self, message: OutboxRow) -> None: ...


class SmtpSender:
    def __init__(self, url: str, mail_from: str) -> None:
        self.url, self.mail_from = urlparse(url), mail_from

    def send(self, message: OutboxRow) -> None:
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self.mail_from, message.recipient, message.subject
        email["Content-Language"] = message.locale
        email.set_content(message.body)
        url = self.url
        smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with smtp_class(url.hostname or "127.0.0.1", url.port or 25, timeout=10) as client:
            if url.scheme == "smtp+starttls":
                client.starttls()
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(email)


class GatewayError(OSError):
    """The SMS gateway answered, but not with success."""


class HttpSmsSender:
    """POSTs `{"id", "to", "text", "locale"}` as JSON, signed like our webhooks (`Paydesk-Signature`), to an
    SMS gateway; any 2xx answer is delivery. The message id lets the gateway drop a retried duplicate."""

    def __init__(self, url: str, secret: str, timeout_s: float = 10.0) -> None:
        if urlparse(url).scheme not in ("http", "https"):
            raise ValueError("PAYDESK_SMS_URL must be an http(s) URL")
        self.url, self.secret, self.timeout_s = url, secret, timeout_s

    def send(self, message: OutboxRow) -> None:
        body = json.dumps({"id": str(message.id), "to": message.recipient, "text": message.body,
                           "locale": message.locale}, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={  # noqa: S310 - http(s) only
            "Content-Type": "application/json; charset=utf-8",
            "Paydesk-Signature": signing.sign(self.secret, body, int(time.time())),
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:  # 4xx/5xx
            status = exc.code
            exc.close()
        if not 200 <= status < 300:
            raise GatewayError(f"the SMS gateway answered {status}")

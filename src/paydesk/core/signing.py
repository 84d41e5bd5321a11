"""Signed HTTP bodies, both ways: `Paydesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
Rails sign the events they post to us with their secret; we sign what we post to an SMS gateway. Stale (older
than 5 minutes, or from the future) and badly signed bodies are refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from paydesk.core.errors import DomainError

TOLERANCE = timedelta(minutes=5)
HEADER = "paydesk-signature"


class BadSignature(DomainError):
    code = "bad_signature"
    status = 401
    title = "The event's signature is missing or wrong"


class StaleEvent(DomainError):
    code = "stale_event"
    status = 401
    title = "The event's timestamp is too old (or in the future); replays are refused"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, now: datetime) -> None:
    """Raise unless `header` signs `body` with `secret` within the tolerance around `now`."""
    fields = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    timestamp, mac = fields.get("t", ""), fields.get("v1", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise BadSignature()
    if len(mac) != 64 or any(ch not in "0123456789abcdef" for ch in mac):
        raise BadSignature()
    expected = sign(secret, body, int(timestamp)).split("v1=", 1)[1]
    if not hmac.compare_digest(mac, expected):
        raise BadSignature()
    if abs(now.timestamp() - int(timestamp)) > TOLERANCE.total_seconds():
        raise StaleEvent()

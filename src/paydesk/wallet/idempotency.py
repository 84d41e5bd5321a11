"""`Idempotency-Key` for money-moving requests: the key is claimed in the same transaction as the work,
so two concurrent requests with one key can't both run; a retry gets the first response back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from paydesk.wallet import store
from paydesk.wallet.domain import IdempotencyKeyInProgress, IdempotencyKeyRequired, IdempotencyKeyReused

KEEP_FOR = timedelta(hours=48)
# A request still "in progress" this long after it claimed its key is taken to have died: a retry resumes it.
# Sooner than that, a retry is told the first request is still running.
RESUME_AFTER = timedelta(seconds=30)
MAX_KEY = 255
IN_PROGRESS = 0


@dataclass(frozen=True, slots=True)
class Claim:
    """A newly claimed key: the request runs. `replay` is set instead when the key was used before."""

    replay: tuple[int, dict[str, Any]] | None = None
    resume: UUID | None = None  # an earlier attempt created this resource and stopped before answering

    @property
    def fresh(self) -> bool:
        return self.replay is None and self.resume is None


def request_hash(operation: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([operation, body], sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyRequired()
    if len(key) > MAX_KEY or not key.isprintable():
        raise IdempotencyKeyRequired(f"the Idempotency-Key must be 1 to {MAX_KEY} printable characters")
    return key


def claim(session: Session, user_id: UUID, key: str, digest: str, now: datetime) -> Claim:
    """Claim `key` inside the caller's transaction, or say what the earlier request answered."""
    found = store.idempotency(session, user_id, key)
    if found is not None and found.expires_at > now:
        if found.request_hash != digest:
            raise IdempotencyKeyReused()
        if found.status_code == IN_PROGRESS:
            if found.resource_id is None or now - found.created_at < RESUME_AFTER:
                raise IdempotencyKeyInProgress()
            return Claim(resume=found.resource_id)
        return Claim(replay=(found.status_code, json.loads(found.response)))
    if found is not None:
        session.delete(found)
        session.flush()
    session.add(store.IdempotencyRow(
        user_id=user_id, key=key, request_hash=digest, resource_id=None, status_code=IN_PROGRESS, response="",
        created_at=now, expires_at=now + KEEP_FOR,
    ))
    session.flush()  # on PostgreSQL a concurrent claim of the same key waits here, then fails
    return Claim()


def record(session: Session, user_id: UUID, key: str, *, resource_id: UUID | None = None,
           response: tuple[int, dict[str, Any]] | None = None) -> None:
    row = store.idempotency(session, user_id, key)
    if row is None:
        return
    if resource_id is not None:
        row.resource_id = resource_id
    if response is not None:
        row.status_code, row.response = response[0], json.dumps(response[1], default=str)

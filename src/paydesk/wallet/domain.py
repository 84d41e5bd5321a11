"""Wallet rules with no I/O: public wallet ids, transaction kinds, the ledger legs of each operation,
and the one place fees will plug in."""

from __future__ import annotations

import secrets
from enum import StrEnum
from uuid import UUID

from paydesk.core.errors import DomainError
from paydesk.ledger.domain import AccountFlags

WALLET_CODE = "wallet"
MAX_SAVED_DESTINATIONS = 20
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread

USER_FLAGS = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS  # a user's wallet account never goes below zero


class TxType(StrEnum):
    TOPUP = "topup"
    SEND = "send"
    RECEIVE = "receive"
    WITHDRAWAL = "withdrawal"
    EXCHANGE = "exchange"


class TxStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 422
    title = "The available balance is too low"


class RecipientNotFound(DomainError):
    code = "recipient_not_found"
    status = 422
    title = "No Paydesk wallet has this email, phone number or wallet id"


class CannotSendToSelf(DomainError):
    code = "cannot_send_to_self"
    status = 422
    title = "You can't send money to your own wallet"


class IdempotencyKeyRequired(DomainError):
    code = "idempotency_key_required"
    status = 400
    title = "Money-moving requests need an Idempotency-Key header"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 409
    title = "This Idempotency-Key was used for a different request"


class IdempotencyKeyInProgress(DomainError):
    code = "idempotency_key_in_progress"
    status = 409
    title = "A request with this Idempotency-Key is still being processed; retry in a moment"


class DailyLimitExceeded(DomainError):
    code = "daily_limit_exceeded"
    status = 422
    title = "This would pass your daily limit for this kind of payment"


class TransactionNotFound(DomainError):
    code = "not_found"
    status = 404
    title = "No such transaction"


class DestinationNotFound(DomainError):
    code = "destination_not_found"
    status = 404
    title = "No such saved destination"


class TooManyDestinations(DomainError):
    code = "too_many_destinations"
    status = 409
    title = f"At most {MAX_SAVED_DESTINATIONS} saved destinations; remove one first"


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    status = 422
    title = "The cursor is not valid; start again without it"


def new_wallet_id() -> str:
    """`PD-7K3Q-9XWM`: 40 random bits, easy to read aloud and to type."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"PD-{chars[:4]}-{chars[4:]}"


def parse_wallet_id(text: str) -> str | None:
    """The canonical form of a typed wallet id (any case, dashes and spaces optional), or None."""
    compact = text.strip().upper().replace("-", "").replace(" ", "")
    if not compact.startswith("PD"):
        return None
    body = compact[2:].replace("O", "0").replace("I", "1").replace("L", "1")
    if len(body) != 8 or any(ch not in _ALPHABET for ch in body):
        return None
    return f"PD-{body[:4]}-{body[4:]}"


def owner(user_id: UUID) -> str:
    """The ledger owner of a user's accounts."""
    return str(user_id)


def settlement_code(rail: str) -> str:
    return f"settlement:{rail}"

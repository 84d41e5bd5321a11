"""The ledger's vocabulary, with no I/O (TigerBeetle's semantics, in Python): accounts and their flags,
transfers and their kinds, result codes. The rules that use them are in `posting.py`.

Kinds of transfer:
- `direct`: moves `amount` from the debit account to the credit account, posted at once;
- `pending`: reserves `amount` (a hold) until it is posted, voided or its timeout passes;
- `post`: settles a pending transfer, in full or in part; the rest of the hold is released;
- `void`: releases a pending transfer's hold;
- `expire`: what the engine records when a pending transfer's timeout has passed (not for clients).

Transfers flagged `linked` form a chain with the transfers after them, up to and including the first one
that is not linked; a chain succeeds or fails as a whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntFlag, StrEnum
from typing import Any
from uuid import UUID

INT64_MAX = 2**63 - 1
MAX_TIMEOUT_S = 2**31 - 1  # about 68 years; the column is a 32-bit integer
MAX_CODE_CHARS = 64
MAX_METADATA_BYTES = 4096


class AccountFlags(IntFlag):
    NONE = 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1  # e.g. a user's balance: it can't go below zero
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2  # e.g. a liability the house can't owe more of than it holds


class Kind(StrEnum):
    DIRECT = "direct"
    PENDING = "pending"
    POST = "post"
    VOID = "void"
    EXPIRE = "expire"


RESOLVING_KINDS = frozenset({Kind.POST, Kind.VOID, Kind.EXPIRE})


class Result(StrEnum):
    OK = "ok"
    EXISTS = "exists"  # the same id with the same fields was posted before: treat as success
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    AMOUNT_MUST_NOT_BE_ZERO = "amount_must_not_be_zero"
    AMOUNT_MUST_BE_POSITIVE = "amount_must_be_positive"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    ACCOUNT_REQUIRED = "account_required"
    CURRENCY_REQUIRED = "currency_required"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    PENDING_ID_REQUIRED = "pending_id_required"
    PENDING_ID_MUST_BE_ZERO = "pending_id_must_be_zero"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    TIMEOUT_MUST_NOT_BE_NEGATIVE = "timeout_must_not_be_negative"
    TIMEOUT_TOO_LARGE = "timeout_too_large"
    CODE_INVALID = "code_invalid"
    METADATA_INVALID = "metadata_invalid"
    KIND_RESERVED_FOR_ENGINE = "kind_reserved_for_engine"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = "pending_transfer_has_different_accounts"
    PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY = "pending_transfer_has_different_currency"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PENDING_TRANSFER_NOT_EXPIRED = "pending_transfer_not_expired"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"
    OVERFLOWS = "overflows"

    @property
    def succeeded(self) -> bool:
        return self in (Result.OK, Result.EXISTS)


# Failures that are not remembered against the id: the transfer itself was fine, another one in its chain
# (or the chain's shape) was not; or the engine's own expiry came too early. The same id may be sent again.
NOT_REMEMBERED = frozenset({
    Result.LINKED_EVENT_FAILED, Result.LINKED_EVENT_CHAIN_OPEN, Result.PENDING_TRANSFER_NOT_EXPIRED,
})


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A transfer as a client asks for it. For `post`/`void`, accounts, currency and amount may be left
    out (None): they are taken from the pending transfer; a `post` without an amount posts it in full."""

    id: UUID
    debit_account_id: UUID | None
    credit_account_id: UUID | None
    amount: int | None
    currency: str | None
    code: str = ""
    kind: Kind = Kind.DIRECT
    pending_id: UUID | None = None
    timeout_s: int = 0
    linked: bool = False
    metadata: Mapping[str, Any] | None = None

    def fingerprint(self) -> str:
        """A digest of every field, to tell a retry from a different transfer that reuses an id."""
        fields = [
            str(self.id), str(self.debit_account_id), str(self.credit_account_id), self.amount,
            self.currency, self.code, self.kind.value, str(self.pending_id), self.timeout_s, self.linked,
            json.dumps(self.metadata or None, sort_keys=True, separators=(",", ":"), default=repr),
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


@dataclass(slots=True)
class Balance:
    """An account's totals, and how many balance-history entries it has."""

    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    entry_seq: int = 0

    def copy(self) -> Balance:
        return Balance(
            self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted, self.entry_seq,
        )


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer as the ledger recorded it: every field resolved. `debit_after` and `credit_after` are
    the two accounts' totals right after it (their balance history); they are not loaded back for
    idempotency checks, where they are None."""

    id: UUID
    debit_account_id: UUID
    credit_account_id: UUID
    amount: int
    currency: str
    code: str
    kind: Kind
    pending_id: UUID | None
    timeout_s: int
    expires_at: datetime | None
    linked: bool
    metadata: Mapping[str, Any] | None
    created_at: datetime
    debit_after: Balance | None = None
    credit_after: Balance | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """A remembered failed id: a retry of the same request gets the same result."""

    id: UUID
    result: Result
    fingerprint: str
    created_at: datetime


@dataclass(slots=True)
class Account:
    id: UUID
    currency: str
    flags: int  # AccountFlags bits, kept as a plain int: they are checked for every transfer
    balance: Balance = field(default_factory=Balance)
    limits_debits: bool = field(init=False)
    limits_credits: bool = field(init=False)

    def __post_init__(self) -> None:
        self.limits_debits = bool(self.flags & 1)  # AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        self.limits_credits = bool(self.flags & 2)  # AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS

    def breaks_limits(self, b: Balance) -> Result | None:
        if self.limits_debits and b.debits_pending + b.debits_posted > b.credits_posted:
            return Result.EXCEEDS_CREDITS
        if self.limits_credits and b.credits_pending + b.credits_posted > b.debits_posted:
            return Result.EXCEEDS_DEBITS
        return None


@dataclass(slots=True)
class Known:
    """What the store loaded for a batch: the touched accounts (locked), transfers with the batch's ids,
    remembered failures, the pending transfers the batch refers to and which of those are resolved."""

    accounts: dict[UUID, Account]
    transfers: dict[UUID, Transfer] = field(default_factory=dict)
    failures: dict[UUID, Failure] = field(default_factory=dict)
    resolutions: dict[UUID, Kind] = field(default_factory=dict)  # pending id -> how it was resolved


@dataclass(slots=True)
class Outcome:
    results: list[Result]
    transfers: list[Transfer]
    failures: list[Failure]
    touched: dict[UUID, Account]  # accounts whose totals changed, with their new totals


def referenced_pending_ids(requests: Iterable[TransferRequest]) -> set[UUID]:
    return {r.pending_id for r in requests if r.pending_id is not None and r.kind in RESOLVING_KINDS}

"""The posting rules of the ledger, with no I/O (TigerBeetle's semantics, in Python).

`apply_batch` takes the transfers to post and everything already known about the accounts and transfers
they touch, and decides each transfer's result code, the new account totals and the balance-history
entries. The store loads the inputs and writes the outputs in one database transaction.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum
from typing import Any
from uuid import UUID

INT64_MAX = 2**63 - 1


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
            json.dumps(self.metadata, sort_keys=True, separators=(",", ":")),
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer as the ledger recorded it: every field resolved."""

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


@dataclass(frozen=True, slots=True)
class Failure:
    """A remembered failed id: a retry of the same request gets the same result."""

    id: UUID
    result: Result
    fingerprint: str
    created_at: datetime


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


@dataclass(slots=True)
class Account:
    id: UUID
    currency: str
    flags: AccountFlags
    balance: Balance = field(default_factory=Balance)

    def breaks_limits(self, b: Balance | None = None) -> Result | None:
        b = b or self.balance
        if self.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and (
            b.debits_pending + b.debits_posted > b.credits_posted
        ):
            return Result.EXCEEDS_CREDITS
        if self.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS and (
            b.credits_pending + b.credits_posted > b.debits_posted
        ):
            return Result.EXCEEDS_DEBITS
        return None


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of an account's balance history: the totals right after `transfer_id` touched it."""

    account_id: UUID
    seq: int
    transfer_id: UUID
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    created_at: datetime


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
    entries: list[Entry]
    touched: dict[UUID, Account]  # accounts whose totals changed, with their new totals


class _Scratch:
    """Changes made by one chain, kept aside until the whole chain has succeeded."""

    def __init__(self, known: Known) -> None:
        self.known = known
        self.balances: dict[UUID, Balance] = {}
        self.transfers: dict[UUID, Transfer] = {}
        self.resolutions: dict[UUID, Kind] = {}
        self.entries: list[Entry] = []

    def balance(self, account: Account) -> Balance:
        if account.id not in self.balances:
            self.balances[account.id] = account.balance.copy()
        return self.balances[account.id]

    def transfer(self, transfer_id: UUID) -> Transfer | None:
        return self.transfers.get(transfer_id) or self.known.transfers.get(transfer_id)

    def resolution(self, pending_id: UUID) -> Kind | None:
        return self.resolutions.get(pending_id) or self.known.resolutions.get(pending_id)


def chains(requests: Sequence[TransferRequest]) -> list[range]:
    """The index ranges of the linked chains in `requests` (a lone transfer is a chain of one)."""
    spans: list[range] = []
    start = 0
    for i, request in enumerate(requests):
        if not request.linked:
            spans.append(range(start, i + 1))
            start = i + 1
    if start < len(requests):
        spans.append(range(start, len(requests)))  # open chain: its last transfer is linked
    return spans


def apply_batch(
    requests: Sequence[TransferRequest], known: Known, now: datetime, *, engine: bool = False,
) -> Outcome:
    """Decide every request in order. `known` is updated in place to the state after the batch.
    `engine=True` allows the `expire` kind (used by the expiry job only)."""
    results: list[Result] = [Result.OK] * len(requests)
    posted: list[Transfer] = []
    failures: list[Failure] = []
    entries: list[Entry] = []
    touched: dict[UUID, Account] = {}
    for span in chains(requests):
        open_chain = requests[span[-1]].linked
        scratch = _Scratch(known)
        failed_at: int | None = None
        for i in span:
            result = Result.LINKED_EVENT_CHAIN_OPEN if open_chain else _apply_one(
                requests[i], scratch, now, engine=engine,
            )
            results[i] = result
            if not result.succeeded:
                failed_at = i
                break
        if failed_at is not None:
            for i in span:
                if i != failed_at:
                    results[i] = Result.LINKED_EVENT_FAILED if not open_chain else Result.LINKED_EVENT_CHAIN_OPEN
            failed = results[failed_at]
            request = requests[failed_at]
            if failed not in NOT_REMEMBERED and request.id.int != 0 and failed != Result.EXISTS_WITH_DIFFERENT_FIELDS:
                if request.id not in known.failures:
                    failure = Failure(request.id, failed, request.fingerprint(), now)
                    known.failures[request.id] = failure
                    failures.append(failure)
            continue
        for account_id, balance in scratch.balances.items():
            account = known.accounts[account_id]
            account.balance = balance
            touched[account_id] = account
        known.transfers.update(scratch.transfers)
        known.resolutions.update(scratch.resolutions)
        posted.extend(scratch.transfers.values())
        entries.extend(scratch.entries)
    return Outcome(results, posted, failures, entries, touched)


def _apply_one(request: TransferRequest, s: _Scratch, now: datetime, *, engine: bool) -> Result:
    if request.id.int == 0:
        return Result.ID_MUST_NOT_BE_ZERO
    previous = s.transfer(request.id)
    if previous is not None:
        return Result.EXISTS if _same(request, previous, s) else Result.EXISTS_WITH_DIFFERENT_FIELDS
    remembered = s.known.failures.get(request.id)
    if remembered is not None:
        same = remembered.fingerprint == request.fingerprint()
        return remembered.result if same else Result.EXISTS_WITH_DIFFERENT_FIELDS
    if request.kind == Kind.EXPIRE and not engine:
        return Result.KIND_RESERVED_FOR_ENGINE
    if request.kind in RESOLVING_KINDS:
        return _resolve(request, s, now)
    return _open(request, s, now)


def _open(request: TransferRequest, s: _Scratch, now: datetime) -> Result:
    """A direct or pending transfer."""
    problem = _check_shape(request)
    if problem is not None:
        return problem
    assert request.debit_account_id and request.credit_account_id and request.amount  # noqa: S101
    debit = s.known.accounts.get(request.debit_account_id)
    credit = s.known.accounts.get(request.credit_account_id)
    if debit is None or credit is None:
        return Result.ACCOUNT_NOT_FOUND
    if not (debit.currency == credit.currency == request.currency):
        return Result.CURRENCY_MISMATCH
    amount = request.amount
    db, cb = s.balance(debit).copy(), s.balance(credit).copy()
    if request.kind == Kind.PENDING:
        db.debits_pending += amount
        cb.credits_pending += amount
    else:
        db.debits_posted += amount
        cb.credits_posted += amount
    problem = _check_limits(debit, db, credit, cb)
    if problem is not None:
        return problem
    expires_at = now + timedelta(seconds=request.timeout_s) if request.timeout_s else None
    transfer = Transfer(
        request.id, debit.id, credit.id, amount, debit.currency, request.code, request.kind, None,
        request.timeout_s, expires_at, request.linked, request.metadata, now,
    )
    _record(s, transfer, debit, db, credit, cb)
    return Result.OK


def _check_shape(request: TransferRequest) -> Result | None:
    if request.pending_id is not None:
        return Result.PENDING_ID_MUST_BE_ZERO
    if request.timeout_s < 0:
        return Result.TIMEOUT_MUST_NOT_BE_NEGATIVE
    if request.timeout_s and request.kind != Kind.PENDING:
        return Result.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if request.debit_account_id is None or request.credit_account_id is None:
        return Result.ACCOUNT_REQUIRED
    if request.debit_account_id == request.credit_account_id:
        return Result.ACCOUNTS_MUST_BE_DIFFERENT
    if request.currency is None:
        return Result.CURRENCY_REQUIRED
    if request.amount is None or request.amount == 0:
        return Result.AMOUNT_MUST_NOT_BE_ZERO
    if request.amount < 0:
        return Result.AMOUNT_MUST_BE_POSITIVE
    if request.amount > INT64_MAX:
        return Result.OVERFLOWS
    return None


def _resolve(request: TransferRequest, s: _Scratch, now: datetime) -> Result:
    """A post, void or expiry of a pending transfer."""
    if request.pending_id is None:
        return Result.PENDING_ID_REQUIRED
    if request.timeout_s:
        return Result.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    pending = s.transfer(request.pending_id)
    if pending is None:
        return Result.PENDING_TRANSFER_NOT_FOUND
    if pending.kind != Kind.PENDING:
        return Result.PENDING_TRANSFER_NOT_PENDING
    problem = _check_against_pending(request, pending)
    if problem is not None:
        return problem
    resolution = s.resolution(pending.id)
    if resolution == Kind.POST:
        return Result.PENDING_TRANSFER_ALREADY_POSTED
    if resolution == Kind.VOID:
        return Result.PENDING_TRANSFER_ALREADY_VOIDED
    if resolution == Kind.EXPIRE:
        return Result.PENDING_TRANSFER_EXPIRED
    expired = pending.expires_at is not None and now >= pending.expires_at
    if request.kind == Kind.EXPIRE and not expired:
        return Result.PENDING_TRANSFER_NOT_EXPIRED
    if request.kind != Kind.EXPIRE and expired:
        return Result.PENDING_TRANSFER_EXPIRED
    amount = pending.amount if request.kind != Kind.POST or request.amount is None else request.amount
    debit, credit = s.known.accounts.get(pending.debit_account_id), s.known.accounts.get(pending.credit_account_id)
    if debit is None or credit is None:  # the store locks a pending transfer's accounts; defensive
        return Result.ACCOUNT_NOT_FOUND
    db, cb = s.balance(debit).copy(), s.balance(credit).copy()
    db.debits_pending -= pending.amount
    cb.credits_pending -= pending.amount
    if request.kind == Kind.POST:
        db.debits_posted += amount
        cb.credits_posted += amount
    problem = _check_limits(debit, db, credit, cb)
    if problem is not None:
        return problem
    transfer = Transfer(
        request.id, debit.id, credit.id, amount, pending.currency, request.code or pending.code, request.kind,
        pending.id, 0, None, request.linked, request.metadata, now,
    )
    s.resolutions[pending.id] = request.kind
    _record(s, transfer, debit, db, credit, cb)
    return Result.OK


def _check_against_pending(request: TransferRequest, pending: Transfer) -> Result | None:
    if request.debit_account_id not in (None, pending.debit_account_id) or request.credit_account_id not in (
        None, pending.credit_account_id,
    ):
        return Result.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS
    if request.currency not in (None, pending.currency):
        return Result.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY
    if request.amount is not None:
        if request.amount < 0:
            return Result.AMOUNT_MUST_BE_POSITIVE
        if request.kind == Kind.POST and request.amount > pending.amount:
            return Result.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if request.kind == Kind.POST and request.amount == 0:
            return Result.AMOUNT_MUST_NOT_BE_ZERO
        if request.kind != Kind.POST and request.amount != pending.amount:
            return Result.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
    return None


def _check_limits(debit: Account, db: Balance, credit: Account, cb: Balance) -> Result | None:
    for balance in (db, cb):
        debits = balance.debits_pending + balance.debits_posted
        if max(debits, balance.credits_pending + balance.credits_posted) > INT64_MAX:
            return Result.OVERFLOWS
    return debit.breaks_limits(db) or credit.breaks_limits(cb)


def _record(s: _Scratch, transfer: Transfer, debit: Account, db: Balance, credit: Account, cb: Balance) -> None:
    for account, balance in ((debit, db), (credit, cb)):
        balance.entry_seq += 1
        s.balances[account.id] = balance
        s.entries.append(Entry(
            account.id, balance.entry_seq, transfer.id, balance.debits_pending, balance.debits_posted,
            balance.credits_pending, balance.credits_posted, transfer.created_at,
        ))
    s.transfers[transfer.id] = transfer


def _same(request: TransferRequest, previous: Transfer, s: _Scratch) -> bool:
    """Whether `request` asks for exactly what `previous` recorded (unset post/void fields match what
    the ledger resolved them to)."""
    if request.kind != previous.kind or request.pending_id != previous.pending_id:
        return False
    if request.linked != previous.linked or (request.metadata or None) != (previous.metadata or None):
        return False
    if request.kind in RESOLVING_KINDS:
        pending = s.transfer(previous.pending_id) if previous.pending_id else None
        full = pending.amount if pending else previous.amount
        wanted_amount = request.amount if request.amount is not None else (
            full if request.kind == Kind.POST else previous.amount
        )
        return (
            request.debit_account_id in (None, previous.debit_account_id)
            and request.credit_account_id in (None, previous.credit_account_id)
            and request.currency in (None, previous.currency)
            and wanted_amount == previous.amount
            and request.code in ("", previous.code)
        )
    return (
        request.debit_account_id == previous.debit_account_id
        and request.credit_account_id == previous.credit_account_id
        and request.amount == previous.amount
        and request.currency == previous.currency
        and request.code == previous.code
        and request.timeout_s == previous.timeout_s
    )


def referenced_pending_ids(requests: Iterable[TransferRequest]) -> set[UUID]:
    return {r.pending_id for r in requests if r.pending_id is not None and r.kind in RESOLVING_KINDS}


def with_id(request: TransferRequest, new_id: UUID) -> TransferRequest:
    return replace(request, id=new_id)

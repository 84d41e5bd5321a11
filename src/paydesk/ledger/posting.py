"""The posting rules of the ledger, with no I/O.

`apply_batch` takes the transfers to post and everything already known about the accounts and transfers
they touch, and decides each transfer's result code, the new account totals and each transfer's
balance-history snapshot. The store loads the inputs and writes the outputs in one database transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from paydesk.ledger.domain import (
    INT64_MAX,
    MAX_CODE_CHARS,
    MAX_METADATA_BYTES,
    MAX_TIMEOUT_S,
    NOT_REMEMBERED,
    RESOLVING_KINDS,
    Account,
    Balance,
    Failure,
    Kind,
    Known,
    Outcome,
    Result,
    Transfer,
    TransferRequest,
)

_SUCCEEDED = frozenset({Result.OK, Result.EXISTS})


class _Scratch:
    """Changes made by one chain, kept aside until the whole chain has succeeded. Balances here are
    never changed in place: each transfer puts new ones, so the accounts' own stay as they were."""

    __slots__ = ("balances", "known", "resolutions", "transfers")

    def __init__(self, known: Known) -> None:
        self.known = known
        self.balances: dict[UUID, Balance] = {}
        self.transfers: dict[UUID, Transfer] = {}
        self.resolutions: dict[UUID, Kind] = {}

    def balance(self, account: Account) -> Balance:
        """A new copy of the account's totals as this chain sees them, to change and then `_record`."""
        return (self.balances.get(account.id) or account.balance).copy()

    def clear(self) -> None:
        self.balances.clear()
        self.transfers.clear()
        self.resolutions.clear()

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
    touched: dict[UUID, Account] = {}
    scratch = _Scratch(known)
    for span in chains(requests):
        open_chain = requests[span[-1]].linked
        scratch.clear()
        failed_at: int | None = None
        for i in span:
            result = Result.LINKED_EVENT_CHAIN_OPEN if open_chain else _apply_one(
                requests[i], scratch, now, engine=engine,
            )
            results[i] = result
            if result not in _SUCCEEDED:
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
        accounts = known.accounts
        for account_id, balance in scratch.balances.items():
            account = accounts[account_id]
            account.balance = balance
            touched[account_id] = account
        known.transfers.update(scratch.transfers)
        if scratch.resolutions:
            known.resolutions.update(scratch.resolutions)
        posted.extend(scratch.transfers.values())
    return Outcome(results, posted, failures, touched)


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
    problem = _check_fields(request)
    if problem is not None:
        return problem
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
    db, cb = s.balance(debit), s.balance(credit)
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
    db.entry_seq += 1
    cb.entry_seq += 1
    _record(s, Transfer(
        request.id, debit.id, credit.id, amount, debit.currency, request.code, request.kind, None,
        request.timeout_s, expires_at, request.linked, request.metadata, now, db, cb,
    ))
    return Result.OK


def _check_fields(request: TransferRequest) -> Result | None:
    """Fields every kind shares, checked so that nothing the database would refuse reaches it (one bad
    request must not fail the rest of its batch)."""
    if request.timeout_s > MAX_TIMEOUT_S:
        return Result.TIMEOUT_TOO_LARGE
    code = request.code
    if len(code) > MAX_CODE_CHARS or not code.isprintable():
        return Result.CODE_INVALID
    if request.metadata is not None:
        try:
            encoded = json.dumps(dict(request.metadata), allow_nan=False)
        except (TypeError, ValueError):
            return Result.METADATA_INVALID
        if "\\u0000" in encoded or len(encoded.encode()) > MAX_METADATA_BYTES:
            return Result.METADATA_INVALID
    return None


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
    db, cb = s.balance(debit), s.balance(credit)
    db.debits_pending -= pending.amount
    cb.credits_pending -= pending.amount
    if request.kind == Kind.POST:
        db.debits_posted += amount
        cb.credits_posted += amount
    problem = _check_limits(debit, db, credit, cb)
    if problem is not None:
        return problem
    db.entry_seq += 1
    cb.entry_seq += 1
    s.resolutions[pending.id] = request.kind
    _record(s, Transfer(
        request.id, debit.id, credit.id, amount, pending.currency, request.code or pending.code, request.kind,
        pending.id, 0, None, request.linked, request.metadata, now, db, cb,
    ))
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


def _record(s: _Scratch, transfer: Transfer) -> None:
    """Keep the transfer and make its balance snapshots the accounts' current totals in this chain."""
    assert transfer.debit_after is not None and transfer.credit_after is not None  # noqa: S101
    s.balances[transfer.debit_account_id] = transfer.debit_after
    s.balances[transfer.credit_account_id] = transfer.credit_after
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

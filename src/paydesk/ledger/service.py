"""Ledger use cases: open accounts, post batches of transfers, expire holds, check the invariants.

`post` runs one batch in its own transaction. `post_in` runs a batch inside a caller's unit of work,
so that a feature can post its transfers and write its own rows atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import NotFound
from paydesk.core.ids import uuid7
from paydesk.core.money import Currencies
from paydesk.ledger import bulk, store
from paydesk.ledger.audit import Problem, find_problems
from paydesk.ledger.domain import AccountFlags, Kind, Outcome, Result, TransferRequest, referenced_pending_ids
from paydesk.ledger.posting import apply_batch

log = structlog.get_logger(__name__)

SYSTEM = "system"
_RETRIES = 5
_EXPIRY_MARGIN = timedelta(hours=1)
_FULL_EXPIRY_SCAN_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AccountView:
    id: UUID
    owner: str
    code: str
    currency: str
    flags: AccountFlags
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def posted_balance(self) -> int:
        """Credits minus debits posted: what a user's wallet account holds."""
        return self.credits_posted - self.debits_posted

    @property
    def available_balance(self) -> int:
        """What can still be spent: posted balance less outgoing holds."""
        return self.credits_posted - self.debits_posted - self.debits_pending


def _view(row: store.AccountRow) -> AccountView:
    return AccountView(
        row.id, row.owner, row.code, row.currency, AccountFlags(row.flags), row.debits_pending,
        row.debits_posted, row.credits_pending, row.credits_posted,
    )


class LedgerService:
    def __init__(self, db: Database, clock: Clock, currencies: Currencies) -> None:
        self.db = db
        self.clock = clock
        self.currencies = currencies
        self._expired_until: datetime | None = None
        # (owner, code, currency) -> account id, for accounts known to be committed. Accounts are never
        # deleted, so an entry never goes stale.
        self._account_ids: dict[tuple[str, str, str], UUID] = {}
        self._full_scan_at = datetime.min.replace(tzinfo=UTC)

    # --- accounts ---------------------------------------------------------------------------------------

    def open_account(
        self, owner: str, code: str, currency: str, flags: AccountFlags = AccountFlags.NONE,
    ) -> UUID:
        """The id of `owner`'s `code` account in `currency`, opening it if it does not exist yet."""
        self.currencies.get_or_raise(currency)
        with self.db.uow() as uow:
            account_id = self.open_account_in(uow.session, owner, code, currency, flags)
            uow.commit()
        return account_id

    def open_account_in(
        self, session: Session, owner: str, code: str, currency: str, flags: AccountFlags = AccountFlags.NONE,
    ) -> UUID:
        key = (owner, code, currency)
        cached = self._account_ids.get(key)
        if cached is not None:
            return cached
        opened_here: set[UUID] = session.info.setdefault("paydesk_opened_accounts", set())
        existing = store.find_account_id(session, owner, code, currency)
        if existing is not None:
            if existing not in opened_here:  # committed before this transaction: it can never go away
                self._account_ids[key] = existing
            return existing
        store.insert_accounts(session, [{
            "id": uuid7(), "owner": owner, "code": code, "currency": currency, "flags": int(flags),
            "debits_pending": 0, "debits_posted": 0, "credits_pending": 0, "credits_posted": 0, "entry_seq": 0,
            "created_at": self.clock.now(),
        }])
        found = store.find_account_id(session, owner, code, currency)
        assert found is not None  # noqa: S101 - inserted or found just above
        opened_here.add(found)  # not cached yet: this transaction may still roll back
        return found

    def system_account(self, code: str, currency: str) -> UUID:
        """A per-currency system account (`fees`, `fx_pool`, `suspense`, `settlement:<rail>`), opened on demand.
        Settlement accounts stand for money outside the wallet, so they have no limit."""
        return self.open_account(SYSTEM, code, currency)

    def account(self, account_id: UUID) -> AccountView:
        with self.db.reader() as uow:
            row = store.get_accounts(uow.session, [account_id]).get(account_id)
            if row is None:
                raise NotFound(f"ledger account {account_id} does not exist")
            return _view(row)

    def accounts(self, ids: Sequence[UUID]) -> dict[UUID, AccountView]:
        with self.db.reader() as uow:
            return {k: _view(v) for k, v in store.get_accounts(uow.session, ids).items()}

    def accounts_of(self, owner: str) -> list[AccountView]:
        with self.db.reader() as uow:
            return [_view(row) for row in store.accounts_of_owner(uow.session, owner)]

    def balance_as_of(self, account_id: UUID, moment: datetime) -> tuple[int, int, int, int]:
        """(debits_pending, debits_posted, credits_pending, credits_posted) as they stood at `moment`."""
        with self.db.reader() as uow:
            return store.balance_as_of(uow.session, account_id, moment)

    def history(self, account_id: UUID, start: datetime, end: datetime, limit: int = 500) -> list[store.HistoryEntry]:
        """The account's balance after each transfer in [start, end), oldest first."""
        with self.db.reader() as uow:
            return store.history(uow.session, account_id, start, end, limit=limit)

    # --- transfers --------------------------------------------------------------------------------------

    def post(self, requests: Sequence[TransferRequest], *, engine: bool = False) -> list[Result]:
        """Post one batch in its own transaction; a result per request, in order."""
        for attempt in range(1, _RETRIES + 1):
            try:
                with self.db.uow() as uow:
                    outcome = self.post_in(uow.session, requests, engine=engine)
                    uow.commit()
                return outcome.results
            except (IntegrityError, OperationalError) as exc:
                # Another process wrote one of these ids (or won a lock race) between our read and write:
                # the retry reads what it wrote and answers `exists` / the remembered result.
                if attempt == _RETRIES:
                    raise
                log.warning("ledger.batch_retry", attempt=attempt, error=type(exc).__name__)
        raise AssertionError("unreachable")

    def post_in(self, session: Session, requests: Sequence[TransferRequest], *, engine: bool = False) -> Outcome:
        """Decide and write one batch inside the caller's transaction (which must commit it)."""
        session.flush()  # the batch path reads through the driver: let it see the caller's pending rows
        account_ids: set[UUID] = set()
        for r in requests:
            if r.debit_account_id is not None:
                account_ids.add(r.debit_account_id)
            if r.credit_account_id is not None:
                account_ids.add(r.credit_account_id)
        known = bulk.load_for_batch(
            session, account_ids, {r.id for r in requests}, referenced_pending_ids(requests),
        )
        outcome = apply_batch(requests, known, self.clock.now(), engine=engine)
        bulk.write_outcome(session, outcome)
        return outcome

    def lock_in(self, session: Session, account_ids: set[UUID]) -> None:
        """Lock accounts in id order inside the caller's transaction (PostgreSQL; SQLite's writer already
        holds the database), so that work touching them one after another can't deadlock with others."""
        if account_ids:
            bulk.load_for_batch(session, set(account_ids), set(), set())

    def transfers(self, ids: Sequence[UUID]) -> list[store.TransferRow]:
        with self.db.reader() as uow:
            return store.get_transfers(uow.session, ids)

    def expire_pending(self, limit: int = 1000) -> int:
        """Release the holds of pending transfers whose timeout has passed; how many it expired.

        After a complete pass, later passes look only at deadlines since the previous one, less a margin
        for holds committed late (clock skew, long transactions), so the scan does not grow with the
        ledger's history; once an hour a pass looks at everything again."""
        now = self.clock.now()
        full = self._expired_until is None or now - self._full_scan_at >= _FULL_EXPIRY_SCAN_EVERY
        since = None if full or self._expired_until is None else self._expired_until - _EXPIRY_MARGIN
        with self.db.uow() as uow:
            due = store.expired_pending_ids(uow.session, now, limit, since)
        if not due:
            self._pass_complete(now, full)
            return 0
        # Fresh ids: a hold is resolved at most once whatever the id, and an id nobody can predict can't be
        # taken first by a client to block the expiry.
        requests = [
            TransferRequest(uuid7(), None, None, None, None, "expired", Kind.EXPIRE, pending_id=p) for p in due
        ]
        results = self.post(requests, engine=True)
        if len(due) < limit:  # everything due up to `now` was in this pass, and it is now settled
            self._pass_complete(now, full)
        expired = sum(1 for r in results if r == Result.OK)
        if expired:
            log.info("ledger.expired_pending", count=expired)
        return expired

    def _pass_complete(self, now: datetime, full: bool) -> None:
        self._expired_until = now
        if full:
            self._full_scan_at = now

    # --- audit ------------------------------------------------------------------------------------------

    def check(self) -> list[Problem]:
        with self.db.reader() as uow:
            return find_problems(uow.session)

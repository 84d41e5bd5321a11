"""The ledger against a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from paydesk.core.clock import FrozenClock
from paydesk.ledger.domain import AccountFlags, Kind, Result, TransferRequest
from paydesk.ledger.service import LedgerService

USER = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def fund(ledger: LedgerService, account_id: uuid.UUID, amount: int, currency: str = "USD") -> None:
    bank = ledger.system_account("settlement:bank_domestic", currency)
    assert ledger.post([TransferRequest(uuid.uuid4(), bank, account_id, amount, currency, "topup")]) == [Result.OK]


def test_system_accounts_are_opened_once_on_demand(ledger: LedgerService) -> None:
    first = ledger.system_account("fees", "USD")
    assert ledger.system_account("fees", "USD") == first
    assert ledger.system_account("fees", "EUR") != first


def test_posted_transfers_survive_in_the_database_and_balance(ledger: LedgerService) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    bob = ledger.open_account("bob", "wallet", "USD", USER)
    fund(ledger, alice, 10_000)
    results = ledger.post([
        TransferRequest(uuid.uuid4(), alice, bob, 2_500, "USD", "p2p", linked=True, metadata={"note": "rent"}),
        TransferRequest(uuid.uuid4(), alice, ledger.system_account("fees", "USD"), 25, "USD", "fee"),
    ])
    assert results == [Result.OK, Result.OK]
    assert ledger.account(alice).available_balance == 10_000 - 2_525
    assert ledger.account(bob).posted_balance == 2_500
    assert ledger.check() == []


def test_a_retry_in_a_later_transaction_posts_nothing_twice(ledger: LedgerService) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    bob = ledger.open_account("bob", "wallet", "USD", USER)
    fund(ledger, alice, 100)
    send = TransferRequest(uuid.uuid4(), alice, bob, 60, "USD", "p2p")
    assert ledger.post([send]) == [Result.OK]
    assert ledger.post([send]) == [Result.EXISTS]
    changed = TransferRequest(send.id, alice, bob, 61, "USD", "p2p")
    assert ledger.post([changed]) == [Result.EXISTS_WITH_DIFFERENT_FIELDS]
    assert ledger.account(bob).posted_balance == 60
    too_much = TransferRequest(uuid.uuid4(), alice, bob, 50, "USD", "p2p")
    assert ledger.post([too_much]) == [Result.EXCEEDS_CREDITS]
    fund(ledger, alice, 1_000)
    assert ledger.post([too_much]) == [Result.EXCEEDS_CREDITS]  # the first result stands
    assert ledger.account(bob).posted_balance == 60
    assert ledger.check() == []


def test_holds_expire_through_the_job(ledger: LedgerService, clock: FrozenClock) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    bank = ledger.system_account("settlement:bank_domestic", "USD")
    fund(ledger, alice, 100)
    hold = TransferRequest(uuid.uuid4(), alice, bank, 70, "USD", "withdraw", Kind.PENDING, timeout_s=300)
    assert ledger.post([hold]) == [Result.OK]
    assert ledger.account(alice).available_balance == 30
    assert ledger.expire_pending() == 0
    clock.advance(timedelta(minutes=5))
    assert ledger.expire_pending() == 1
    assert ledger.expire_pending() == 0
    assert ledger.account(alice).available_balance == 100
    post = TransferRequest(uuid.uuid4(), None, None, None, None, "withdraw", Kind.POST, pending_id=hold.id)
    assert ledger.post([post]) == [Result.PENDING_TRANSFER_EXPIRED]
    assert ledger.check() == []


def test_balance_history_answers_as_of_any_time(ledger: LedgerService, clock: FrozenClock) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    start = clock.now()
    fund(ledger, alice, 100)
    clock.advance(60)
    middle = clock.now()
    clock.advance(1)
    fund(ledger, alice, 50)
    clock.advance(60)
    assert ledger.balance_as_of(alice, start - timedelta(seconds=1)) == (0, 0, 0, 0)
    assert ledger.balance_as_of(alice, middle)[3] == 100
    assert ledger.balance_as_of(alice, clock.now())[3] == 150


def test_check_names_a_total_that_was_changed_behind_the_ledgers_back(ledger: LedgerService) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    fund(ledger, alice, 100)
    with ledger.db.transaction() as session:
        session.execute(text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE owner = 'alice'"))
    problems = ledger.check()
    names = {p.invariant for p in problems}
    assert {"posted_balanced", "totals_match_transfers", "history_matches_totals"} <= names


def test_check_finds_an_overdrawn_account(ledger: LedgerService) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    bob = ledger.open_account("bob", "wallet", "USD", USER)
    fund(ledger, alice, 100)
    with ledger.db.transaction() as session:  # simulate a broken writer that skipped the balance check
        session.execute(text("UPDATE ledger_accounts SET debits_posted = 500 WHERE owner = 'alice'"))
        session.execute(text("UPDATE ledger_accounts SET credits_posted = 400 WHERE owner = 'bob'"))
    assert "within_limits" in {p.invariant for p in ledger.check()}
    assert bob


def test_unknown_accounts_and_mixed_currencies_change_nothing(ledger: LedgerService) -> None:
    usd = ledger.open_account("alice", "wallet", "USD", USER)
    eur = ledger.open_account("alice", "wallet", "EUR", USER)
    fund(ledger, usd, 100)
    results = ledger.post([
        TransferRequest(uuid.uuid4(), usd, eur, 10, "USD", "p2p"),
        TransferRequest(uuid.uuid4(), usd, uuid.uuid4(), 10, "USD", "p2p"),
    ])
    assert results == [Result.CURRENCY_MISMATCH, Result.ACCOUNT_NOT_FOUND]
    assert ledger.account(usd).available_balance == 100
    assert ledger.check() == []


def test_history_lists_each_balance_in_order_for_a_statement(ledger: LedgerService, clock: FrozenClock) -> None:
    from paydesk.ledger import store

    alice = ledger.open_account("alice", "wallet", "USD", USER)
    bob = ledger.open_account("bob", "wallet", "USD", USER)
    start = clock.now()
    fund(ledger, alice, 100)
    clock.advance(10)
    ledger.post([TransferRequest(uuid.uuid4(), alice, bob, 30, "USD", "p2p")])
    clock.advance(10)
    ledger.post([TransferRequest(uuid.uuid4(), bob, alice, 5, "USD", "p2p")])
    with ledger.db.uow() as uow:
        lines = store.history(uow.session, alice, start, clock.now() + timedelta(seconds=1))
        page = store.history(uow.session, alice, start, clock.now() + timedelta(seconds=1), after_seq=1, limit=1)
    assert [line.seq for line in lines] == [1, 2, 3]
    assert [line.credits_posted - line.debits_posted for line in lines] == [100, 70, 75]
    assert [line.seq for line in page] == [2]


def test_check_finds_broken_history_and_malformed_transfers(ledger: LedgerService) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    bob = ledger.open_account("bob", "wallet", "USD", USER)
    fund(ledger, alice, 100)
    send = TransferRequest(uuid.uuid4(), alice, bob, 10, "USD", "p2p")
    assert ledger.post([send]) == [Result.OK]
    with ledger.db.transaction() as session:  # renumber bob's only entry, and give the transfer a bad kind
        session.execute(text("UPDATE ledger_transfers SET cr_seq = 0, kind = 'bogus' WHERE code = 'p2p'"))
    names = {p.invariant for p in ledger.check()}
    assert {"history_complete", "transfer_well_formed"} <= names


def test_a_client_cannot_block_the_expiry_of_a_hold(ledger: LedgerService, clock: FrozenClock) -> None:
    alice = ledger.open_account("alice", "wallet", "USD", USER)
    bank = ledger.system_account("settlement:bank_domestic", "USD")
    fund(ledger, alice, 100)
    hold = TransferRequest(uuid.uuid4(), alice, bank, 100, "USD", "withdraw", Kind.PENDING, timeout_s=60)
    assert ledger.post([hold]) == [Result.OK]
    forged = TransferRequest(uuid.uuid4(), None, None, None, None, "", Kind.EXPIRE, pending_id=hold.id)
    assert ledger.post([forged]) == [Result.KIND_RESERVED_FOR_ENGINE]
    clock.advance(61)
    assert ledger.expire_pending() == 1
    assert ledger.account(alice).available_balance == 100


def test_an_account_opened_in_a_rolled_back_transaction_is_not_remembered(ledger: LedgerService) -> None:
    with ledger.db.uow() as uow:  # opened, then rolled back
        ghost = ledger.open_account_in(uow.session, "carol", "wallet", "USD", USER)
    real = ledger.open_account("carol", "wallet", "USD", USER)
    assert real != ghost
    assert ledger.open_account("carol", "wallet", "USD", USER) == real  # now cached, still right
    fund(ledger, real, 5)
    assert ledger.account(real).posted_balance == 5

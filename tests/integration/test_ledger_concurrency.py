"""Many callers at once: the invariants hold, nobody overdraws, a balance is spent exactly once."""

from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from paydesk.ledger.domain import AccountFlags, Result, TransferRequest
from paydesk.ledger.groupcommit import GroupCommitter
from paydesk.ledger.service import LedgerService

USER = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def _open_funded(ledger: LedgerService, count: int, amount: int) -> list[uuid.UUID]:
    bank = ledger.system_account("settlement:bank_domestic", "USD")
    ids = [ledger.open_account(f"user{i}", "wallet", "USD", USER) for i in range(count)]
    results = ledger.post([TransferRequest(uuid.uuid4(), bank, a, amount, "USD", "topup") for a in ids])
    assert set(results) == {Result.OK}
    return ids


def test_32_threads_of_random_transfers_keep_every_invariant(ledger: LedgerService) -> None:
    ids = _open_funded(ledger, 50, 1_000)
    committer = GroupCommitter(ledger.post, window_s=0.002)
    outcomes: list[Result] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[Result] = []
        for i in range(40):
            debit, credit = rng.sample(ids, 2)
            amount = rng.choice([1, 5, 50, 400, 2_000])  # the last one always overdraws
            request = TransferRequest(uuid.uuid4(), debit, credit, amount, "USD", "p2p")
            # Half the callers post their own transactions, half share group commits.
            mine += committer.submit([request]) if (seed + i) % 2 else ledger.post([request])
        with lock:
            outcomes.extend(mine)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(worker, range(32)))
    committer.close()
    assert len(outcomes) == 32 * 40
    assert Result.OK in outcomes and Result.EXCEEDS_CREDITS in outcomes
    assert set(outcomes) <= {Result.OK, Result.EXCEEDS_CREDITS}
    views = ledger.accounts(ids)
    assert all(v.available_balance >= 0 for v in views.values())
    assert sum(v.posted_balance for v in views.values()) == 50 * 1_000  # money only moved between them
    assert ledger.check() == []


def _spend_all_at_once(ledger: LedgerService, post: object) -> list[Result]:
    [payer] = _open_funded(ledger, 1, 777)
    payees = [ledger.open_account(f"payee{i}", "wallet", "USD", USER) for i in range(64)]
    barrier = threading.Barrier(64)

    def attempt(i: int) -> Result:
        request = TransferRequest(uuid.uuid4(), payer, payees[i], 777, "USD", "p2p")
        barrier.wait()
        return post([request])[0]  # type: ignore[operator]

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(attempt, range(64)))
    assert ledger.account(payer).available_balance == 0
    assert ledger.check() == []
    return results


def test_64_concurrent_attempts_to_spend_the_whole_balance_succeed_exactly_once(ledger: LedgerService) -> None:
    results = _spend_all_at_once(ledger, ledger.post)
    assert results.count(Result.OK) == 1
    assert results.count(Result.EXCEEDS_CREDITS) == 63


def test_64_concurrent_spends_through_group_commit_succeed_exactly_once(ledger: LedgerService) -> None:
    committer = GroupCommitter(ledger.post, window_s=0.005)
    try:
        results = _spend_all_at_once(ledger, committer.submit)
    finally:
        committer.close()
    assert results.count(Result.OK) == 1
    assert committer.batches < 64  # callers really shared transactions


def test_the_same_transfer_sent_by_64_callers_at_once_is_posted_once(ledger: LedgerService) -> None:
    [payer] = _open_funded(ledger, 1, 10_000)
    payee = ledger.open_account("payee", "wallet", "USD", USER)
    request = TransferRequest(uuid.uuid4(), payer, payee, 100, "USD", "p2p")
    barrier = threading.Barrier(64)

    def attempt(_: int) -> Result:
        barrier.wait()
        return ledger.post([request])[0]

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(attempt, range(64)))
    assert results.count(Result.OK) == 1 and results.count(Result.EXISTS) == 63
    assert ledger.account(payee).posted_balance == 100


def test_a_request_the_database_refuses_fails_only_its_own_caller(ledger: LedgerService) -> None:
    [payer] = _open_funded(ledger, 1, 1_000)
    payee = ledger.open_account("payee", "wallet", "USD", USER)
    calls: list[int] = []

    def post(batch: list[TransferRequest]) -> list[Result]:
        calls.append(len(batch))
        if any(r.code == "boom" for r in batch):
            raise RuntimeError("the database refused something")
        return ledger.post(batch)

    committer = GroupCommitter(post, window_s=0.05)  # type: ignore[arg-type]
    good = [TransferRequest(uuid.uuid4(), payer, payee, 10, "USD", "p2p") for _ in range(5)]
    bad = TransferRequest(uuid.uuid4(), payer, payee, 10, "USD", "boom")
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(committer.submit, [r]) for r in [*good, bad]]
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result())
            except RuntimeError as exc:
                outcomes.append(str(exc))  # type: ignore[arg-type]
    committer.close()
    assert any(n > 1 for n in calls)  # the bad request really shared a batch with good ones
    assert outcomes[:5] == [[Result.OK]] * 5
    assert outcomes[5] == "the database refused something"
    assert ledger.account(payee).posted_balance == 50
    try:
        committer.submit(good[:1])
    except RuntimeError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed committer must refuse work")

"""Kill -9 in the middle of posting: every batch is there whole or not at all, and resending posts nothing
twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from paydesk.ledger.domain import AccountFlags, Result, TransferRequest
from paydesk.ledger.service import LedgerService
from tests.integration.crash_child import BATCH, batch_requests

ROOT = Path(__file__).resolve().parents[2]


def test_a_killed_writer_leaves_whole_batches_and_resends_post_nothing_twice(ledger: LedgerService) -> None:
    bank = ledger.system_account("settlement:bank_domestic", "USD")
    accounts = [ledger.open_account(f"u{i}", "wallet", "USD", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
                for i in range(20)]
    funding = [TransferRequest(uuid.uuid4(), bank, a, 1_000_000, "USD", "topup") for a in accounts]
    assert set(ledger.post(funding)) == {Result.OK}

    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crash_child", ledger.db.url, *map(str, accounts)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    acked: list[int] = []
    deadline = time.monotonic() + 60
    while len(acked) < 15 and time.monotonic() < deadline:
        line = child.stdout.readline()
        assert line, f"the child stopped early with code {child.poll()}"
        acked.append(int(line))
    time.sleep(0.013)  # land the kill somewhere inside a later batch
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert len(acked) >= 15

    # Every batch the child may have started is either complete or absent; acknowledged ones are complete.
    attempted = acked[-1] + 3
    present: dict[int, int] = {}
    for number in range(attempted):
        ids = [r.id for r in batch_requests(number, accounts)]
        present[number] = len(ledger.transfers(ids))
        assert present[number] in (0, BATCH), (number, present[number])
    assert all(present[n] == BATCH for n in acked)
    assert ledger.check() == []

    before = ledger.accounts(accounts)
    for number in acked:
        assert set(ledger.post(batch_requests(number, accounts))) == {Result.EXISTS}
    assert ledger.accounts(accounts) == before
    assert ledger.check() == []

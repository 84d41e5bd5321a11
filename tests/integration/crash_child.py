"""Child process for the crash test: posts numbered batches until killed, acknowledging each one on
stdout only after its transaction has committed. Usage: python -m tests.integration.crash_child URL ACCOUNTS..."""

from __future__ import annotations

import sys
import uuid

from paydesk.core.clock import SystemClock
from paydesk.core.db import Database
from paydesk.core.money import Currencies
from paydesk.ledger.domain import Result, TransferRequest
from paydesk.ledger.service import LedgerService

NAMESPACE = uuid.UUID("8d6c0f1e-2b3a-4c5d-9e8f-7a6b5c4d3e2f")
BATCH = 200


def batch_requests(number: int, accounts: list[uuid.UUID]) -> list[TransferRequest]:
    """Batch `number`: fixed ids, so a resend names the same transfers."""
    out = []
    for i in range(BATCH):
        debit = accounts[(number + i) % len(accounts)]
        credit = accounts[(number + 3 * i + 1) % len(accounts)]
        if debit == credit:
            credit = accounts[(accounts.index(debit) + 1) % len(accounts)]
        out.append(TransferRequest(uuid.uuid5(NAMESPACE, f"{number}:{i}"), debit, credit, 1 + i % 7, "USD", "crash",
                                   linked=i % 10 != 9))
    return out


def main() -> None:
    url, accounts = sys.argv[1], [uuid.UUID(a) for a in sys.argv[2:]]
    ledger = LedgerService(Database(url), SystemClock(), Currencies())
    number = 0
    while True:
        results = ledger.post(batch_requests(number, accounts))
        assert all(r == Result.OK for r in results), results
        sys.stdout.write(f"{number}\n")
        sys.stdout.flush()
        number += 1


if __name__ == "__main__":
    main()

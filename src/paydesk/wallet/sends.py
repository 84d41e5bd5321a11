"""Group commit for payments: the sends waiting at one moment run in one transaction.

The batch first locks its payers' user rows (their limits and step-up counters), then opens and locks (in
id order) every account it will touch — the order every payment takes, so that batches and single payments
in other processes can't deadlock with it; then each send runs in its own savepoint — a send that fails
(not enough money, a reused key) rolls back alone — and one commit makes them all durable. Two sends with
one key in the same batch run once; the second gets the first's answer. A batch that fails as a whole is
split by the batcher and each send retried on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from paydesk.core.db import retry_on_conflict
from paydesk.core.errors import DomainError
from paydesk.wallet.domain import IdempotencyKeyReused

if TYPE_CHECKING:
    from paydesk.wallet.service import Response, SendJob, WalletService


def process_sends(wallet: WalletService, jobs: Sequence[SendJob]) -> list[Response | BaseException]:
    if len(jobs) == 1:
        return [_alone(wallet, jobs[0])]
    first: dict[tuple[UUID, str], int] = {}
    for i, job in enumerate(jobs):
        first.setdefault((job.user.id, job.key), i)
    results: list[Any] = [None] * len(jobs)
    with wallet.db.uow() as uow:
        s = uow.session
        wallet.identity.lock_users_in(s, list({jobs[i].user.id for i in first.values()}))  # payers, then accounts
        accounts: set[UUID] = set()
        for i in set(first.values()):
            accounts |= wallet.accounts_for(s, jobs[i])
        wallet.ledger.lock_in(s, accounts)
        for i in sorted(set(first.values())):
            try:
                with s.begin_nested():
                    results[i] = wallet.send_in(s, jobs[i])
            except DomainError as exc:
                results[i] = exc
        uow.commit()
    for i, job in enumerate(jobs):
        j = first[(job.user.id, job.key)]
        if i != j:
            results[i] = results[j] if job.digest == jobs[j].digest else IdempotencyKeyReused()
    return results


def _alone(wallet: WalletService, job: SendJob) -> Response | BaseException:
    def attempt() -> Response:
        with wallet.db.uow() as uow:
            wallet.identity.lock_users_in(uow.session, [job.user.id])
            response = wallet.send_in(uow.session, job)
            uow.commit()
            return response

    try:
        return retry_on_conflict(attempt)
    except DomainError as exc:
        return exc

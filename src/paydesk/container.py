"""The composition root: builds the services once from settings. No work happens at import time."""

from __future__ import annotations

from dataclasses import dataclass, field

from paydesk.config import Settings
from paydesk.core.clock import Clock, SystemClock
from paydesk.core.db import Database
from paydesk.core.jobs import JobRunner, PeriodicTask
from paydesk.core.pubsub import MemoryPubSub, RedisPubSub, make_pubsub
from paydesk.ledger.groupcommit import GroupCommitter
from paydesk.ledger.service import LedgerService


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    ledger: LedgerService
    group_commit: GroupCommitter
    pubsub: MemoryPubSub | RedisPubSub
    jobs: JobRunner = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobRunner([
            PeriodicTask("ledger-expire-pending", self.settings.expiry_interval_s, self.ledger.expire_pending),
        ])

    def close(self) -> None:
        self.group_commit.close()
        self.db.dispose()


def build(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    ledger = LedgerService(db, clock, settings.currencies)
    committer = GroupCommitter(
        ledger.post, window_s=settings.group_commit_window_ms / 1000, max_transfers=settings.group_commit_max_transfers,
    )
    return Container(settings, db, clock, ledger, committer, make_pubsub(settings.redis_url))

"""The composition root: builds the services once from settings. No work happens at import time."""

from __future__ import annotations

from dataclasses import dataclass, field

from paydesk.config import Settings
from paydesk.core.clock import Clock, SystemClock
from paydesk.core.db import Database
from paydesk.core.jobs import JobRunner, PeriodicTask
from paydesk.core.pubsub import MemoryPubSub, RedisPubSub, make_pubsub
from paydesk.fees.promotions import Promotions
from paydesk.fees.service import FeeService
from paydesk.fx.service import FxService
from paydesk.helpcenter.service import HelpService
from paydesk.identity.security import SecurityService
from paydesk.identity.service import IdentityService
from paydesk.identity.stepup import StepUp
from paydesk.ledger.groupcommit import GroupCommitter
from paydesk.ledger.service import LedgerService
from paydesk.notify.service import NotifyService, senders_from
from paydesk.support.attachments import LocalBlobStore
from paydesk.support.service import SupportService
from paydesk.wallet.events import RailEvents
from paydesk.wallet.history import History
from paydesk.wallet.pricing import Pricing
from paydesk.wallet.rails.base import RAILS, Provider, SandboxProvider
from paydesk.wallet.service import WalletService


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock
    ledger: LedgerService
    group_commit: GroupCommitter
    pubsub: MemoryPubSub | RedisPubSub
    identity: IdentityService
    notify: NotifyService
    security: SecurityService
    wallet: WalletService
    history: History
    rail_events: RailEvents
    fees: FeeService
    fx: FxService
    promotions: Promotions
    support: SupportService
    help: HelpService
    jobs: JobRunner = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobRunner([
            PeriodicTask("ledger-expire-pending", self.settings.expiry_interval_s, self.ledger.expire_pending),
            PeriodicTask("security-reset-links", self.settings.notify_interval_s, self.security.send_reset_links),
            PeriodicTask("notify-deliver", self.settings.notify_interval_s, self.notify.deliver_due),
            PeriodicTask("wallet-expired-withdrawals", 60.0, self.wallet.fail_expired_withdrawals),
            PeriodicTask("support-wake-snoozed", 30.0, self.support.wake_snoozed),
        ])

    def close(self) -> None:
        self.group_commit.close()
        self.wallet.sends.close()
        self.support.posts.close()
        self.db.dispose()


def build(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    ledger = LedgerService(db, clock, settings.currencies)
    committer = GroupCommitter(
        ledger.post, window_s=settings.group_commit_window_ms / 1000, max_transfers=settings.group_commit_max_transfers,
    )
    identity = IdentityService(db, clock)
    notify = NotifyService(db, clock, senders_from(settings.smtp_url, settings.mail_from, settings.sms_url,
                                                   settings.sms_secret()))
    providers: dict[str, Provider] = {name: SandboxProvider(delayed=settings.sandbox_delayed) for name in RAILS}
    security = SecurityService(db, clock, settings, identity, notify)
    fees = FeeService(db, clock, settings.currencies, list(RAILS))
    fx = FxService(db, clock, settings, ledger)
    promotions = Promotions(db, clock, settings.currencies, list(RAILS))
    wallet = WalletService(db, clock, settings, ledger, identity, notify, providers,
                           StepUp(db, clock, settings, security),
                           Pricing(db, clock, settings, fees, fx, promotions))
    history = History(db, settings.currencies)
    events = RailEvents(db, clock, {rail: settings.rail_secret(rail) for rail in RAILS}, wallet.settler,
                        settings.currencies)
    support = SupportService(db, clock, identity, notify, wallet_id_of=wallet.ensure_wallet,
                             blobs=LocalBlobStore(settings.blob_dir))
    return Container(settings, db, clock, ledger, committer, make_pubsub(settings.redis_url), identity, notify,
                     security, wallet, history, events, fees, fx, promotions, support, HelpService(db, clock))

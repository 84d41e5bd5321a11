"""Every feature's tables, imported in one place for Alembic and for test schemas."""

from __future__ import annotations


def import_all_models() -> None:
    import paydesk.fees.promotions
    import paydesk.fees.store
    import paydesk.fx.store
    import paydesk.helpcenter.store
    import paydesk.identity.attempts
    import paydesk.identity.store
    import paydesk.ledger.store
    import paydesk.notify.store
    import paydesk.support.store
    import paydesk.wallet.store  # noqa: F401

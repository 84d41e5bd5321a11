"""Every feature's tables, imported in one place for Alembic and for test schemas."""

from __future__ import annotations


def import_all_models() -> None:
    import paydesk.ledger.store  # noqa: F401

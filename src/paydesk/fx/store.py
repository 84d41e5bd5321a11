"""Exchange rates as recorded: every currency's price against the euro, with its source and date. Never commits."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType


class RateRow(Base):
    __tablename__ = "fx_rates"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    currency: Mapped[str] = mapped_column(String(10))
    per_eur: Mapped[str] = mapped_column(String(40))  # units of `currency` one euro buys (a decimal string)
    source: Mapped[str] = mapped_column(String(20))  # ecb, csv, operator
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_fx_rates_currency_as_of", "currency", "as_of"),)


def latest(session: Session) -> list[RateRow]:
    """The newest rate of each currency (by `as_of`, then by when it was recorded)."""
    newest = (select(RateRow.currency, func.max(RateRow.as_of).label("as_of")).group_by(RateRow.currency)
              .subquery())
    rows = session.scalars(
        select(RateRow).join(newest, (RateRow.currency == newest.c.currency) & (RateRow.as_of == newest.c.as_of))
        .order_by(RateRow.currency, RateRow.created_at.desc())
    )
    seen: dict[str, RateRow] = {}
    for row in rows:
        seen.setdefault(row.currency, row)
    return list(seen.values())

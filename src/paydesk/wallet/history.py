"""What a user sees of their money over time: the transaction list (filters, cursor pages), one
transaction, and a CSV statement for a date range. A user only ever sees their own."""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime
from typing import Any
from uuid import UUID

from paydesk.core.db import Database
from paydesk.core.money import Currencies, format_amount
from paydesk.wallet import store, views
from paydesk.wallet.domain import InvalidCursor, TransactionNotFound, TxType

MAX_PAGE = 100
OUTGOING = {TxType.SEND.value, TxType.WITHDRAWAL.value}


def encode_cursor(row: store.TransactionRow) -> str:
    return base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        moment, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, UUID(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc


class History:
    def __init__(self, db: Database, currencies: Currencies) -> None:
        self.db, self.currencies = db, currencies

    def page(self, user_id: UUID, *, filters: dict[str, Any], cursor: str | None, limit: int) -> dict[str, Any]:
        before = decode_cursor(cursor) if cursor else None
        limit = max(1, min(limit, MAX_PAGE))
        with self.db.reader() as uow:
            rows = store.transactions(uow.session, user_id, filters=filters, before=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"items": [views.transaction(r, self.currencies) for r in rows],
                "next_cursor": encode_cursor(rows[-1]) if more and rows else None}

    def one(self, user_id: UUID, tx_id: UUID) -> dict[str, Any]:
        with self.db.reader() as uow:
            row = store.transaction(uow.session, user_id, tx_id)
        if row is None:
            raise TransactionNotFound()
        return views.transaction(row, self.currencies)

    def fee_revenue(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Fee revenue per day, currency and rule (for operators): count, and total in minor units."""
        totals: dict[tuple[str, str, str], list[int]] = {}
        with self.db.reader() as uow:
            for moment, currency, rule, fee in store.charged_fees(uow.session, since, until):
                entry = totals.setdefault((moment.date().isoformat(), currency, rule or "-"), [0, 0])
                entry[0] += 1
                entry[1] += fee
        return [{"day": day, "currency": cur, "rule": rule, "count": n, "fees_minor": total,
                 "fees": format_amount(total, self.currencies[cur])}
                for (day, cur, rule), (n, total) in sorted(totals.items())]

    @staticmethod
    def fee_revenue_csv(rows: list[dict[str, Any]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["day", "currency", "rule", "count", "fees"])
        for r in rows:
            writer.writerow([r["day"], r["currency"], r["rule"], r["count"], r["fees"]])
        return out.getvalue()

    def statement_csv(self, user_id: UUID, since: datetime, until: datetime) -> str:
        """Every transaction in [since, until], oldest first; amounts signed (money out is negative)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["date", "type", "status", "currency", "amount", "fee", "counterparty", "note",
                         "reference", "id"])
        rows: list[store.TransactionRow] = []
        before = None
        with self.db.reader() as uow:
            while True:
                chunk = store.transactions(uow.session, user_id, filters={"since": since, "until": until},
                                           before=before, limit=500)
                rows.extend(chunk)
                if len(chunk) < 500:
                    break
                before = (chunk[-1].created_at, chunk[-1].id)
        for row in reversed(rows):
            cur = self.currencies.get_or_raise(row.currency)
            sign = -1 if row.type in OUTGOING else 1
            writer.writerow([
                row.created_at.isoformat(), row.type, row.status, row.currency,
                format_amount(sign * row.amount, cur), format_amount(row.fee, cur), _cell(row.counterparty),
                _cell(row.note), row.reference or "", str(row.id),
            ])
        return out.getvalue()


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell may not start with = + - @."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

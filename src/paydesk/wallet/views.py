"""How wallet transactions and balances are shown to API clients (decimal strings, never floats)."""

from __future__ import annotations

from typing import Any

from paydesk.core.money import Currencies, format_amount
from paydesk.ledger.service import AccountView
from paydesk.wallet.store import DestinationRow, TransactionRow


def transaction(row: TransactionRow, currencies: Currencies) -> dict[str, Any]:
    currency = currencies.get_or_raise(row.currency)
    return {
        "id": str(row.id), "type": row.type, "status": row.status, "currency": row.currency,
        "amount": format_amount(row.amount, currency), "fee": format_amount(row.fee, currency),
        "counterparty": row.counterparty or None, "note": row.note or None, "method": row.method,
        "destination": row.destination, "reference": row.reference, "failure_code": row.failure_code,
        "fee_rule": row.fee_rule, "promotion_id": str(row.promotion_id) if row.promotion_id else None,
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    } | ({"to_currency": row.to_currency, "to_amount": format_amount(row.to_amount, currencies[row.to_currency]),
          "rate": row.rate} if row.to_currency and row.to_amount is not None else {})


def balance(account: AccountView, currencies: Currencies) -> dict[str, str]:
    """`total` is what the account holds, `pending` what withdrawals in flight have put on hold, `available`
    what can be spent now (total − pending)."""
    currency = currencies.get_or_raise(account.currency)
    return {
        "currency": account.currency,
        "available": format_amount(account.available_balance, currency),
        "pending": format_amount(account.debits_pending, currency),
        "total": format_amount(account.posted_balance, currency),
    }


def saved_destination(row: DestinationRow) -> dict[str, Any]:
    return {"id": str(row.id), "label": row.label, "method": row.method, "destination": row.destination,
            "created_at": row.created_at.isoformat()}

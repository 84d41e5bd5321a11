"""Form errors for people: a `DomainError` becomes a message in their language next to the field that
caused it."""

from __future__ import annotations

from paydesk.core import i18n
from paydesk.core.errors import DomainError

FIELD_OF = {
    "invalid_email": "email", "invalid_phone": "phone", "weak_password": "password", "account_exists": "email",
    "invalid_credentials": "password", "invalid_amount": "amount", "insufficient_funds": "amount",
    "amount_out_of_range": "amount", "recipient_not_found": "to", "cannot_send_to_self": "to",
    "unknown_currency": "currency", "unknown_method": "method", "method_not_available": "method",
    "invalid_destination": "destination", "invalid_iban": "iban", "invalid_bic": "bic",
    "invalid_btc_address": "address", "invalid_eth_address": "address", "eth_checksum_mismatch": "address",
    "invalid_tron_address": "address", "otp_required": "otp", "invalid_otp": "otp", "account_locked": "form",
    "too_many_attempts": "form", "too_many_reset_requests": "form", "account_frozen": "form",
    "daily_limit_exceeded": "amount",
    "destination_not_found": "destination_id", "amount_below_fee": "amount", "same_currency": "to_currency",
    "rate_unavailable": "to_currency", "rate_stale": "form",
}


def field_error(exc: DomainError, locale: str) -> dict[str, str]:
    """{field: message} for the form; unknown codes fall back to the error's own detail, form-wide."""
    key = f"error.{exc.code}"
    values = {k: v for k, v in exc.extra.items() if isinstance(v, str)}
    message = i18n.translate(locale, key, **values) if key in i18n.catalog("en") else exc.detail
    if exc.code == "invalid_destination" and isinstance(exc.extra.get("field"), str):
        return {str(exc.extra["field"]): message}
    return {FIELD_OF.get(exc.code, "form"): message}


def csrf_error(locale: str) -> dict[str, str]:
    return {"form": i18n.translate(locale, "error.csrf_failed")}

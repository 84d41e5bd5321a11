"""Domain errors: each names the broken rule with a stable `code` and an HTTP status.

Nothing below `web/` raises `HTTPException`; `web/errors.py` maps these to problem+json in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A broken business rule. Subclasses set `code`, `status` and `title` on the class."""

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "The request breaks a rule"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)


class InvalidRequest(DomainError):
    code = "invalid_request"
    status = 422
    title = "The request is not valid"


class InvalidAmount(DomainError):
    """An amount string that is not an exact, non-negative decimal within the currency's scale."""

    code = "invalid_amount"
    status = 422
    title = "The amount is not valid"


class UnknownCurrency(DomainError):
    code = "unknown_currency"
    status = 422
    title = "The currency is not supported"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "The request conflicts with the current state"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status = 503
    title = "A service the request needs is unavailable"

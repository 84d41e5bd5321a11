"""Wallet JSON routes: `/api/v1/wallet`, deposits, transfers, withdrawals, transactions, statements and
the rails' webhooks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from paydesk.core.errors import InvalidRequest
from paydesk.web.auth import AppContainer, CurrentPrincipal, client_of

router = APIRouter(prefix="/api/v1", tags=["wallet"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class DepositIn(BaseModel):
    currency: str = Field(max_length=16)
    amount: Any = Field(description='a decimal string such as "12.50"')
    method: str = Field(max_length=32)
    quote_id: str | None = Field(None, max_length=64)
    promo_code: str | None = Field(None, max_length=40, description="a promotion code")


class QuoteIn(BaseModel):
    operation: Literal["p2p", "topup", "withdraw", "exchange"]
    currency: str = Field(max_length=16)
    amount: Any = Field(description='a decimal string such as "12.50"')
    method: str | None = Field(None, max_length=32, description="the rail, for top-ups and withdrawals")
    to_currency: str | None = Field(None, max_length=16, description="for an exchange")
    destination: dict[str, str] | None = Field(None, description="for a withdrawal: decides domestic or not")
    destination_id: str | None = Field(None, max_length=64, description="or a saved destination")
    promo_code: str | None = Field(None, max_length=40, description="a promotion code")


class ExchangeIn(BaseModel):
    from_currency: str = Field(max_length=16)
    to_currency: str = Field(max_length=16)
    amount: Any = Field(description='how much of `from_currency` to exchange, a decimal string')
    quote_id: str | None = Field(None, max_length=64)
    promo_code: str | None = Field(None, max_length=40, description="a promotion code")


class TransferIn(BaseModel):
    to: str = Field(max_length=320, description="an email, a phone number (E.164) or a wallet id such as PD-7K3Q-9XWM")
    currency: str = Field(max_length=16)
    amount: Any = Field(description='a decimal string such as "12.50"')
    note: str = Field("", max_length=280)
    quote_id: str | None = Field(None, max_length=64)
    confirmation_id: str | None = Field(None, max_length=64, description="from a `step_up_required` answer")
    otp: str | None = Field(None, max_length=32, description="the code for that confirmation")
    promo_code: str | None = Field(None, max_length=40, description="a promotion code")


class WithdrawalIn(BaseModel):
    currency: str = Field(max_length=16)
    amount: Any = Field(description='a decimal string such as "12.50"')
    method: str | None = Field(None, max_length=32)
    destination: dict[str, str] | None = Field(
        None, description='{"iban": …} / {"iban": …, "bic": …} / {"address": …}; or give `destination_id`')
    destination_id: str | None = Field(None, max_length=64, description="a saved destination")
    quote_id: str | None = Field(None, max_length=64)
    confirmation_id: str | None = Field(None, max_length=64, description="from a `step_up_required` answer")
    otp: str | None = Field(None, max_length=32, description="the code for that confirmation")
    promo_code: str | None = Field(None, max_length=40, description="a promotion code")


class DestinationIn(BaseModel):
    label: str = Field("", max_length=60)
    method: str = Field(max_length=32)
    destination: dict[str, str] = Field(description='{"iban": …} / {"iban": …, "bic": …} / {"address": …}')
    password: str = Field(max_length=4096)
    otp: str | None = Field(None, max_length=32)


def _json(response: tuple[int, dict[str, Any]]) -> JSONResponse:
    return JSONResponse(response[1], status_code=response[0])


@router.get("/wallet")
def wallet(who: CurrentPrincipal, app: AppContainer) -> dict[str, Any]:
    """Balances per currency: `available` (spendable now), `pending` (held for withdrawals), `total`."""
    return app.wallet.balances(who.user.id)


@router.post("/deposits", status_code=201)
def deposit(body: DepositIn, who: CurrentPrincipal, app: AppContainer, key: IdempotencyKey = None) -> JSONResponse:
    """Top up through a payment rail; credited when the rail confirms (at once in the sandbox)."""
    return _json(app.wallet.deposit(who.user, key, currency=body.currency, amount=body.amount, method=body.method,
                                    quote_id=body.quote_id, promo_code=body.promo_code))


@router.post("/quotes", status_code=201)
def quote(body: QuoteIn, who: CurrentPrincipal, app: AppContainer) -> dict[str, Any]:
    """The fee (with the rule it comes from), the rate for an exchange, what leaves and what arrives, and
    `quote_id` valid until `expires_at` (45 s for exchanges, 10 minutes otherwise). Give `quote_id` to the
    operation to be charged exactly this."""
    return app.wallet.quote(who.user, operation=body.operation, currency=body.currency, amount=body.amount,
                            method=body.method, to_currency=body.to_currency, destination=body.destination,
                            destination_id=body.destination_id, promo_code=body.promo_code)


@router.post("/exchanges", status_code=201)
def exchange(body: ExchangeIn, who: CurrentPrincipal, app: AppContainer, key: IdempotencyKey = None) -> JSONResponse:
    """Exchange between your own currencies at the quoted (or current) rate; needs an `Idempotency-Key`."""
    return _json(app.wallet.exchange(who.user, key, from_currency=body.from_currency, to_currency=body.to_currency,
                                     amount=body.amount, quote_id=body.quote_id, promo_code=body.promo_code))


@router.post("/transfers", status_code=201)
def transfer(body: TransferIn, who: CurrentPrincipal, app: AppContainer, key: IdempotencyKey = None) -> JSONResponse:
    """Send money to another Paydesk wallet by email, phone or wallet id. Above the low-value exemption the
    answer is 401 `step_up_required` with `confirmation_id`: send the same request (same key) again with
    `confirmation_id` and the code as `otp`."""
    return _json(app.wallet.send(who.user, key, to=body.to, currency=body.currency, amount=body.amount,
                                 note=body.note, confirmation_id=body.confirmation_id, otp=body.otp,
                                 quote_id=body.quote_id, promo_code=body.promo_code))


@router.post("/withdrawals", status_code=201)
def withdraw(body: WithdrawalIn, who: CurrentPrincipal, app: AppContainer, key: IdempotencyKey = None) -> JSONResponse:
    """Pay out to a bank account or a crypto address; held as pending until the rail reports. Step-up as for
    transfers."""
    return _json(app.wallet.withdraw(who.user, key, currency=body.currency, amount=body.amount,
                                     method=body.method, destination=body.destination,
                                     destination_id=body.destination_id, confirmation_id=body.confirmation_id,
                                     otp=body.otp, quote_id=body.quote_id, promo_code=body.promo_code))


@router.get("/me/destinations")
def destinations(who: CurrentPrincipal, app: AppContainer) -> dict[str, list[dict[str, Any]]]:
    """Saved withdrawal destinations."""
    return {"items": app.wallet.saved_destinations(who.user.id)}


@router.post("/me/destinations", status_code=201)
def add_destination(body: DestinationIn, who: CurrentPrincipal, app: AppContainer) -> dict[str, Any]:
    """Save a withdrawal destination; needs the password and, with 2-step on, a code (`otp`)."""
    return app.wallet.add_destination(who, label=body.label, method=body.method, destination=body.destination,
                                      password=body.password, otp=body.otp)


@router.delete("/me/destinations/{destination_id}", status_code=204)
def remove_destination(destination_id: str, who: CurrentPrincipal, app: AppContainer) -> Response:
    app.wallet.remove_destination(who.user.id, destination_id)
    return Response(status_code=204)


@router.get("/transactions")
def transactions(
    who: CurrentPrincipal, app: AppContainer,
    currency: str | None = Query(None, max_length=16),
    type: Literal["topup", "send", "receive", "withdrawal", "exchange"] | None = Query(None),
    status: Literal["pending", "completed", "failed"] | None = Query(None),
    since: date | None = Query(None, description="first day (UTC), inclusive"),
    until: date | None = Query(None, description="last day (UTC), inclusive"),
    cursor: str | None = Query(None, max_length=200),
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    """Your transactions, newest first, with filters and cursor pagination."""
    filters = {"currency": currency, "type": type, "status": status, "since": _day(since) if since else None,
               "until": _day_end(until) if until else None}
    return app.history.page(who.user.id, filters=filters, cursor=cursor, limit=limit)


@router.get("/transactions/{tx_id}")
def transaction(tx_id: UUID, who: CurrentPrincipal, app: AppContainer) -> dict[str, Any]:
    return app.history.one(who.user.id, tx_id)


@router.post("/transactions/{tx_id}/not-me")
def transaction_not_me(tx_id: UUID, request: Request, who: CurrentPrincipal, app: AppContainer) -> dict[str, str]:
    """"I didn't make this transaction": freezes outgoing money, ends every session, opens a case."""
    app.history.one(who.user.id, tx_id)  # 404 unless it is the caller's
    ip, ua = client_of(request)
    return app.security.report_not_me(who, transaction_id=tx_id, ip=ip, user_agent=ua)


@router.get("/statements", response_class=Response)
def statement(
    who: CurrentPrincipal, app: AppContainer,
    since: date = Query(description="first day (UTC), inclusive"),
    until: date = Query(description="last day (UTC), inclusive"),
) -> Response:
    """A CSV statement of your transactions between two dates (both included)."""
    if until < since or until - since > timedelta(days=366):
        raise InvalidRequest("choose a range of at most a year, with `since` on or before `until`")
    body = app.history.statement_csv(who.user.id, _day(since), _day_end(until))
    name = f"paydesk-statement-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/rails/{rail}/events", tags=["rails"])
async def rail_event(rail: str, request: Request, app: AppContainer) -> dict[str, Any]:
    """Provider webhook, signed: `Paydesk-Signature: t=<unix>,v1=<HMAC-SHA256 hex of "<t>.<raw body>">`."""
    body = await request.body()
    result: dict[str, Any] = await run_in_threadpool(
        app.rail_events.apply, rail, body, request.headers.get("paydesk-signature"),
    )
    return result


def _day(value: date) -> datetime:
    """The start of a UTC day."""
    return datetime.combine(value, time.min, tzinfo=UTC)


def _day_end(value: date) -> datetime:
    """The last instant of a UTC day (an exclusive end just below the next day, even for 9999-12-31)."""
    return datetime.combine(value, time.max, tzinfo=UTC)

"""The wallet's pages: dashboard, top up, send, withdraw, history, one transaction, statement download."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from paydesk.core import i18n
from paydesk.core.clock import clamp_day
from paydesk.core.errors import DomainError
from paydesk.core.money import format_money
from paydesk.identity.domain import InvalidOtp, OtpRequired
from paydesk.identity.service import Principal
from paydesk.identity.stepup import StepUpRequired
from paydesk.wallet.rails.base import RAILS
from paydesk.web.auth import client_of, container
from paydesk.web.charts import line_chart
from paydesk.web.forms import csrf_error, field_error
from paydesk.web.pages import form_token_ok, page_principal, redirect, render, request_locale

router = APIRouter(prefix="/wallet", include_in_schema=False)
FORM_FIELDS = ("currency", "amount", "method", "to", "note", "iban", "bic", "address", "key", "destination_id",
               "to_currency", "quote_id")
FORMS = ("topup", "send", "withdraw", "exchange")
OPERATION = {"topup": "topup", "send": "p2p", "withdraw": "withdraw", "exchange": "exchange"}
CONFIRMATION_FIELDS = ("method", "amount", "currency", "payee", "fee", "total")


def _login_redirect(request: Request) -> Response:
    return redirect(f"/login?next={request.url.path}")


def _options(request: Request) -> dict[str, Any]:
    locale = request_locale(request)
    currencies = list(container(request).settings.currencies)
    methods = [(name, i18n.translate(locale, f"method.{name}")) for name in RAILS]
    return {"currencies": [(c, c) for c in currencies], "methods": methods, "rails": RAILS}


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    who = page_principal(request)
    if who is None:
        return _login_redirect(request)
    app, locale = container(request), request_locale(request)
    wallet_id = app.wallet.ensure_wallet(who.user.id)
    accounts = {a.currency: a for a in app.ledger.accounts_of(str(who.user.id)) if a.code == "wallet"}
    cards = [{"currency": app.settings.currencies[c], "account": accounts[c]} for c in sorted(accounts)]
    chart = ""
    if accounts:  # the chosen currency (?chart=EUR), else the one people of this language mostly use
        wanted = [request.query_params.get("chart", ""), "CNY" if locale == "zh-CN" else "USD", *sorted(accounts)]
        main = app.settings.currencies[next(code for code in wanted if code in accounts)]
        series = app.wallet.balance_series(accounts[main.code])
        if series:
            label = i18n.translate(locale, "wallet.chart.label", currency=main.code,
                                   start=series[0][0].date().isoformat(), end=series[-1][0].date().isoformat(),
                                   first=format_money(series[0][1], main, locale),
                                   last=format_money(series[-1][1], main, locale))
            chart = line_chart(series, label=label)
    recent = app.history.page(who.user.id, filters={}, cursor=None, limit=6)["items"]
    total = None
    if accounts:  # everything in one currency: the visitor's choice (?total=USD), else their language's
        asked = request.query_params.get("total", "").upper()
        home = asked if asked in app.settings.currencies else ("CNY" if locale == "zh-CN" else "USD")
        value, missing = app.fx.value_in({c: a.posted_balance for c, a in accounts.items()}, home)
        total = {"text": format_money(value, app.settings.currencies[home], locale), "currency": home,
                 "missing": missing}
    return render(request, "dashboard.html", {"wallet_id": wallet_id, "cards": cards, "chart": chart, "recent": recent,
                                              "chart_currency": main.code if accounts else "", "total": total})


def _form_page(request: Request, template: str, values: dict[str, Any], errors: dict[str, str],
               status: int = 200) -> HTMLResponse:
    values.setdefault("key", str(uuid.uuid4()))  # one form, one Idempotency-Key: a double submit pays once
    extra: dict[str, Any] = {}
    if template == "withdraw.html":
        who = page_principal(request)
        extra["saved"] = container(request).wallet.saved_destinations(who.user.id) if who else []
    return render(request, template, {"values": values, "errors": errors, **_options(request), **extra}, status)


@router.get("/transactions", response_class=HTMLResponse)
def history(request: Request) -> Response:
    who = page_principal(request)
    if who is None:
        return _login_redirect(request)
    q = request.query_params
    filters: dict[str, Any] = {k: q.get(k) or None for k in ("currency", "type", "status")}
    since, until = _date(q.get("since")), _date(q.get("until"))
    filters["since"] = datetime.combine(since, time.min, tzinfo=UTC) if since else None
    filters["until"] = datetime.combine(until, time.max, tzinfo=UTC) if until else None
    try:
        page = container(request).history.page(who.user.id, filters=filters, cursor=q.get("cursor"), limit=20)
    except DomainError:
        page = container(request).history.page(who.user.id, filters=filters, cursor=None, limit=20)
    today = datetime.now(UTC).date()
    return render(request, "history.html", {
        "page": page, "filters": {**{k: q.get(k, "") for k in ("currency", "type", "status", "since", "until")}},
        "statement": {"since": (today - timedelta(days=30)).isoformat(), "until": today.isoformat()},
        **_options(request),
    })


@router.get("/transactions/{tx_id}", response_class=HTMLResponse)
def transaction(tx_id: str, request: Request) -> Response:
    who = page_principal(request)
    if who is None:
        return _login_redirect(request)
    try:
        tx = container(request).history.one(who.user.id, uuid.UUID(tx_id))
    except (ValueError, DomainError):
        return render(request, "not_found.html", {}, 404)
    return render(request, "transaction.html", {"tx": tx, "done": request.query_params.get("done") == "1"})


@router.post("/transactions/{tx_id}/not-me", response_class=HTMLResponse)
async def transaction_not_me(tx_id: str, request: Request) -> Response:
    form = dict(await request.form())
    return await run_in_threadpool(_not_me, tx_id, request, form)


def _not_me(tx_id: str, request: Request, form: dict[str, Any]) -> Response:
    """"I didn't make this payment": freeze outgoing money, sign out everywhere (then the login page says so)."""
    who = page_principal(request)
    if who is None:
        return _login_redirect(request)
    if not form_token_ok(request, form.get("csrf_token")):
        return redirect(f"/wallet/transactions/{tx_id}")
    app = container(request)
    try:
        app.history.one(who.user.id, uuid.UUID(tx_id))
    except (ValueError, DomainError):
        return render(request, "not_found.html", {}, 404)
    ip, ua = client_of(request)
    app.security.report_not_me(who, transaction_id=uuid.UUID(tx_id), ip=ip, user_agent=ua)
    return redirect("/login?next=/settings/security")


@router.get("/statement.csv")
def statement(request: Request) -> Response:
    who = page_principal(request)
    if who is None:
        return _login_redirect(request)
    today = datetime.now(UTC).date()
    since = _date(request.query_params.get("since")) or today - timedelta(days=30)
    until = _date(request.query_params.get("until")) or today
    if until < since:
        since, until = until, since
    since = max(since, until - timedelta(days=366))  # at most a year per statement
    body = container(request).history.statement_csv(
        who.user.id, datetime.combine(since, time.min, tzinfo=UTC), datetime.combine(until, time.max, tzinfo=UTC))
    name = f"paydesk-statement-{since.isoformat()}-{until.isoformat()}.csv"
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8",  # the BOM lets Excel read Chinese
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# The form routes come last: `/{form}` would otherwise also match /transactions and /statement.csv.
@router.get("/{form}", response_class=HTMLResponse)
def form_page(form: str, request: Request) -> Response:
    if form not in FORMS:
        return render(request, "not_found.html", {}, 404)
    if page_principal(request) is None:
        return _login_redirect(request)
    defaults = {"currency": request.query_params.get("currency", "USD"),
                "method": "card" if form == "topup" else "bank_domestic",
                "to_currency": "CNY" if request_locale(request) == "zh-CN" else "EUR"}
    return _form_page(request, f"{form}.html", defaults, {})


@router.post("/{form}", response_class=HTMLResponse)
async def submit(form: str, request: Request) -> Response:
    if form not in FORMS:
        return render(request, "not_found.html", {}, 404)
    data = dict(await request.form())
    return await run_in_threadpool(_submit, form, request, data)  # the database and the rail: off the loop


def _submit(form: str, request: Request, data: dict[str, Any]) -> Response:
    who = page_principal(request)
    if who is None:
        return _login_redirect(request)
    values: dict[str, Any] = {k: str(data.get(k, "")).strip() for k in FORM_FIELDS}
    locale = request_locale(request)
    if not form_token_ok(request, data.get("csrf_token")):
        return _form_page(request, f"{form}.html", values, csrf_error(locale), 403)
    app = container(request)
    confirmation_id = str(data.get("confirmation_id", "")).strip() or None
    otp = str(data.get("otp", "")).strip() or None
    if not values["quote_id"]:  # first the numbers: every fee and rate is seen before anything is confirmed
        return _review(form, request, who, values)
    try:
        if form == "exchange":
            _, tx = app.wallet.exchange(who.user, values["key"], from_currency=values["currency"],
                                        to_currency=values["to_currency"], amount=values["amount"],
                                        quote_id=values["quote_id"])
        elif form == "topup":
            _, tx = app.wallet.deposit(who.user, values["key"], currency=values["currency"], amount=values["amount"],
                                       method=values["method"], quote_id=values["quote_id"])
        elif form == "send":
            _, tx = app.wallet.send(who.user, values["key"], to=values["to"], currency=values["currency"],
                                    amount=values["amount"], note=values["note"], confirmation_id=confirmation_id,
                                    otp=otp, quote_id=values["quote_id"])
        else:
            destination = {k: values[k] for k in ("iban", "bic", "address") if values[k]}
            _, tx = app.wallet.withdraw(who.user, values["key"], currency=values["currency"], amount=values["amount"],
                                        method=values["method"], destination=destination,
                                        destination_id=values["destination_id"] or None,
                                        confirmation_id=confirmation_id, otp=otp, quote_id=values["quote_id"])
    except StepUpRequired as exc:  # the code is asked on its own page, the payment's fields carried along
        return render(request, "confirm.html", {"form": form, "values": values, "errors": {},
                                                "confirmation": exc.extra}, 401)
    except (InvalidOtp, OtpRequired) as exc:
        if not confirmation_id:
            return _form_page(request, f"{form}.html", values, field_error(exc, locale), 422)
        shown = {name: str(data.get(f"c_{name}", "")) for name in CONFIRMATION_FIELDS}
        shown["confirmation_id"] = confirmation_id
        return render(request, "confirm.html", {"form": form, "values": values, "confirmation": shown,
                                                "errors": field_error(exc, locale)}, 401)
    except DomainError as exc:
        return _form_page(request, f"{form}.html", {**values, "quote_id": ""}, field_error(exc, locale), 422)
    return redirect(f"/wallet/transactions/{tx['id']}?done=1")


def _review(form: str, request: Request, who: Principal, values: dict[str, Any]) -> Response:
    """The quote for what the form asks: fee (and the rule it comes from), rate, what leaves, what arrives."""
    app, locale = container(request), request_locale(request)
    method: str | None = values["method"] if form in ("topup", "withdraw") else None
    destination = {k: values[k] for k in ("iban", "bic", "address") if values[k]}
    try:
        payee = app.wallet.recipient_label(who.user, values["to"]) if form == "send" else ""
        if form == "withdraw" and values["destination_id"]:
            saved = app.wallet.saved_destination(who.user.id, values["destination_id"])
            method, destination = saved.method, dict(saved.destination)
        quote = app.wallet.quote(who.user, operation=OPERATION[form], currency=values["currency"],
                                 amount=values["amount"], method=method,
                                 to_currency=values["to_currency"] if form == "exchange" else None,
                                 destination=destination if form == "withdraw" else None)
    except DomainError as exc:
        return _form_page(request, f"{form}.html", values, field_error(exc, locale), 422)
    label = _rule_label(request, quote.get("fee_rule"))
    return render(request, "review.html", {"form": form, "values": {**values, "quote_id": quote["quote_id"]},
                                           "quote": quote, "rule_label": label, "payee": payee, "errors": {}})


def _rule_label(request: Request, fee_rule: str | None) -> str:
    """The fee rule's description in the visitor's language ("1:topup-card" → "Card top-up: 1.5%, …")."""
    if not fee_rule:
        return ""
    version, _, rule_id = fee_rule.partition(":")
    schedule = container(request).fees.version(int(version)) if version.isdigit() else None
    rule = next((r for r in schedule.rules if r.id == rule_id), None) if schedule else None
    if rule is None:
        return rule_id
    return rule.label.get(request_locale(request)) or rule.label.get("en") or rule_id


def _date(value: str | None) -> date | None:
    """A day asked for in a query, kept within the years 2000–2999."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return clamp_day(day) if day else None



"""Operators' pages: `/admin/fees` (the schedule's versions, publishing a new one) and `/admin/reports/fees`
(fee revenue per day, currency and rule, as a table, a chart and CSV)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from paydesk.core.clock import clamp_day
from paydesk.core.errors import DomainError
from paydesk.core.money import format_amount
from paydesk.core.text import INVALID_TEXT, holds_lone_surrogate
from paydesk.identity.service import Principal
from paydesk.web.auth import container
from paydesk.web.charts import line_chart
from paydesk.web.forms import csrf_error
from paydesk.web.pages import form_token_ok, page_principal_with, redirect, render, request_locale

router = APIRouter(prefix="/admin", include_in_schema=False)


def _operator(request: Request) -> Principal | None:
    return page_principal_with(request, "operator")


def _fees_page(request: Request, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
               status: int = 200) -> Response:
    app = container(request)
    current = app.fees.schedule_at()
    default = {"rules": json.dumps(app.fees.as_json(current)["rules"], ensure_ascii=False, indent=1),
               "effective_at": (app.clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "note": ""}
    return render(request, "admin_fees.html", {
        "versions": list(reversed(app.fees.schedules())), "current": current.version, "now": app.clock.now(),
        "values": values or default, "errors": errors or {}, "saved": request.query_params.get("saved", ""),
    }, status)


@router.get("/fees", response_class=HTMLResponse)
def fees(request: Request) -> Response:
    if _operator(request) is None:
        return render(request, "not_found.html", {}, 404)
    return _fees_page(request)


@router.post("/fees", response_class=HTMLResponse)
async def publish(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_publish, request, form)


def _publish(request: Request, form: dict[str, str]) -> Response:
    who = _operator(request)
    if who is None:
        return render(request, "not_found.html", {}, 404)
    values = {k: form.get(k, "") for k in ("rules", "effective_at", "note")}
    if not form_token_ok(request, form.get("csrf_token")):
        return _fees_page(request, values, csrf_error(request_locale(request)), 403)
    try:
        rules = json.loads(values["rules"])
    except (ValueError, RecursionError) as exc:  # not JSON, or nested past the parser's depth
        return _fees_page(request, values, {"rules": f"JSON: {exc}"[:300]}, 422)
    if holds_lone_surrogate(rules):
        return _fees_page(request, values, {"rules": INVALID_TEXT}, 422)
    try:
        moment = datetime.fromisoformat(values["effective_at"])
    except ValueError:
        return _fees_page(request, values, {"effective_at": "YYYY-MM-DDTHH:MM (UTC)"}, 422)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        schedule = container(request).fees.publish(rules, moment, values["note"], who.user.id)
    except DomainError as exc:
        return _fees_page(request, values, {"rules": exc.detail}, 422)
    return redirect(f"/admin/fees?saved={schedule.version}")


REPORT_DAYS = 3_660  # a revenue report covers at most ten years


def _range(request: Request) -> tuple[date, date]:
    today = container(request).clock.now().date()
    try:
        since = date.fromisoformat(request.query_params.get("since", ""))
    except ValueError:
        since = today - timedelta(days=30)
    try:
        until = date.fromisoformat(request.query_params.get("until", ""))
    except ValueError:
        until = today
    since, until = clamp_day(min(since, until)), clamp_day(max(since, until))
    return max(since, until - timedelta(days=REPORT_DAYS)), until  # (a chart of a point a day)


def _revenue(request: Request) -> tuple[date, date, list[dict[str, Any]]]:
    since, until = _range(request)
    rows = container(request).history.fee_revenue(datetime.combine(since, time.min, tzinfo=UTC),
                                                  datetime.combine(until, time.max, tzinfo=UTC))
    return since, until, rows


@router.get("/reports/fees", response_class=HTMLResponse)
def revenue(request: Request) -> Response:
    if _operator(request) is None:
        return render(request, "not_found.html", {}, 404)
    since, until, rows = _revenue(request)
    currencies = sorted({r["currency"] for r in rows})
    chosen = request.query_params.get("currency", "")
    chosen = chosen if chosen in currencies else (currencies[0] if currencies else "")
    chart = ""
    if chosen:
        per_day: dict[str, int] = {}
        for r in rows:
            if r["currency"] == chosen:
                per_day[r["day"]] = per_day.get(r["day"], 0) + int(r["fees_minor"])
        points = [(datetime.combine(since + timedelta(days=i), time.min, tzinfo=UTC),
                   per_day.get((since + timedelta(days=i)).isoformat(), 0))
                  for i in range((until - since).days + 1)]
        chart = line_chart(points, label=f"fee revenue per day in {chosen}, {since} to {until}")
    app = container(request)
    positions = [{"currency": p["currency"], "amount": format_amount(int(p["position_minor"]),
                                                                    app.settings.currencies[str(p["currency"])])}
                 for p in app.fx.positions()]
    return render(request, "admin_revenue.html", {"rows": rows, "since": since, "until": until, "chart": chart,
                                                  "currencies": currencies, "chosen": chosen, "positions": positions})


@router.get("/reports/fees.csv")
def revenue_csv(request: Request) -> Response:
    if _operator(request) is None:
        return render(request, "not_found.html", {}, 404)
    since, until, rows = _revenue(request)
    body = container(request).history.fee_revenue_csv(rows)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="paydesk-fees-{since}-{until}.csv"'})

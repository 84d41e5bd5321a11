"""Public pages generated from the live system: `/fees` (the schedule in force, with worked examples) and
`/rates` (today's exchange rates and spreads)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paydesk.core.money import format_amount, parse_amount
from paydesk.fees.domain import OPERATIONS, Schedule, charge
from paydesk.web.auth import container
from paydesk.web.pages import render, request_locale

router = APIRouter(include_in_schema=False)

# Worked examples, priced by the schedule in force: (operation, currency, amount, method, region)
EXAMPLES = (
    ("p2p", "USD", "100", None, "domestic"),
    ("topup", "USD", "100", "card", None),
    ("topup", "CNY", "1000", "bank_domestic", None),
    ("withdraw", "EUR", "250", "bank_domestic", "domestic"),
    ("withdraw", "EUR", "1000", "bank_domestic", "international"),
    ("withdraw", "USD", "3000", "bank_international", "international"),
    ("withdraw", "BTC", "0.05", "btc", None),
    ("withdraw", "USDT", "500", "tron", None),
    ("exchange", "USD", "100", None, None),
)


def _examples(schedule: Schedule, request: Request) -> list[dict[str, Any]]:
    currencies = container(request).settings.currencies
    out = []
    for operation, code, amount, method, region in EXAMPLES:
        if code not in currencies:
            continue
        cur = currencies[code]
        minor = parse_amount(amount, cur)
        got = charge(schedule, cur, operation, minor, method, region)
        out.append({"operation": operation, "currency": code, "amount": format_amount(minor, cur), "method": method,
                    "region": region, "fee": format_amount(got.fee, cur), "rule": got.rule})
    return out


@router.get("/fees", response_class=HTMLResponse)
def fees(request: Request) -> Response:
    app = container(request)
    schedule = app.fees.schedule_at()
    rules = app.fees.as_json(schedule)["rules"]
    groups = [(op, [r for r in rules if r["operation"] == op]) for op in OPERATIONS]
    upcoming = [s for s in app.fees.schedules() if s.effective_at > app.clock.now()]
    return render(request, "fees.html", {"schedule": schedule, "groups": groups, "upcoming": upcoming,
                                         "examples": _examples(schedule, request), "lang": request_locale(request)})


@router.get("/rates", response_class=HTMLResponse)
def rates(request: Request) -> Response:
    app = container(request)
    base = request.query_params.get("base", "").upper()
    base = base if base in app.settings.currencies else ("CNY" if request_locale(request) == "zh-CN" else "EUR")
    return render(request, "rates.html", {"rates": app.fx.public_rates(base), "base": base,
                                          "currencies": list(app.settings.currencies)})

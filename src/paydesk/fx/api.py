"""Exchange rates over HTTP: public rates, and recording rates or reading positions (operators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from paydesk.core.errors import InvalidRequest
from paydesk.fx.sources import RateSet, parse_csv, parse_ecb, positive
from paydesk.web.auth import AppContainer, OperatorPrincipal

router = APIRouter(prefix="/api/v1", tags=["rates"])


@router.get("/rates")
def rates(app: AppContainer, base: str = Query("EUR", max_length=10)) -> dict[str, Any]:
    """What one unit of `base` buys: the mid rate, the rate you get after the spread, and when it was set."""
    return app.fx.public_rates(base.upper())


class RatesIn(BaseModel):
    per_eur: dict[str, str] = Field(description='units of each currency one euro buys: {"USD": "1.05"}')


@router.post("/admin/rates", status_code=201)
def enter_rates(body: RatesIn, _: OperatorPrincipal, app: AppContainer) -> dict[str, list[str]]:
    """Rates typed in by an operator (crypto prices, or a correction), valid from now."""
    if not body.per_eur:
        raise InvalidRequest("give at least one rate")
    parsed = {code.upper(): positive(value, code) for code, value in body.per_eur.items()}
    return app.fx.record(RateSet(parsed, app.clock.now(), "operator"))


@router.post("/admin/rates/import", status_code=201)
async def import_rates(request: Request, _: OperatorPrincipal, app: AppContainer,
                       format: str = Query(pattern="^(ecb|csv)$")) -> dict[str, list[str]]:
    """Upload the ECB's eurofxref-daily.xml (`format=ecb`) or a CSV of currency,per_eur[,as_of] (`format=csv`)."""
    body = await request.body()
    if len(body) > 1_000_000:
        raise InvalidRequest("the file is too large")
    if format == "ecb":
        rate_set = parse_ecb(body)
    else:
        try:
            rate_set = parse_csv(body.decode("utf-8-sig"), app.clock.now())
        except UnicodeDecodeError:
            raise InvalidRequest("the CSV must be UTF-8") from None
    return app.fx.record(rate_set)


@router.get("/admin/fx-positions")
def positions(_: OperatorPrincipal, app: AppContainer) -> dict[str, Any]:
    """The fx pool's position per currency: taken in (+) or paid out (−), in minor units."""
    return {"items": app.fx.positions()}

"""Public reference data for API clients: the currencies this installation lists."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

router = APIRouter(prefix="/api/v1", tags=["reference"])


class CurrencyOut(BaseModel):
    code: str
    scale: int
    kind: Literal["fiat", "crypto"]
    minor_unit: str  # the smallest amount, as a decimal string: "0.01", "1", "0.00000001"


class CurrencyList(BaseModel):
    items: list[CurrencyOut]


def _out(code: str, scale: int, kind: Literal["fiat", "crypto"]) -> CurrencyOut:
    minor_unit = "1" if scale == 0 else "0." + "0" * (scale - 1) + "1"
    return CurrencyOut(code=code, scale=scale, kind=kind, minor_unit=minor_unit)


@router.get("/currencies", response_model=CurrencyList)
def list_currencies(request: Request, kind: Literal["fiat", "crypto"] | None = Query(None)) -> CurrencyList:
    """Every currency Paydesk holds, with its number of decimal places (amounts have at most that many)."""
    currencies = request.app.state.container.settings.currencies.values()
    return CurrencyList(items=[_out(c.code, c.scale, c.kind) for c in currencies if kind in (None, c.kind)])


@router.get("/currencies/{code}", response_model=CurrencyOut)
def get_currency(request: Request, code: str) -> CurrencyOut:
    currency = request.app.state.container.settings.currencies.get_or_raise(code.upper())
    return _out(currency.code, currency.scale, currency.kind)

"""Shared page machinery: the Jinja environment, the request's locale, and the home page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from paydesk.core import i18n
from paydesk.core.money import Currency, format_money

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

router = APIRouter(include_in_schema=False)


def request_locale(request: Request) -> str:
    settings = request.app.state.container.settings
    return i18n.pick_locale(
        request.query_params.get("lang"), request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"), settings.default_locale,
    )


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """Render a page in the request's locale; remembers an explicit `?lang=` choice in a cookie."""
    locale = request_locale(request)

    def t(key: str, **values: object) -> str:
        return i18n.translate(locale, key, **values)

    def money(minor: int, currency: Currency) -> str:
        return format_money(minor, currency, locale)

    response = TEMPLATES.TemplateResponse(
        request, template, {"locale": locale, "t": t, "money": money, **(context or {})}, status_code=status,
    )
    chosen = i18n.normalize(request.query_params.get("lang"))
    if chosen:
        response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    response.headers["Content-Language"] = locale
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    currencies = list(request.app.state.container.settings.currencies.values())
    return render(request, "home.html", {"currencies": currencies})

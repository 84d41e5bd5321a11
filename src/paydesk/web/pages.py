"""Shared page machinery: the Jinja environment, the request's locale, CSRF for forms, the home page."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from paydesk.core import i18n
from paydesk.core.money import Currency, format_money
from paydesk.identity.service import Principal
from paydesk.web.auth import csrf_token, optional_principal

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Jinja2Templates(directory=[str(ROOT / "web" / "templates"), str(ROOT / "identity" / "templates"),
                                       str(ROOT / "wallet" / "templates"), str(ROOT / "notify" / "templates"),
                                       str(ROOT / "fees" / "templates"), str(ROOT / "support" / "templates"),
                                       str(ROOT / "helpcenter" / "templates")])
ANON_CSRF_COOKIE = "paydesk_csrf"

router = APIRouter(include_in_schema=False)


def request_locale(request: Request) -> str:
    settings = request.app.state.container.settings
    return i18n.pick_locale(
        request.query_params.get("lang"), request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"), settings.default_locale,
    )


def page_principal(request: Request) -> Principal | None:
    """The signed-in visitor of a page (cached on the request)."""
    if not hasattr(request.state, "page_principal"):
        request.state.page_principal = optional_principal(request)
    found: Principal | None = request.state.page_principal
    return found


def page_principal_with(request: Request, role: str) -> Principal | None:
    """The signed-in visitor of a page if they have `role` (or `admin`), else None."""
    who = page_principal(request)
    return who if who is not None and who.user.roles & {role, "admin"} else None


def form_token(request: Request) -> str:
    """The CSRF token a form must send back: bound to the session when signed in, otherwise to a
    random cookie (double submit) that `render` sets."""
    who = page_principal(request)
    if who is not None:
        return csrf_token(request.app.state.container.settings.secret_key, who.session_id)
    if not hasattr(request.state, "anon_csrf"):
        request.state.anon_csrf = request.cookies.get(ANON_CSRF_COOKIE) or secrets.token_urlsafe(24)
    token: str = request.state.anon_csrf
    return token


def form_token_ok(request: Request, submitted: object) -> bool:
    return isinstance(submitted, str) and bool(submitted) and hmac.compare_digest(submitted, form_token(request))


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200,
           locale: str | None = None) -> HTMLResponse:
    """Render a page in the request's locale (or `locale`, for pages whose address names one); remembers an
    explicit `?lang=` choice in a cookie."""
    locale = locale or request_locale(request)

    def t(key: str, **values: object) -> str:
        return i18n.translate(locale, key, **values)

    def money(minor: int, currency: Currency) -> str:
        return format_money(minor, currency, locale)

    who = page_principal(request)
    csrf = form_token(request)
    base = {"locale": locale, "t": t, "money": money, "user": who.user if who else None, "csrf": csrf,
            "path": request.url.path}
    response = TEMPLATES.TemplateResponse(request, template, {**base, **(context or {})}, status_code=status)
    chosen = i18n.normalize(request.query_params.get("lang"))
    if chosen:
        response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    if who is None and request.cookies.get(ANON_CSRF_COOKIE) != csrf:
        response.set_cookie(ANON_CSRF_COOKIE, csrf, samesite="strict", httponly=True)
    response.headers["Content-Language"] = locale
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    currencies = list(request.app.state.container.settings.currencies.values())
    return render(request, "home.html", {"currencies": currencies})

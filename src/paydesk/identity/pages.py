"""Sign up, log in, log out: the session lives in an HttpOnly, SameSite cookie."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from paydesk.core.errors import DomainError
from paydesk.web.auth import SESSION_COOKIE, client_of, container, country_of
from paydesk.web.forms import csrf_error, field_error
from paydesk.web.pages import form_token_ok, page_principal, redirect, render, request_locale

router = APIRouter(include_in_schema=False)


def _start_session(request: Request, response: Response, token: str) -> None:
    secure = request.app.state.container.settings.base_url.startswith("https")
    response.set_cookie(SESSION_COOKIE, token, max_age=12 * 3600, httponly=True, samesite="lax", secure=secure)


def _safe_next(value: object) -> str:
    """Only local paths: never send someone elsewhere after login (open redirect)."""
    return value if isinstance(value, str) and value.startswith("/") and not value.startswith("//") else "/wallet"


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> Response:
    if page_principal(request):
        return redirect("/wallet")
    return render(request, "signup.html", {"values": {}, "errors": {}})


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request) -> Response:
    form = dict(await request.form())
    return await run_in_threadpool(_signup, request, form)  # Argon2 and the database: off the event loop


def _signup(request: Request, form: dict[str, Any]) -> Response:
    values: dict[str, Any] = {k: str(form.get(k, "")) for k in ("email", "phone", "display_name", "locale")}
    locale = request_locale(request)
    if not form_token_ok(request, form.get("csrf_token")):
        return render(request, "signup.html", {"values": values, "errors": csrf_error(locale)}, 403)
    app = container(request)
    try:
        user = app.identity.register(email=values["email"] or None, phone=values["phone"] or None,
                                     password=str(form.get("password", "")), display_name=values["display_name"],
                                     locale=values["locale"] or locale)
        app.wallet.ensure_wallet(user.id)
        ip, ua = client_of(request)
        session = app.security.login(user.email or user.phone or "", str(form.get("password", "")), ip=ip,
                                     user_agent=ua, country=country_of(request))
    except DomainError as exc:
        return render(request, "signup.html", {"values": values, "errors": field_error(exc, locale)}, 422)
    response = redirect(f"/wallet?lang={user.locale}")
    _start_session(request, response, session.token)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    if page_principal(request):
        return redirect("/wallet")
    return render(request, "login.html", {"values": {"next": request.query_params.get("next", "")}, "errors": {},
                                          "reset": request.query_params.get("reset") == "1"})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = dict(await request.form())
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: dict[str, Any]) -> Response:
    values = {"login": str(form.get("login", "")), "next": str(form.get("next", ""))}
    locale = request_locale(request)
    if not form_token_ok(request, form.get("csrf_token")):
        return render(request, "login.html", {"values": values, "errors": csrf_error(locale)}, 403)
    try:
        ip, ua = client_of(request)
        session = container(request).security.login(
            values["login"], str(form.get("password", "")), otp=str(form.get("otp", "")) or None, ip=ip,
            user_agent=ua, country=country_of(request))
    except DomainError as exc:
        return render(request, "login.html", {"values": values, "errors": field_error(exc, locale)}, 401)
    response = redirect(_safe_next(values["next"]))
    _start_session(request, response, session.token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = dict(await request.form())
    return await run_in_threadpool(_logout, request, form)


def _logout(request: Request, form: dict[str, Any]) -> Response:
    who = page_principal(request)
    if who is not None and form_token_ok(request, form.get("csrf_token")):
        container(request).identity.logout(who.session_id)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- a forgotten password: ask for a link, then set a new password with it ---------------------------------

@router.get("/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> Response:
    return render(request, "forgot.html", {"values": {}, "errors": {}, "sent": False})


@router.post("/forgot", response_class=HTMLResponse)
async def forgot(request: Request) -> Response:
    form = dict(await request.form())
    return await run_in_threadpool(_forgot, request, form)


def _forgot(request: Request, form: dict[str, Any]) -> Response:
    values = {"login": str(form.get("login", ""))[:320]}
    if not form_token_ok(request, form.get("csrf_token")):
        return render(request, "forgot.html", {"values": values, "errors": csrf_error(request_locale(request)),
                                               "sent": False}, 403)
    ip, ua = client_of(request)
    try:
        container(request).security.request_reset(values["login"], ip=ip, user_agent=ua)
    except DomainError as exc:  # too many requests from this address (alike for every login)
        return render(request, "forgot.html", {"values": values, "errors": field_error(exc, request_locale(request)),
                                               "sent": False}, exc.status)
    # The same answer whether or not the account exists: the page doesn't tell who has a wallet.
    return render(request, "forgot.html", {"values": values, "errors": {}, "sent": True})


@router.get("/reset", response_class=HTMLResponse)
def reset_form(request: Request) -> Response:
    return render(request, "reset.html", {"token": request.query_params.get("token", "")[:200], "errors": {}})


@router.post("/reset", response_class=HTMLResponse)
async def reset(request: Request) -> Response:
    form = dict(await request.form())
    return await run_in_threadpool(_reset, request, form)


def _reset(request: Request, form: dict[str, Any]) -> Response:
    token = str(form.get("token", ""))[:200]
    locale = request_locale(request)
    if not form_token_ok(request, form.get("csrf_token")):
        return render(request, "reset.html", {"token": token, "errors": csrf_error(locale)}, 403)
    ip, ua = client_of(request)
    try:
        container(request).security.confirm_reset(token, str(form.get("password", "")),
                                                  str(form.get("otp", "")) or None, ip=ip, user_agent=ua)
    except DomainError as exc:
        return render(request, "reset.html", {"token": token, "errors": field_error(exc, locale)}, 422)
    return redirect("/login?reset=1")

"""`/settings/security`: password, 2-step verification (QR enrolment, recovery codes), sessions, activity."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from paydesk.core.errors import DomainError
from paydesk.identity.service import Principal
from paydesk.wallet.rails.base import RAILS
from paydesk.web.auth import client_of, container
from paydesk.web.forms import csrf_error, field_error
from paydesk.web.pages import form_token_ok, page_principal, redirect, render, request_locale

router = APIRouter(prefix="/settings/security", include_in_schema=False)


def _page(request: Request, who: Principal, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    app = container(request)
    context = {
        "two_step": app.identity.two_step_on(who.user.id), "sessions": app.security.sessions(who),
        "activity": app.security.activity(who.user.id, 30), "errors": {}, "limits": app.settings.daily_limits,
        "destinations": app.wallet.saved_destinations(who.user.id), "rails": RAILS, **(extra or {}),
    }
    return render(request, "security.html", context, status)


@router.get("", response_class=HTMLResponse)
def security(request: Request) -> Response:
    who = page_principal(request)
    if who is None:
        return redirect(f"/login?next={request.url.path}")
    return _page(request, who, {"saved": request.query_params.get("saved", "")})


@router.post("/{action}", response_class=HTMLResponse)
async def act(action: str, request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_act, action, request, form)


def _act(action: str, request: Request, form: dict[str, str]) -> Response:
    who = page_principal(request)
    if who is None:
        return redirect("/login")
    locale = request_locale(request)
    if not form_token_ok(request, form.get("csrf_token")):
        return _page(request, who, {"errors": csrf_error(locale), "section": action}, 403)
    app = container(request)
    security = app.security
    try:
        if action == "password":
            security.change_password(who, form.get("current", ""), form.get("new", ""), form.get("otp") or None)
            return redirect("/settings/security?saved=1")
        if action == "totp-start":
            return _page(request, who, {"enrolment": security.start_totp(who)})
        if action == "totp-confirm":
            return _page(request, who, {"recovery_codes": security.confirm_totp(who, form.get("otp", ""))})
        if action == "totp-disable":
            security.disable_totp(who, form.get("password", ""), form.get("otp", ""))
            return redirect("/settings/security?saved=1")
        if action == "recovery-codes":
            codes = security.regenerate_recovery_codes(who, form.get("password", ""), form.get("otp", ""))
            return _page(request, who, {"recovery_codes": codes})
        if action in ("email", "phone"):
            security.change_login(who, kind=action, value=form.get(action, ""), password=form.get("password", ""),
                                  otp=form.get("otp") or None)
            return redirect("/settings/security?saved=2")
        if action == "destination-add":
            target = {k: form[k].strip() for k in ("iban", "bic", "address") if form.get(k, "").strip()}
            app.wallet.add_destination(who, label=form.get("label", ""), method=form.get("method", ""),
                                       destination=target, password=form.get("password", ""),
                                       otp=form.get("otp") or None)
            return redirect("/settings/security?saved=2#destinations-h")
        if action.startswith("destination-remove-"):
            app.wallet.remove_destination(who.user.id, action.removeprefix("destination-remove-"))
            return redirect("/settings/security#destinations-h")
        if action == "revoke-others":
            security.revoke_other_sessions(who)
            return redirect("/settings/security")
        if action.startswith("not-me-"):
            ip, ua = client_of(request)
            security.report_not_me(who, event_id=UUID(action.removeprefix("not-me-")), ip=ip, user_agent=ua)
            return redirect("/login?next=/settings/security")
        if action.startswith("revoke-"):
            security.revoke_session(who, UUID(action.removeprefix("revoke-")))
            return redirect("/settings/security")
    except (DomainError, ValueError) as exc:
        errors = field_error(exc, locale) if isinstance(exc, DomainError) else {"form": str(exc)}
        return _page(request, who, {"errors": errors, "section": action}, 422)
    return render(request, "not_found.html", {}, 404)

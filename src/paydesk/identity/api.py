"""`/api/v1/auth/*` and `/api/v1/me`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from paydesk.identity.service import User
from paydesk.web.auth import AppContainer, CurrentPrincipal, client_of, country_of

router = APIRouter(prefix="/api/v1", tags=["identity"])


class RegisterIn(BaseModel):
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=32)
    password: str = Field(max_length=4096)
    display_name: str | None = Field(None, max_length=100)
    locale: Literal["zh-CN", "en"] = "en"


class UserOut(BaseModel):
    id: UUID
    email: str | None
    phone: str | None
    display_name: str
    locale: str
    wallet_id: str | None = None
    created_at: datetime


class LoginIn(BaseModel):
    login: str = Field(max_length=320)
    password: str = Field(max_length=4096)
    otp: str | None = Field(None, max_length=16)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime


def user_out(user: User, wallet_id: str | None) -> UserOut:
    return UserOut(id=user.id, email=user.email, phone=user.phone, display_name=user.display_name,
                   locale=user.locale, wallet_id=wallet_id, created_at=user.created_at)


@router.post("/auth/register", status_code=201, response_model=UserOut)
def register(body: RegisterIn, app: AppContainer) -> UserOut:
    """Open an account with an email and/or a phone number and a password (12 characters or more)."""
    user = app.identity.register(email=body.email, phone=body.phone, password=body.password,
                                 display_name=body.display_name, locale=body.locale)
    return user_out(user, app.wallet.ensure_wallet(user.id))


@router.post("/auth/login", response_model=TokenOut)
def login(body: LoginIn, request: Request, app: AppContainer) -> TokenOut:
    """A bearer token for `Authorization: Bearer …`; `invalid_credentials` for any wrong login or password."""
    ip, ua = client_of(request)
    result = app.security.login(body.login, body.password, otp=body.otp, ip=ip, user_agent=ua,
                                country=country_of(request))
    return TokenOut(access_token=result.token, expires_at=result.expires_at)


class ResetIn(BaseModel):
    login: str = Field(max_length=320)


class ResetConfirmIn(BaseModel):
    token: str = Field(max_length=200)
    new_password: str = Field(max_length=4096)
    otp: str | None = Field(None, max_length=32)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=4096)
    new_password: str = Field(max_length=4096)
    otp: str | None = Field(None, max_length=32)


class CodeIn(BaseModel):
    code: str = Field(max_length=32)


class StepUpIn(BaseModel):
    password: str = Field(max_length=4096)
    code: str = Field(max_length=32)


@router.post("/auth/password-reset", status_code=202)
def password_reset(body: ResetIn, request: Request, app: AppContainer) -> Response:
    """202 whoever asks: a known account gets a link (30 minutes, once) by email; nothing (neither the answer
    nor its time) says which is which. 429 `too_many_reset_requests` past 20 an hour from one client address."""
    ip, ua = client_of(request)
    app.security.request_reset(body.login, ip=ip, user_agent=ua)
    return Response(status_code=202)


@router.post("/auth/password-reset/confirm", status_code=204)
def password_reset_confirm(body: ResetConfirmIn, request: Request, app: AppContainer) -> Response:
    """Choose a new password with the emailed token; every session ends; 2-step still applies (`otp`)."""
    ip, ua = client_of(request)
    app.security.confirm_reset(body.token, body.new_password, body.otp, ip=ip, user_agent=ua)
    return Response(status_code=204)


@router.post("/me/password", status_code=204)
def change_password(body: PasswordChangeIn, who: CurrentPrincipal, app: AppContainer) -> Response:
    app.security.change_password(who, body.current_password, body.new_password, body.otp)
    return Response(status_code=204)


class PasswordAndCodeIn(BaseModel):
    """A step-up: the current password, and a 2-step code when it is on."""

    password: str = Field(max_length=4096)
    otp: str | None = Field(None, max_length=32)


class EmailChangeIn(PasswordAndCodeIn):
    email: str = Field(max_length=320)


class PhoneChangeIn(PasswordAndCodeIn):
    phone: str = Field(max_length=32)


@router.post("/me/email", status_code=204)
def change_email(body: EmailChangeIn, who: CurrentPrincipal, app: AppContainer) -> Response:
    """Sign in with a new email address; needs the password and, with 2-step on, a code. The old address is told."""
    app.security.change_login(who, kind="email", value=body.email, password=body.password, otp=body.otp)
    return Response(status_code=204)


@router.post("/me/phone", status_code=204)
def change_phone(body: PhoneChangeIn, who: CurrentPrincipal, app: AppContainer) -> Response:
    """Sign in with a new phone number (E.164); step-up as for the email address."""
    app.security.change_login(who, kind="phone", value=body.phone, password=body.password, otp=body.otp)
    return Response(status_code=204)


@router.post("/me/2fa/totp")
def start_totp(who: CurrentPrincipal, app: AppContainer) -> dict[str, str]:
    """Start enrolling an authenticator app: `{secret, otpauth_uri, qr_svg}`; confirm with a code."""
    return app.security.start_totp(who)


@router.post("/me/2fa/totp/confirm")
def confirm_totp(body: CodeIn, who: CurrentPrincipal, app: AppContainer) -> dict[str, list[str]]:
    """Turn 2-step on with a first code; the 10 recovery codes are shown this once."""
    return {"recovery_codes": app.security.confirm_totp(who, body.code)}


@router.post("/me/2fa/totp/disable", status_code=204)
def disable_totp(body: StepUpIn, who: CurrentPrincipal, app: AppContainer) -> Response:
    app.security.disable_totp(who, body.password, body.code)
    return Response(status_code=204)


@router.post("/me/2fa/recovery-codes")
def recovery_codes(body: StepUpIn, who: CurrentPrincipal, app: AppContainer) -> dict[str, list[str]]:
    """A new set of 10 recovery codes; the old set stops working."""
    return {"recovery_codes": app.security.regenerate_recovery_codes(who, body.password, body.code)}


@router.get("/me/sessions")
def sessions(who: CurrentPrincipal, app: AppContainer) -> dict[str, list[dict[str, Any]]]:
    return {"items": app.security.sessions(who)}


@router.delete("/me/sessions/{session_id}", status_code=204)
def revoke_session(session_id: UUID, who: CurrentPrincipal, app: AppContainer) -> Response:
    app.security.revoke_session(who, session_id)
    return Response(status_code=204)


@router.delete("/me/sessions", status_code=204)
def revoke_other_sessions(who: CurrentPrincipal, app: AppContainer) -> Response:
    """Sign out everywhere else."""
    app.security.revoke_other_sessions(who)
    return Response(status_code=204)


@router.get("/me/activity")
def activity(who: CurrentPrincipal, app: AppContainer, limit: int = 100) -> dict[str, list[dict[str, Any]]]:
    """Security events: logins and failures, locks, resets, 2-step changes, new devices, revoked sessions."""
    return {"items": app.security.activity(who.user.id, limit)}


@router.post("/me/activity/{event_id}/not-me")
def not_me(event_id: UUID, request: Request, who: CurrentPrincipal, app: AppContainer) -> dict[str, str]:
    """"This wasn't me": outgoing money freezes at once, every session ends, support takes the case."""
    ip, ua = client_of(request)
    return app.security.report_not_me(who, event_id=event_id, ip=ip, user_agent=ua)


@router.post("/auth/logout", status_code=204)
def logout(who: CurrentPrincipal, app: AppContainer) -> Response:
    app.identity.logout(who.session_id)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(who: CurrentPrincipal, app: AppContainer) -> UserOut:
    return user_out(who.user, app.wallet.ensure_wallet(who.user.id))

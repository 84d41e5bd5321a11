"""`/api/v1/auth/*` and `/api/v1/me`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from paydesk.identity.service import User
from paydesk.web.auth import AppContainer, CurrentPrincipal

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
    result = app.security.login(body.login, body.password, otp=body.otp,
                                ip=request.client.host if request.client else "",
                                user_agent=request.headers.get("user-agent", ""))
    return TokenOut(access_token=result.token, expires_at=result.expires_at)


@router.post("/auth/logout", status_code=204)
def logout(who: CurrentPrincipal, app: AppContainer) -> Response:
    app.identity.logout(who.session_id)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(who: CurrentPrincipal, app: AppContainer) -> UserOut:
    return user_out(who.user, app.wallet.ensure_wallet(who.user.id))

"""Who is calling: a bearer token (API clients) or the session cookie (pages, with CSRF protection)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPBearer

from paydesk.container import Container
from paydesk.core.errors import DomainError
from paydesk.identity.domain import CsrfFailed, NotAuthenticated
from paydesk.identity.service import Principal

SESSION_COOKIE = "paydesk_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def _token(request: Request) -> tuple[str | None, bool]:
    """(token, came from the cookie)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def client_of(request: Request) -> tuple[str, str]:
    """(IP address, user agent) of the caller, for sessions and the activity log."""
    return (request.client.host if request.client else ""), request.headers.get("user-agent", "")


def country_of(request: Request) -> str:
    """The caller's ISO country from the trusted proxy's header (`PAYDESK_COUNTRY_HEADER`), or "" when it is
    not configured, absent or not a country code (CDNs send XX for unknown)."""
    header = container(request).settings.country_header
    value = request.headers.get(header, "").strip().upper() if header else ""
    return value if len(value) == 2 and value.isascii() and value.isalpha() and value != "XX" else ""


def csrf_token(secret_key: str, session_id: UUID) -> str:
    """Bound to the session: a token from another session (or none) is refused."""
    return hmac.new(secret_key.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def optional_principal(request: Request) -> Principal | None:
    token, _ = _token(request)
    if token is None:
        return None
    try:
        return container(request).identity.authenticate(token)
    except NotAuthenticated:
        return None


# How the OpenAPI document names the two ways to sign a call (`_token` reads them; these only document them).
_BEARER = HTTPBearer(auto_error=False, description="The `access_token` from `POST /api/v1/auth/login`.")
_COOKIE = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="A signed-in browser's session; a change also needs the `X-CSRF-Token` header.")


def principal(request: Request, _bearer: Annotated[object, Depends(_BEARER)] = None,
              _cookie: Annotated[object, Depends(_COOKIE)] = None) -> Principal:
    """The signed-in caller of an API route. A cookie-authenticated request that changes something must also
    carry the session's CSRF token in the `X-CSRF-Token` header (pages check their forms' own field)."""
    token, from_cookie = _token(request)
    if token is None:
        raise NotAuthenticated()
    found = container(request).identity.authenticate(token)
    if from_cookie and request.method not in SAFE_METHODS:
        expected = csrf_token(container(request).settings.secret_key, found.session_id)
        if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), expected):
            raise CsrfFailed()
    request.state.principal = found
    return found


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "Your account can't do this"


def with_role(role: str) -> Callable[..., Principal]:
    """A dependency: the signed-in caller, who must have `role` (or `admin`)."""
    def check(found: Annotated[Principal, Depends(principal)]) -> Principal:
        if not found.user.roles & {role, "admin"}:
            raise Forbidden(f"this needs the {role} role")
        return found
    return check


operator = with_role("operator")
CurrentPrincipal = Annotated[Principal, Depends(principal)]
OperatorPrincipal = Annotated[Principal, Depends(operator)]
EditorPrincipal = Annotated[Principal, Depends(with_role("editor"))]
AppContainer = Annotated[Container, Depends(container)]

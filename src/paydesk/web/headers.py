"""Security headers on every HTTP response, so that another site can't put our pages in a frame and trick a
signed-in user into clicking "Send" there (clickjacking), a browser never guesses a type we didn't send, and
our URLs (a password-reset link carries its token) never leave in a Referer to another site.

- `X-Content-Type-Options: nosniff`;
- `X-Frame-Options: DENY`, and `frame-ancestors 'none'` in the Content-Security-Policy (added to a route's
  own policy: attachments set theirs);
- `Referrer-Policy: same-origin`.

Nothing of ours is meant to be framed: the chat widget draws itself in the host page (a shadow root), it is
not an iframe of ours. A header a route set itself is kept."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
FRAME_ANCESTORS = "frame-ancestors 'none'"


def secure(headers: MutableHeaders) -> None:
    """Add HEADERS (where not set) and FRAME_ANCESTORS to a response's headers. Also used by the catch-all
    error handler, whose 500 leaves from outside every middleware (Starlette's ServerErrorMiddleware)."""
    for name, value in HEADERS.items():
        if name not in headers:
            headers[name] = value
    policy = headers.get("content-security-policy")
    if policy is None:
        headers["content-security-policy"] = FRAME_ANCESTORS
    elif "frame-ancestors" not in policy.lower():
        headers["content-security-policy"] = f"{policy.rstrip('; ')}; {FRAME_ANCESTORS}"


class SecurityHeaders:
    """ASGI middleware: adds HEADERS (where a route didn't) and FRAME_ANCESTORS to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_headers)

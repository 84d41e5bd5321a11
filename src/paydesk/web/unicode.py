"""JSON must hold real text. JSON can spell half of a UTF-16 pair on its own (`"\\ud800"`, or the raw bytes
of one, which Python's JSON reader lets through), giving a string that can't be written out as UTF-8: a
field typed `str` refuses it, but a free-form one (rates by currency, a promotion's labels, fee rules) took
it in, stored it, and every response that showed it failed afterwards. Such a body is refused here, before
any route sees it, with a 422 problem (`invalid_text`); a JSON body over CHECKED_BYTES is refused with 413
(none of the API's is near it: uploads are not JSON). Forms that carry JSON and the chat sockets check what
they parsed with `core.text.holds_lone_surrogate`."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paydesk.core.text import INVALID_TEXT, holds_lone_surrogate
from paydesk.web.errors import problem

CHECKED_BYTES = 1 << 20
# An escape that may spell a lone half (a literal backslash before "ud8…" only costs a second look).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
def lone_surrogate_in(body: bytes) -> bool:
    """Whether a JSON body holds half a UTF-16 pair (written as an escape, or as raw bytes in any of the
    encodings the JSON reader detects). A body that isn't JSON is not this check's business: the route
    refuses it as it would have."""
    if body.isascii() and not _SURROGATE_ESCAPE.search(body):
        return False
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return holds_lone_surrogate(document)


class RefuseLoneSurrogates:
    """ASGI middleware: reads a JSON request's body, refuses it if `lone_surrogate_in`, else hands it on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > CHECKED_BYTES:
                response = problem(413, "payload_too_large", "Payload too large",
                                   f"A JSON body is at most {CHECKED_BYTES} bytes", scope.get("path", ""))
                await response(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if lone_surrogate_in(body):
            response = problem(422, "invalid_text", "The request is not valid", INVALID_TEXT, scope.get("path", ""))
            await response(scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def _is_json(scope: Scope) -> bool:
    """A body FastAPI would read as JSON: one said to be, or one that says nothing of its type."""
    if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return True

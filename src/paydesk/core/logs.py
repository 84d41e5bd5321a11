"""How the processes log: structlog's console lines, with plain tracebacks, and no secrets from URLs.

structlog's default shows an exception with rich's traceback when rich is installed, and that prints every
frame's local variables: a request's bearer token, a password being checked, a customer's record. A
traceback here names the code, not the data.

Uvicorn logs each request and each WebSocket with its query string, and some of our URLs carry a secret
there: the password-reset link (`/reset?token=…`), a visitor's key to their chat (`?visitor_token=…`), an
agent console's bearer token (`/ws/agent?token=…`). Whoever reads the log could use them. Every query
parameter whose name ends in `token` has its value replaced with `[hidden]` in uvicorn's lines."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

import structlog

UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")  # requests; WebSocket handshakes
HIDDEN = "[hidden]"
_QUERY_PARAMETER = re.compile(r"([?&;])([^=&;?#\s\"]*)=([^&;?\s\"]*)")  # (a `?` starts a nested query)


def hide_secrets(text: str) -> str:
    """`text` with the value of every query parameter whose name ends in `token` (once percent-decoded, as
    the app reads it: `tok%65n` is `token`) replaced by HIDDEN."""
    if "?" not in text:
        return text

    def hidden(m: re.Match[str]) -> str:
        return f"{m[1]}{m[2]}={HIDDEN}" if unquote_plus(m[2]).lower().endswith("token") else m[0]

    return _QUERY_PARAMETER.sub(hidden, text)


class HideSecretsInUrls(logging.Filter):
    """Rewrites a record's message and arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = hide_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(hide_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: hide_secrets(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def configure_logging() -> None:
    structlog.configure(processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.StackInfoRenderer(),
        structlog.dev.set_exc_info,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ])
    for name in UVICORN_LOGGERS:  # a logger's filters outlive uvicorn's dictConfig (it replaces handlers only)
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideSecretsInUrls) for f in logger.filters):
            logger.addFilter(HideSecretsInUrls())

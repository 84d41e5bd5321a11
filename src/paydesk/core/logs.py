"""How the processes log: structlog's console lines, with plain tracebacks.

structlog's default shows an exception with rich's traceback when rich is installed, and that prints every
frame's local variables: a request's bearer token, a password being checked, a customer's record. A
traceback here names the code, not the data."""

from __future__ import annotations

import structlog


def configure_logging() -> None:
    structlog.configure(processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.StackInfoRenderer(),
        structlog.dev.set_exc_info,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ])

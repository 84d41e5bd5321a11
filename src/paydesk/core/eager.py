"""Running a coroutine at once, on the caller's turn of the loop, up to its first real wait.

A chat event reaches a socket thousands of times a second through code that almost never waits (the socket
is writable, nothing else is being sent on it). Scheduling a task for each costs a turn of the event loop
between the event's arrival and its send, a tenth of its delivery time here. `eagerly` runs the coroutine
right away instead, and only when it has to wait does a task take over the rest (Python 3.12's eager tasks,
for the 3.11 this project supports).

Unlike a 3.12 eager task, the part that runs at once runs inside the caller's task and context (or in none,
when the caller is a protocol callback): before its first wait the coroutine must not ask for the current
task (no `asyncio.timeout`, no task group), nor count on context variables of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any


def eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coroutine` now. None when it finished without waiting (an exception it raised comes out here);
    otherwise the task that runs the rest of it, from where it waits (cancelling the task cancels that
    wait, as for any task, even before the task's first step)."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_Rest(coroutine, waiting_on))


_STARTED = object()


class _Rest(Coroutine[Any, Any, None]):
    """A coroutine already running, as a task's coroutine: the task's first step is given what it waits on;
    every later outcome of a wait (a value, an exception, a cancellation — one that comes before that first
    step too) goes straight into it."""

    __slots__ = ("_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coroutine, self._waiting_on = coroutine, waiting_on

    def send(self, value: Any) -> Any:
        waiting_on, self._waiting_on = self._waiting_on, _STARTED
        if waiting_on is not _STARTED:
            return waiting_on  # (a future, flagged as awaited when the coroutine yielded it, or None)
        return self._coroutine.send(value)

    def throw(self, kind: Any, value: Any = None, traceback: Any = None) -> Any:
        self._waiting_on = _STARTED
        if value is None and traceback is None:
            return self._coroutine.throw(kind)
        return self._coroutine.throw(kind, value, traceback)  # (the old three-argument form)

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Generator[Any, None, None]:
        raise TypeError("run by a task, not awaited")

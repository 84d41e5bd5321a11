"""Running a coroutine at once, on the caller's turn of the loop, up to its first real wait.

A chat event reaches a socket thousands of times a second through code that almost never waits (the socket
is writable, nothing else is being sent on it). Scheduling a task for each costs a turn of the event loop
between the event's arrival and its send, a tenth of its delivery time here. `eagerly` runs the coroutine
right away instead, and only when it has to wait does a task take over the rest (Python 3.12's eager tasks,
for the 3.11 this project supports)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any


def eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coroutine` now. None when it finished without waiting (an exception it raised comes out here);
    otherwise the task that runs the rest of it, from where it waits (cancelling the task cancels that
    wait, as for any task)."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_rest(coroutine, waiting_on))


class _Wait:
    """What the coroutine yielded (the future it waits on, or None for a bare turn of the loop), yielded again
    from inside the task: the task waits on it as the coroutine would have, and hands back the outcome."""

    __slots__ = ("waiting_on",)

    def __init__(self, waiting_on: Any) -> None:
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.waiting_on)


async def _rest(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Drive `coroutine` on from its first wait, passing each wait's outcome (a value or an exception, a
    cancellation included) in, as a task does for the coroutine it was made with."""
    while True:
        try:
            outcome = await _Wait(waiting_on)
        except BaseException as exc:  # handed to the coroutine, which decides (a cancellation too)
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration:
                return
            continue
        try:
            waiting_on = coroutine.send(outcome)
        except StopIteration:
            return

"""core/eager.py: a coroutine run at once, and a task for the rest only when it has to wait."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from paydesk.core.eager import eagerly

LOOPS: list[Any] = [pytest.param(asyncio.run, id="asyncio")]
if importlib.util.find_spec("uvloop"):  # the server's loop wherever uvicorn[standard] installs it
    import uvloop

    LOOPS.append(pytest.param(uvloop.run, id="uvloop"))


@pytest.mark.parametrize("run", LOOPS)
def test_a_coroutine_that_never_waits_is_done_when_eagerly_returns(run: Callable[..., None]) -> None:
    async def scenario() -> None:
        done: list[str] = []
        lock = asyncio.Lock()

        async def quick() -> None:
            async with lock:  # a free lock is taken without waiting
                done.append("sent")

        assert eagerly(quick()) is None and done == ["sent"]

        async def fails() -> None:
            raise ValueError("at once")

        with pytest.raises(ValueError, match="at once"):
            eagerly(fails())

    run(scenario())


@pytest.mark.parametrize("run", LOOPS)
def test_one_that_waits_goes_on_in_a_task_with_each_outcome_passed_in(run: Callable[..., None]) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        value, failure = loop.create_future(), loop.create_future()
        seen: list[object] = []

        async def waits() -> None:
            seen.append("started")
            seen.append(await value)
            await asyncio.sleep(0)  # a bare turn of the loop
            try:
                await failure
            except KeyError:
                seen.append("caught")
                raise ValueError("after waiting") from None

        task = eagerly(waits())
        assert task is not None and seen == ["started"]
        value.set_result("the value")
        failure.set_exception(KeyError())
        with pytest.raises(ValueError, match="after waiting"):
            await task
        assert seen == ["started", "the value", "caught"]

    run(scenario())


@pytest.mark.parametrize("run", LOOPS)
@pytest.mark.parametrize("before_its_first_step", [False, True], ids=["while-waiting", "before-first-step"])
def test_cancelling_the_task_cancels_the_wait_inside(run: Callable[..., None], before_its_first_step: bool) -> None:
    async def scenario() -> None:
        lock = asyncio.Lock()
        await lock.acquire()
        seen: list[str] = []

        async def queued() -> None:
            try:
                async with lock:
                    seen.append("got the lock")
            finally:
                seen.append("cleaned up")

        task = eagerly(queued())
        assert task is not None
        if before_its_first_step:
            lock.release()  # handed to the waiting coroutine, whose task is cancelled on the same turn, unrun
        else:
            await asyncio.sleep(0)  # the task waits on the lock
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == ["cleaned up"] and task.cancelled()
        if not before_its_first_step:
            lock.release()
        await asyncio.wait_for(lock.acquire(), 1)  # the cancelled waiter left the lock's line, or passed it on

    run(scenario())

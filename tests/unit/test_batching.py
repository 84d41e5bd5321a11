"""The batcher behind group commit (core/batching.py): cancelled callers, and a thread that outlives failures."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from paydesk.core.batching import Batcher


def _until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_caller_cancelled_before_its_batch_is_skipped_and_a_running_one_cannot_be_cancelled() -> None:
    gate, seen = threading.Event(), []

    def process(items: Sequence[int]) -> list[int]:
        seen.extend(items)
        if 1 in items:
            gate.wait(5)
        return [i * 10 for i in items]

    batcher = Batcher("test", process, window_s=0.0)
    try:
        first = batcher.enqueue(1)
        _until(lambda: seen == [1])  # the first batch is running
        assert not first.cancel()  # too late: its result will land
        second, third = batcher.enqueue(2), batcher.enqueue(3)
        assert second.cancel()  # gave up while waiting
        gate.set()
        assert first.result(5) == 10 and third.result(5) == 30
        assert 2 not in seen  # never processed
    finally:
        batcher.close()


def test_the_thread_survives_a_batch_that_breaks_the_batcher_itself() -> None:
    def process(items: Sequence[int]) -> list[int]:
        return [] if 7 in items else [i * 10 for i in items]  # a wrong count breaks the hand-out

    batcher = Batcher("test", process, window_s=0.0)
    try:
        with pytest.raises(ValueError):
            batcher.submit(7)
        assert batcher.submit(4) == 40  # still serving
    finally:
        batcher.close()


def test_an_event_loop_caller_that_gives_up_mid_batch_breaks_nothing() -> None:
    gate = threading.Event()

    def process(items: Sequence[int]) -> list[int]:
        gate.wait(5)
        return [i * 10 for i in items]

    batcher = Batcher("test", process, window_s=0.0)

    async def main() -> int:
        with pytest.raises(TimeoutError):  # the socket's await ends (a timeout, a closed socket)...
            await asyncio.wait_for(asyncio.wrap_future(batcher.enqueue(1)), 0.05)
        gate.set()  # ...while its batch runs on
        return await asyncio.wait_for(asyncio.wrap_future(batcher.enqueue(2)), 5)

    try:
        assert asyncio.run(main()) == 20
    finally:
        batcher.close()

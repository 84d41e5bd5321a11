"""Smart batching: work items from many concurrent callers are processed together, one batch at a time.

Each caller hands an item to `Batcher.submit` and blocks (or to `enqueue` and awaits the future from an event
loop). One thread takes every waiting item (up to `max_size` units), processes them together, and hands each
caller its own result; what arrives meanwhile forms the next batch. An item that finds itself alone after a
quiet spell waits once, at most `window_s` (0: not at all), for company. An item whose future was cancelled
before its batch began is not processed. `process` returns one result per item (an exception instance fails
just that caller); if it raises, each item is processed on its own, so one bad item fails only its own caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self, name: str, process: Callable[[Sequence[T]], Sequence[R | BaseException]], *,
        size_of: Callable[[T], int] = lambda _: 1, window_s: float = 0.002, max_size: int = 4096,
    ) -> None:
        self.name = name
        self._process = process
        self._size_of = size_of
        self._window_s = window_s
        self.max_size = max_size
        self._queue: queue.Queue[tuple[T, Future[R]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._carry: tuple[T, Future[R]] | None = None
        self.batches = 0  # batches processed, for metrics and benchmarks
        self.items = 0

    def submit(self, item: T, timeout: float | None = 30.0) -> R:
        """Process `item` in the next batch and return its result (or raise its exception)."""
        return self.enqueue(item).result(timeout=timeout)

    def enqueue(self, item: T) -> Future[R]:
        """Queue `item` for the next batch without waiting: an event loop awaits the future
        (`asyncio.wrap_future`) rather than parking a thread on it."""
        future: Future[R] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} batcher is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"batch-{self.name}", daemon=True)
                self._thread.start()
            self._queue.put((item, future))
        return future

    def close(self) -> None:
        """Finish what is queued, then stop; later submissions are refused."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            first, self._carry = self._carry or self._queue.get(), None
            if first is None:
                return
            group, stop = self._gather(first)
            # A caller that gave up before its batch began (a cancelled await) is dropped; the others' futures
            # now run and can no longer be cancelled, so their results always land.
            group = [entry for entry in group if entry[1].set_running_or_notify_cancel()]
            try:
                if group:
                    self._commit(group)
            except Exception as exc:  # this thread serves every caller: it must outlive any one failure
                log.exception("batch.crashed", batcher=self.name)
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            if stop:
                return

    def _gather(self, first: tuple[T, Future[R]]) -> tuple[list[tuple[T, Future[R]]], bool]:
        group, size, waited = [first], self._size_of(first[0]), False
        while size < self.max_size:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                if waited or len(group) > 1 or self._window_s <= 0:
                    break
                waited = True
                try:
                    entry = self._queue.get(timeout=self._window_s)
                except queue.Empty:
                    break
            if entry is None:
                return group, True
            if size + self._size_of(entry[0]) > self.max_size:
                self._carry = entry  # opens the next batch
                break
            group.append(entry)
            size += self._size_of(entry[0])
        return group, False

    def _commit(self, group: list[tuple[T, Future[R]]]) -> None:
        try:
            results = self._process([item for item, _ in group])
        except Exception as exc:
            if len(group) == 1:  # the caller learns of the failure; nothing is swallowed
                log.exception("batch.failed", batcher=self.name)
                group[0][1].set_exception(exc)
                return
            # One item may be what failed the batch: process each on its own so only its caller sees it.
            log.warning("batch.split", batcher=self.name, items=len(group), error=type(exc).__name__)
            for entry in group:
                self._commit([entry])
            return
        self.batches += 1
        self.items += len(group)
        for (_, future), result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

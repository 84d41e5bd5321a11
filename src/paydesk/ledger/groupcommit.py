"""Group commit: single transfers from many concurrent callers share one database transaction.

Each caller hands its transfers (one chain, or a few) to `GroupCommitter.submit` and blocks. A single
committer thread takes every waiting submission (up to `max_transfers`), posts them all as one batch, and
hands each caller its own results; what arrives meanwhile forms the next batch. Chains never cross
callers: a submission whose last transfer is still `linked` is refused before it joins a batch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import structlog

from paydesk.core.errors import InvalidRequest
from paydesk.ledger.domain import Result, TransferRequest

log = structlog.get_logger(__name__)

PostBatch = Callable[[Sequence[TransferRequest]], list[Result]]
_Item = tuple[Sequence[TransferRequest], Future[list[Result]]]


class GroupCommitter:
    def __init__(self, post_batch: PostBatch, *, window_s: float = 0.002, max_transfers: int = 4096) -> None:
        self._post_batch = post_batch
        self._window_s = window_s
        self._max = max_transfers
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._carry: _Item | None = None
        self.batches = 0  # batches committed, for metrics and the benchmark
        self.transfers = 0

    def submit(self, requests: Sequence[TransferRequest], timeout: float | None = 30.0) -> list[Result]:
        """Post `requests` in the next group; returns their results in order."""
        if not requests:
            return []
        if requests[-1].linked:
            raise InvalidRequest("the last transfer of a submission must close its chain (linked=false)")
        if len(requests) > self._max:
            raise InvalidRequest(f"at most {self._max} transfers in one submission")
        future: Future[list[Result]] = Future()
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the group committer is closed")
            self._ensure_started()
            self._queue.put((requests, future))
        return future.result(timeout=timeout)

    def _ensure_started(self) -> None:
        """Start the committer thread; called with `_start_lock` held."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ledger-group-commit", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Commit what is queued, then stop; later submissions are refused."""
        with self._start_lock:
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
            self._commit(group)
            if stop:
                return

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        """`first` and whatever else is waiting (smart batching: what queued up during the previous
        commit goes into this one). A submission that finds itself alone waits once, at most `window_s`,
        for company; under load groups fill without waiting. Returns the group and whether to stop."""
        group, size, waited = [first], len(first[0]), False
        while size < self._max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if waited or len(group) > 1 or self._window_s <= 0:
                    break
                waited = True
                try:
                    item = self._queue.get(timeout=self._window_s)
                except queue.Empty:
                    break
            if item is None:
                return group, True
            if size + len(item[0]) > self._max:
                self._carry = item  # opens the next group
                break
            group.append(item)
            size += len(item[0])
        return group, False

    def _commit(self, group: list[_Item]) -> None:
        batch = [r for requests, _ in group for r in requests]
        try:
            results = self._post_batch(batch)
        except Exception as exc:
            if len(group) == 1:  # the caller learns of the failure; nothing is swallowed
                log.exception("ledger.group_commit_failed", transfers=len(batch))
                group[0][1].set_exception(exc)
                return
            # One submission may be what the database refused: post each on its own, so that only its
            # caller sees the error (the others' ids are still unused, or answer `exists` if they landed).
            log.warning("ledger.group_commit_split", submissions=len(group), error=type(exc).__name__)
            for item in group:
                self._commit([item])
            return
        self.batches += 1
        self.transfers += len(batch)
        start = 0
        for requests, future in group:
            future.set_result(results[start:start + len(requests)])
            start += len(requests)

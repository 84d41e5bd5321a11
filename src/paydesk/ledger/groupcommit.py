"""Group commit: single transfers from many concurrent callers share one database transaction.

Each caller hands its transfers (one chain, or a few) to `GroupCommitter.submit`; the batcher posts what
waits as one ledger batch and hands each caller its own results. Chains never cross callers: a submission
whose last transfer is still `linked` is refused before it joins a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from paydesk.core.batching import Batcher
from paydesk.core.errors import InvalidRequest
from paydesk.ledger.domain import Result, TransferRequest

PostBatch = Callable[[Sequence[TransferRequest]], list[Result]]


class GroupCommitter:
    def __init__(self, post_batch: PostBatch, *, window_s: float = 0.002, max_transfers: int = 4096) -> None:
        self._post_batch = post_batch
        self._transfers = 0
        self._batcher: Batcher[Sequence[TransferRequest], list[Result]] = Batcher(
            "ledger", self._post, size_of=len, window_s=window_s, max_size=max_transfers,
        )

    @property
    def batches(self) -> int:
        return self._batcher.batches

    @property
    def transfers(self) -> int:
        return self._transfers

    def submit(self, requests: Sequence[TransferRequest], timeout: float | None = 30.0) -> list[Result]:
        """Post `requests` in the next group; returns their results in order."""
        if not requests:
            return []
        if requests[-1].linked:
            raise InvalidRequest("the last transfer of a submission must close its chain (linked=false)")
        if len(requests) > self._batcher.max_size:
            raise InvalidRequest(f"at most {self._batcher.max_size} transfers in one submission")
        return self._batcher.submit(requests, timeout)

    def close(self) -> None:
        self._batcher.close()

    def _post(self, submissions: Sequence[Sequence[TransferRequest]]) -> list[list[Result]]:
        results = self._post_batch([r for requests in submissions for r in requests])
        self._transfers += len(results)
        out, start = [], 0
        for requests in submissions:
            out.append(results[start:start + len(requests)])
            start += len(requests)
        return out

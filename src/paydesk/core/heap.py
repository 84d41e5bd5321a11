"""The garbage collector's policy for a serving process.

CPython's cycle collector pauses the whole process while it walks the objects of the generations it collects.
A full collection walks everything not frozen: with a thousand chat sockets open that is several hundred
thousand objects, a pause of tens to a hundred milliseconds that every message in flight waits out
(bench/chat_fanout.py measured 98 ms). So a serving process keeps what has lived a while out of sight:

- at start, everything alive (modules, tables, routes) is frozen (`gc.freeze`: never walked again);
- every `freeze_every_s` (a second) the young generations are collected and what survived them is frozen too
  (open connections, caches), so automatic collections only ever walk what the last second made. It must be
  that short: every socket re-creates its waiting state (coroutines, futures) with each message it handles,
  so with a thousand sockets ten seconds left 5,000–16,000 young survivors, and the automatic collection that
  walked them paused a message 1.5–9 ms (one second's: about 1,500 objects);
- between turns, the automatic collector waits for `young_threshold` new objects (CPython's default is 700):
  at a hundred chat messages a second the default ran a young collection (0.3 ms) every 60 ms, in the middle
  of some message's handling since allocating is what triggers it, and every tenth took in the middle
  generation too (1.5 ms): one message in sixty waited that out, the bench's slowest one per cent. The turn
  collects the young generations anyway; the threshold only keeps a burst from growing them without bound
  between two turns;
- a turn that found no garbage in its collection freezes without collecting for the next
  `quiet_turns` turns: steady chat traffic makes no cycles (every collection of the bench's steady state
  found none), and each collection paused the process 0.5–3 ms once a second. A cycle that dies in those
  turns is frozen with the rest and reclaimed by the next full collection; a collection that finds garbage
  (sockets opening and closing) brings back one every turn;
- every `full_every_s` everything is thawed and collected once, which reclaims cycles that died while frozen
  (closed connections): memory stays bounded by that long's churn, for one full pause in that time instead of
  one each time the heap has grown by a quarter.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class HeapKeeper:
    def __init__(self, *, freeze_every_s: float = 1.0, full_every_s: float = 600.0, young_threshold: int = 20_000,
                 quiet_turns: int = 9, clock: Callable[[], float] = time.monotonic) -> None:
        self.freeze_every_s, self.full_every_s, self.clock = freeze_every_s, full_every_s, clock
        self.young_threshold, self.quiet_turns = young_threshold, quiet_turns
        self.last_full = clock()
        self._skip = 0  # turns left that only freeze
        self._thresholds: tuple[int, int, int] | None = None  # the collector's own, while this one keeps the heap

    def settle(self) -> None:
        """Once the app is built: collect, then freeze what is alive (and raise the young threshold)."""
        gc.collect()
        gc.freeze()
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            gc.set_threshold(self.young_threshold, *self._thresholds[1:])
        self.last_full = self.clock()

    def release(self) -> None:
        """Give the collector its thresholds back and thaw what was frozen (at shutdown)."""
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        gc.unfreeze()

    def tick(self) -> str:
        """One turn of the policy: "full" (thaw, collect everything, freeze) when one is due, else "freeze"
        (collect the young generations, freeze their survivors), or "quiet" (freeze only: the last collection
        found no garbage)."""
        if self.clock() - self.last_full >= self.full_every_s:
            started = time.perf_counter()
            gc.unfreeze()
            self.settle()
            self._skip = 0
            log.info("heap.full_collection", ms=round((time.perf_counter() - started) * 1000, 1),
                     frozen=gc.get_freeze_count())
            return "full"
        if self._skip > 0:
            self._skip -= 1
            gc.freeze()
            return "quiet"
        found = gc.collect(1)
        gc.freeze()
        self._skip = 0 if found else self.quiet_turns
        return "freeze"

    async def run(self) -> None:
        """Tick every `freeze_every_s` on the event loop (a collection pauses every thread anyway)."""
        while True:
            await asyncio.sleep(self.freeze_every_s)
            try:
                self.tick()
            except Exception:  # pragma: no cover - gc raises nothing documented; the policy must not stop
                log.exception("heap.tick_failed")

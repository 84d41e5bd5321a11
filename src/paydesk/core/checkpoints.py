"""SQLite's write-ahead log, copied back into the database file by a thread of its own (core/db.py starts
one beside every file database)."""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import Engine

log = structlog.get_logger(__name__)


class WalCheckpointer:
    """SQLite: copies the write-ahead log back into the database file from a thread of its own every
    `every_s`, instead of inside whichever commit crosses 1,000 pages of log (that commit took 5–7 ms longer,
    and a chat message or a payment waited on it). A first PASSIVE pass copies what is there without waiting
    for anyone; the log is reused from its start only when a writer starts with nothing left to copy, which
    steady writes prevent (one is always mid-transaction as the pass ends), so once the log holds more than
    `catch_up_frames` a second pass copies the few new frames holding the process's write lock. Commits still
    checkpoint themselves past `BACKSTOP_PAGES` (the thread stuck, or writers in another process)."""

    BACKSTOP_PAGES = 10_000

    def __init__(self, engine: Engine, write_lock: threading.RLock | None, every_s: float = 0.5,
                 catch_up_frames: int = 1000) -> None:
        self._engine, self._lock, self._every_s, self._catch_up = engine, write_lock, every_s, catch_up_frames
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def checkpoint(self) -> tuple[int, int, int]:
        """(busy, frames in the log, frames checkpointed) after this turn."""
        busy, frames, done = self._passive()
        if frames > self._catch_up and self._lock is not None:
            # Writers kept adding frames meanwhile, and one was surely mid-transaction as the pass ended, so
            # the log won't rewind by itself: copy the few new frames with this process's writers held back.
            with self._lock:
                busy, frames, done = self._passive()
        return busy, frames, done

    def _passive(self) -> tuple[int, int, int]:
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            busy, frames, done = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        return int(busy), int(frames), int(done)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.checkpoint()
            except Exception:  # the next turn tries again; commits' backstop bounds the log meanwhile
                log.warning("sqlite.checkpoint_failed", exc_info=True)

    def close(self) -> bool:
        """Stop the thread; whether it has stopped."""
        self._stop.set()
        self._thread.join(timeout=40)
        return not self._thread.is_alive()

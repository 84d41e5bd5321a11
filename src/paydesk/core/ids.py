"""UUIDv7 identifiers (RFC 9562): sortable by creation time, monotonic within one process."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7. Within one millisecond the 12-bit `rand_a` field counts up (RFC 9562 method 1),
    so ids made by one process sort in the order they were made."""
    global _last_ms, _counter
    random = int.from_bytes(os.urandom(10), "big")  # 62 bits of rand_b, and a counter's start (one system call)
    with _lock:
        ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                ms += 1
                _counter = 0
        else:
            _counter = (random >> 64) & 0x3FF  # leave room to count up
        _last_ms = ms
        counter = _counter
    rand_b = random & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_time_ms(value: uuid.UUID) -> int:
    """The Unix time in milliseconds a UUIDv7 was made at."""
    if value.version != 7:
        raise ValueError("not a UUIDv7")
    return value.int >> 80

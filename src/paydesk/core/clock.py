"""Time, as a dependency: the system clock in production, a controllable one in tests."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware time")
        with self._lock:
            self._now = moment.astimezone(UTC)


# What an operator may date something (a promotion, a fee schedule, a set of rates): anything outside these
# years is a typo, and near year 1 or 9999 a time zone would carry it out of what a datetime can hold.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def in_range(moment: datetime) -> bool:
    """Whether a timezone-aware time lies in the years 2000–2999 (UTC)."""
    try:
        return EARLIEST <= moment.astimezone(UTC) < LATEST
    except OverflowError:  # year 1 or 9999 shifted past the end of the calendar by its offset
        return False


def clamp_day(day: date) -> date:
    """A day asked for in a query (a report's, a statement's), brought within the years 2000–2999."""
    return min(max(day, EARLIEST.date()), LATEST.date() - timedelta(days=1))

"""The fee schedule in force at a moment, publishing a new version, and charging an operation."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from paydesk.core.clock import Clock, in_range
from paydesk.core.db import Database
from paydesk.core.errors import Conflict
from paydesk.core.money import Currencies, Currency
from paydesk.fees import store
from paydesk.fees.domain import Charge, InvalidSchedule, Schedule, charge, parse_rules

DEFAULT_VERSION = 1
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CACHE_S = 5.0  # other processes' new versions are seen within this (they take effect later anyway)


def default_rules() -> dict[str, Any]:
    """The shipped schedule (fees/data/default_schedule.json): version 1, in force until an operator publishes."""
    data: dict[str, Any] = json.loads(resources.files("paydesk.fees").joinpath("data/default_schedule.json")
                                      .read_text(encoding="utf-8"))
    return data


class FeeService:
    def __init__(self, db: Database, clock: Clock, currencies: Currencies, methods: list[str]) -> None:
        self.db, self.clock, self.currencies, self.methods = db, clock, currencies, methods
        shipped = default_rules()
        self.default = Schedule(DEFAULT_VERSION, EPOCH, parse_rules(shipped["rules"], currencies, methods),
                                shipped.get("note", ""))
        self._cache: tuple[float, list[Schedule]] | None = None
        self._lock = threading.Lock()

    def schedules(self) -> list[Schedule]:
        """Every version, oldest first (the shipped default is version 1 unless stored otherwise)."""
        with self._lock:
            if self._cache is not None and time.monotonic() - self._cache[0] < CACHE_S:
                return self._cache[1]
        with self.db.reader() as uow:
            rows = store.schedules(uow.session)
        found = {r.version: Schedule(r.version, r.effective_at, parse_rules(r.rules, self.currencies, self.methods),
                                     r.note) for r in rows}
        found.setdefault(DEFAULT_VERSION, self.default)
        versions = [found[v] for v in sorted(found)]
        with self._lock:
            self._cache = (time.monotonic(), versions)
        return versions

    def schedule_at(self, at: datetime | None = None) -> Schedule:
        """The version in force at `at` (now by default): the newest that took effect by then."""
        moment = at or self.clock.now()
        live = [s for s in self.schedules() if s.effective_at <= moment]
        return max(live, key=lambda s: (s.effective_at, s.version)) if live else self.default

    def version(self, number: int) -> Schedule | None:
        return next((s for s in self.schedules() if s.version == number), None)

    def charge(self, operation: str, currency: Currency, amount: int, method: str | None = None,
               region: str | None = None) -> Charge:
        return charge(self.schedule_at(), currency, operation, amount, method, region)

    def publish(self, rules: object, effective_at: datetime, note: str = "", by: UUID | None = None) -> Schedule:
        """A new version that takes effect at `effective_at` (now or later: history is never rewritten)."""
        now = self.clock.now()
        if effective_at.tzinfo is None:
            raise InvalidSchedule("`effective_at` needs a time zone (for example 2026-12-01T00:00:00+00:00)")
        if not in_range(effective_at):
            raise InvalidSchedule("`effective_at` is in the years 2000 to 2999")
        if effective_at < now.replace(microsecond=0):
            raise InvalidSchedule("a new schedule takes effect now or later, never in the past")
        parsed = parse_rules(rules, self.currencies, self.methods)
        with self.db.uow() as uow:
            number = max(store.latest_version(uow.session), DEFAULT_VERSION) + 1
            uow.session.add(store.FeeScheduleRow(
                version=number, effective_at=effective_at, rules=[r.to_json(self.currencies) for r in parsed],
                note=note[:300], created_at=now, created_by=by,
            ))
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict("another version was published at the same moment; look again and retry") from None
        with self._lock:
            self._cache = None
        return Schedule(number, effective_at, parsed, note)

    def as_json(self, schedule: Schedule) -> dict[str, Any]:
        return {"version": schedule.version, "effective_at": schedule.effective_at.isoformat(), "note": schedule.note,
                "rules": [r.to_json(self.currencies) for r in schedule.rules]}

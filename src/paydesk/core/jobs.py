"""The in-process job runner: periodic tasks on a background thread (`paydesk serve` without
`--no-jobs`, or `paydesk worker`). A task that raises is logged with its traceback and tried again at its
next tick; it never takes the runner down silently."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodicTask:
    name: str
    interval_s: float
    run: Callable[[], object]


class JobRunner:
    def __init__(self, tasks: list[PeriodicTask]) -> None:
        self.tasks = tasks
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failures: dict[str, int] = {t.name: 0 for t in tasks}

    def start(self) -> None:
        for task in self.tasks:
            thread = threading.Thread(target=self._loop, args=(task,), name=f"job-{task.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def run_forever(self) -> None:
        self.start()
        self._stop.wait()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def _loop(self, task: PeriodicTask) -> None:
        while not self._stop.wait(task.interval_s):
            try:
                task.run()
            except Exception:
                self.failures[task.name] += 1
                log.exception("job.failed", job=task.name, failures=self.failures[task.name])

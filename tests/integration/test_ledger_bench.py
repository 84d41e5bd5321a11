"""The benchmark harness itself: it runs every scenario on scratch storage, reports a same-run baseline and
leaves a ledger that passes the check."""

from __future__ import annotations

import io
import json

import pytest

from paydesk.ledger.bench import run_benchmarks
from tests.conftest import PG_URL

URLS = [pytest.param("sqlite://", id="sqlite")]
if PG_URL:
    URLS.append(pytest.param(PG_URL, id="postgresql", marks=pytest.mark.postgres))


@pytest.mark.parametrize("url", URLS)
def test_every_scenario_prints_a_ratio_to_its_baseline(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_BENCH_PGBENCH_SECONDS", "1")
    out = io.StringIO()
    lines = run_benchmarks(url, scenarios=None, transfers=3_000, accounts=200, out=out)
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert printed == lines
    by_name = {line["scenario"]: line for line in printed}
    assert set(by_name) == {"uniform", "hot_accounts", "group_commit", "check"}
    for name in ("uniform", "hot_accounts", "group_commit"):
        line = by_name[name]
        assert {"scenario", "backend", "transfers", "seconds", "transfers_per_s", "baseline", "baseline_per_s",
                "ratio"} <= line.keys()
        assert line["backend"] == ("sqlite" if url.startswith("sqlite") else "postgresql")
        assert line["transfers_per_s"] > 0 and line["baseline_per_s"] > 0 and line["failed"] == 0
        assert abs(line["ratio"] - line["transfers_per_s"] / line["baseline_per_s"]) < 0.011
    assert by_name["check"]["check"] == "passed"
    assert by_name["group_commit"]["avg_batch"] > 1  # callers really shared commits

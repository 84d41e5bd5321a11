"""`paydesk bench ledger`: post transfers among many accounts and compare with a baseline from the same run.

Every run works on scratch storage, never on the database the URL names: a fresh SQLite file in a temp
dir, or a fresh `paydesk_bench_<pid>` database on the same PostgreSQL server, dropped at the end. Each
scenario prints one JSON line; its `ratio` is its transfers per second over the baseline's:
- PostgreSQL: `pgbench` TPC-B (scale 10, 8 clients) on the scratch database, run once per run;
- SQLite: a naive ledger in plain sqlite3, one transfer per transaction, with the same pragmas.
A final `check` line reports the ledger's invariants after all scenarios (and the run fails if any breaks).
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from paydesk.core.clock import SystemClock
from paydesk.core.db import Database
from paydesk.core.ids import uuid7
from paydesk.core.migrate import upgrade
from paydesk.core.money import Currencies
from paydesk.ledger import store
from paydesk.ledger.domain import AccountFlags, Result, TransferRequest
from paydesk.ledger.groupcommit import GroupCommitter
from paydesk.ledger.service import LedgerService

SCENARIOS = ("uniform", "hot_accounts", "group_commit")
BATCH_SIZE = 8190  # TigerBeetle's largest request batch
CURRENCY = "USD"
FUNDING = 10**9  # minor units per account; transfers move 1..100, so almost none can fail
HOT_ACCOUNTS = 10
HOT_SHARE = 0.8
THREADS = 32
SEED = 20260105
Line = dict[str, Any]


@dataclass(slots=True)
class Bench:
    ledger: LedgerService
    backend: str
    accounts: list[UUID]
    baseline: str
    baseline_per_s: float

    def line(self, scenario: str, transfers: int, seconds: float, **extra: Any) -> Line:
        per_s = transfers / seconds if seconds > 0 else 0.0
        ratio = per_s / self.baseline_per_s if self.baseline_per_s > 0 else 0.0
        return {
            "scenario": scenario, "backend": self.backend, "transfers": transfers,
            "seconds": round(seconds, 3), "transfers_per_s": round(per_s, 1), "baseline": self.baseline,
            "baseline_per_s": round(self.baseline_per_s, 1), "ratio": round(ratio, 2), **extra,
        }


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret


def _transfer(rng: random.Random, accounts: list[UUID], hot: list[UUID] | None = None) -> TransferRequest:
    """A small direct transfer between two distinct accounts; with `hot`, 80% touch a hot account."""
    if hot is not None and rng.random() < HOT_SHARE:
        debit, credit = rng.choice(hot), rng.choice(accounts)
        if rng.random() < 0.5:
            debit, credit = credit, debit
    else:
        debit, credit = rng.choice(accounts), rng.choice(accounts)
    while debit == credit:
        credit = rng.choice(accounts)
    return TransferRequest(uuid7(), debit, credit, rng.randint(1, 100), CURRENCY, code="bench")


def _failed(results: list[Result]) -> int:
    return sum(1 for r in results if r is not Result.OK)


# --- scenarios --------------------------------------------------------------------------------------------

def _batched(bench: Bench, scenario: str, transfers: int, hot: list[UUID] | None) -> Line:
    """Batches of BATCH_SIZE transfers, one database transaction each; only `post` is timed."""
    rng = _rng(SEED + len(scenario))
    seconds, failed, done = 0.0, 0, 0
    while done < transfers:
        batch = [_transfer(rng, bench.accounts, hot) for _ in range(min(BATCH_SIZE, transfers - done))]
        start = time.perf_counter()
        results = bench.ledger.post(batch)
        seconds += time.perf_counter() - start
        failed += _failed(results)
        done += len(batch)
    return bench.line(scenario, done, seconds, batch_size=BATCH_SIZE, failed=failed)


def uniform(bench: Bench, transfers: int) -> Line:
    return _batched(bench, "uniform", transfers, None)


def hot_accounts(bench: Bench, transfers: int) -> Line:
    return _batched(bench, "hot_accounts", transfers, bench.accounts[:HOT_ACCOUNTS])


def group_commit(bench: Bench, transfers: int) -> Line:
    """THREADS callers each submit single transfers to one shared GroupCommitter."""
    per_thread = max(transfers // 10, 3200) // THREADS
    work = [[_transfer(_rng(SEED + i), bench.accounts) for _ in range(per_thread)] for i in range(THREADS)]
    committer = GroupCommitter(bench.ledger.post, window_s=0.002, max_transfers=4096)
    failed = [0] * THREADS
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS + 1)

    def caller(i: int) -> None:
        barrier.wait()
        try:
            for request in work[i]:
                failed[i] += _failed(committer.submit([request]))
        except Exception as exc:  # re-raised by the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i,), name=f"bench-caller-{i}") for i in range(THREADS)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    committer.close()
    if errors:
        raise errors[0]
    done = per_thread * THREADS
    return bench.line(
        "group_commit", done, seconds, batch_size=1, failed=sum(failed), threads=THREADS,
        batches=committer.batches, avg_batch=round(committer.transfers / max(committer.batches, 1), 1),
    )


RUNNERS: dict[str, Callable[[Bench, int], Line]] = {
    "uniform": uniform, "hot_accounts": hot_accounts, "group_commit": group_commit,
}


# --- baselines --------------------------------------------------------------------------------------------

def pgbench_baseline(url: str) -> tuple[str, float]:
    """TPC-B transactions per second from `pgbench` on the scratch database."""
    u = make_url(url)
    seconds = os.environ.get("PAYDESK_BENCH_PGBENCH_SECONDS", "15")
    conn = ["-h", u.host or "localhost", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    env = {**os.environ, "PGPASSWORD": u.password} if u.password else None
    database = u.database or "postgres"
    # Fixed argv (no shell); pgbench is the PostgreSQL client tool found on PATH.
    subprocess.run(["pgbench", "-i", "-q", "-s", "10", *conn, database],  # noqa: S603, S607
                   check=True, capture_output=True, env=env)
    done = subprocess.run(["pgbench", "-c", "8", "-j", "2", "-T", seconds, *conn, database],  # noqa: S603, S607
                          check=True, capture_output=True, text=True, env=env)
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output: {done.stdout[-500:]!r}")
    return f"pgbench_tpcb_s10_c8_{seconds}s", float(found.group(1))


def sqlite_naive_baseline(
    path: Path, accounts: int, seconds: float = 2.0, at_least: int = 5000,
) -> tuple[str, float]:
    """Transfers per second of a naive ledger: one transfer per transaction, checked and written by hand."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        conn.execute("CREATE TABLE transfers (id TEXT PRIMARY KEY, debit_id INTEGER NOT NULL, "
                     "credit_id INTEGER NOT NULL, amount INTEGER NOT NULL, created_at TEXT NOT NULL)")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO accounts VALUES (?, ?)", ((i, FUNDING) for i in range(accounts)))
        conn.execute("COMMIT")
        rng, done, clock = _rng(SEED), 0, SystemClock()
        start = time.perf_counter()
        while done < at_least or time.perf_counter() - start < seconds:
            _naive_transfer(conn, rng.sample(range(accounts), 2), rng.randint(1, 100), clock.now())
            done += 1
        return "sqlite_naive_one_per_txn", done / (time.perf_counter() - start)
    finally:
        conn.close()


def _naive_transfer(conn: sqlite3.Connection, pair: list[int], amount: int, now: datetime) -> None:
    debit, credit = pair
    conn.execute("BEGIN IMMEDIATE")
    found = conn.execute("SELECT id, balance FROM accounts WHERE id IN (?, ?)", (debit, credit))
    balances = dict(found.fetchall())
    if len(balances) != 2 or balances[debit] < amount:
        conn.execute("ROLLBACK")
        return
    conn.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, debit))
    conn.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, credit))
    conn.execute("INSERT INTO transfers VALUES (?, ?, ?, ?, ?)",
                 (uuid7().hex, debit, credit, amount, now.isoformat()))
    conn.execute("COMMIT")


# --- setup ------------------------------------------------------------------------------------------------

@contextmanager
def scratch_database(database_url: str, *, keep: bool = False) -> Iterator[tuple[str, str]]:
    """(backend, url) of fresh, empty storage next to `database_url`, removed afterwards unless `keep`."""
    if database_url.startswith("sqlite"):
        if keep:
            yield "sqlite", f"sqlite:///{tempfile.mkdtemp(prefix='paydesk-bench-')}/bench.db"
            return
        with tempfile.TemporaryDirectory(prefix="paydesk-bench-") as tmp:
            yield "sqlite", f"sqlite:///{tmp}/bench.db"
        return
    url = make_url(database_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    scratch = f"paydesk_bench_{os.getpid()}"
    name = sql.Identifier(scratch)
    _drop(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield "postgresql", url.set(database=scratch).render_as_string(hide_password=False)
    finally:
        if not keep:
            _drop(admin, name)


def _drop(admin: str, name: sql.Identifier) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def open_accounts(ledger: LedgerService, count: int) -> list[UUID]:
    """`count` limited user accounts opened in one transaction, funded from one unlimited bank account."""
    now = ledger.clock.now()
    bank, ids = uuid7(), [uuid7() for _ in range(count)]
    rows = [_account_row(bank, "bench", "bank", AccountFlags.NONE, now)] + [
        _account_row(a, f"bench-user-{i}", "wallet", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, now)
        for i, a in enumerate(ids)
    ]
    with ledger.db.transaction() as session:
        store.insert_accounts(session, rows)
    funding = [TransferRequest(uuid7(), bank, a, FUNDING, CURRENCY, "bench_funding") for a in ids]
    results = ledger.post(funding)
    if _failed(results):
        raise RuntimeError(f"funding failed: {sorted({r.value for r in results if r is not Result.OK})}")
    return ids


def _account_row(account_id: UUID, owner: str, code: str, flags: AccountFlags, now: datetime) -> Line:
    return {
        "id": account_id, "owner": owner, "code": code, "currency": CURRENCY, "flags": int(flags),
        "debits_pending": 0, "debits_posted": 0, "credits_pending": 0, "credits_posted": 0, "entry_seq": 0,
        "created_at": now,
    }


def _check(bench: Bench) -> Line:
    problems = bench.ledger.check()
    line: Line = {"scenario": "check", "backend": bench.backend,
                  "check": "failed" if problems else "passed", "problems": len(problems)}
    if problems:
        line["first_problems"] = [f"{p.invariant}: {p.detail}" for p in problems[:5]]
    return line


def _emit(out: TextIO, line: Line) -> Line:
    out.write(json.dumps(line) + "\n")
    out.flush()
    return line


def run_benchmarks(
    database_url: str, *, scenarios: list[str] | None, transfers: int, accounts: int, out: TextIO,
    keep: bool = False,
) -> list[Line]:
    """Run `scenarios` (all by default) on scratch storage next to `database_url`; one JSON line each."""
    chosen = scenarios or list(SCENARIOS)
    unknown = [s for s in chosen if s not in RUNNERS]
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    lines: list[Line] = []
    with scratch_database(database_url, keep=keep) as (backend, url):
        upgrade(url)
        if backend == "postgresql":
            baseline, baseline_per_s = pgbench_baseline(url)
        else:
            baseline, baseline_per_s = sqlite_naive_baseline(Path(url.split("///", 1)[1]).parent / "naive.db",
                                                             accounts)
        db = Database(url)
        try:
            ledger = LedgerService(db, SystemClock(), Currencies())
            bench = Bench(ledger, backend, open_accounts(ledger, accounts), baseline, baseline_per_s)
            lines.extend(_emit(out, RUNNERS[name](bench, transfers)) for name in chosen)
            lines.append(_emit(out, _check(bench)))
            if keep:  # so that `PAYDESK_DATABASE_URL=<url> paydesk ledger check` can be run on the result
                _emit(out, {"scenario": "kept", "backend": backend, "database_url": url})
        finally:
            db.dispose()
    if lines[-1]["problems"]:
        raise RuntimeError(f"ledger check failed on {lines[-1]['backend']}: {lines[-1]['problems']} problems")
    return lines

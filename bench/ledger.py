"""Ledger benchmark: SQLite (a temp file) always, PostgreSQL too when PAYDESK_TEST_DATABASE_URL is set.

    .venv/bin/python bench/ledger.py [--transfers N] [--accounts N] [--scenario NAME ...]

Prints one JSON line per scenario and backend (see paydesk.ledger.bench). On PostgreSQL the run uses a
scratch database on the same server; PAYDESK_BENCH_PGBENCH_SECONDS shortens the pgbench baseline.
"""

from __future__ import annotations

import argparse
import os
import sys

from paydesk.ledger.bench import SCENARIOS, run_benchmarks


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--transfers", type=int, default=200_000, help="transfers per scenario")
    parser.add_argument("--accounts", type=int, default=10_000, help="ledger accounts")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="repeat to pick several")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases and print their URLs")
    args = parser.parse_args()
    urls = ["sqlite://"]
    postgres = os.environ.get("PAYDESK_TEST_DATABASE_URL")
    if postgres:
        urls.append(postgres)
    for url in urls:
        run_benchmarks(url, scenarios=args.scenario, transfers=args.transfers, accounts=args.accounts,
                       out=sys.stdout, keep=args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

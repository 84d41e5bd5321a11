"""P2P transfers through the real server: N concurrent HTTP clients (default 64) against `paydesk serve`
(uvicorn) on PostgreSQL for a fixed time, with pgbench TPC-B (8 clients) against the same server measured in
the same run. Prints one JSON line.

    PAYDESK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/api_transfers.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx2 as httpx

from paydesk.core.migrate import upgrade
from paydesk.ledger.bench import pgbench_baseline, scratch_database

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench passphrase 2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def setup_users(http: httpx.AsyncClient, count: int) -> list[tuple[str, str]]:
    """(email, token) for `count` people, each topped up with 1,000,000 USD."""
    async def one(i: int) -> tuple[str, str]:
        email = f"bench{i}-{uuid.uuid4().hex[:6]}@example.com"
        assert (await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})).is_success
        token = (await http.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD})).json()[
            "access_token"]
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"fund-{i}"}
        funded = await http.post("/api/v1/deposits", headers=headers,
                                 json={"currency": "USD", "amount": "1000000", "method": "bank_domestic"})
        assert funded.status_code == 201, funded.text
        return email, token

    people = []
    for start in range(0, count, 8):  # Argon2 is deliberately slow: a few at a time
        people += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 8))))
    return people


async def drive(base: str, clients: int, seconds: float) -> dict[str, float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        people = await setup_users(http, clients)
        latencies: list[float] = []
        errors = 0
        deadline = time.monotonic() + seconds

        async def client(i: int) -> None:
            nonlocal errors
            rng = random.Random(i)
            _, token = people[i]
            while time.monotonic() < deadline:
                to = people[rng.randrange(len(people))][0]
                if to == people[i][0]:
                    continue
                started = time.perf_counter()
                response = await http.post("/api/v1/transfers", json={"to": to, "currency": "USD", "amount": "0.01"},
                                           headers={"Authorization": f"Bearer {token}",
                                                    "Idempotency-Key": uuid.uuid4().hex})
                latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {"transfers": len(ordered) - errors, "errors": errors, "seconds": round(elapsed, 2),
            "transfers_per_s": round((len(ordered) - errors) / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    args = parser.parse_args()
    url = os.environ.get("PAYDESK_TEST_DATABASE_URL") or os.environ.get("PAYDESK_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        print("set PAYDESK_TEST_DATABASE_URL to a PostgreSQL server", file=sys.stderr)
        return 2
    with scratch_database(url) as (_, scratch):
        upgrade(scratch)
        baseline, pgbench_tps = pgbench_baseline(scratch)
        port = free_port()
        env = {**os.environ, "PAYDESK_DATABASE_URL": scratch, "PAYDESK_ENV": "production",
               "PAYDESK_SECRET_KEY": uuid.uuid4().hex * 2, "PAYDESK_DB_POOL_SIZE": "20",
               # every payment still passes the exemption check (one UPDATE), but none stops for a code
               "PAYDESK_STEP_UP_COUNT": "1000000000", "PAYDESK_STEP_UP_CUMULATIVE_EUR": "1000000000"}
        log = open(os.environ.get("PAYDESK_BENCH_SERVER_LOG", os.devnull), "wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "paydesk.cli", "serve", "--no-jobs", "--workers", str(args.workers),
             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            result = asyncio.run(drive(base, args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    line = {"scenario": "api_p2p_transfers", "backend": "postgresql", "clients": args.clients, **result,
            "baseline": baseline, "pgbench_tps": round(pgbench_tps, 1),
            "ratio": round(result["transfers_per_s"] / pgbench_tps, 2)}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

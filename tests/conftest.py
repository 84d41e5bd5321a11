"""Shared fixtures. Database tests run on SQLite always and on PostgreSQL whenever
PAYDESK_TEST_DATABASE_URL is set — and then they fail, never skip, if it cannot be reached."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from paydesk.config import Settings
from paydesk.core.clock import FrozenClock
from paydesk.core.db import Database
from paydesk.core.migrate import upgrade
from paydesk.core.money import Currencies
from paydesk.ledger.service import LedgerService

PG_URL = os.environ.get("PAYDESK_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("PAYDESK_TEST_REDIS_URL")
# Children before parents, so that DELETE in this order works too.
TABLES = (
    "ledger_failures", "ledger_transfers", "ledger_accounts", "outbox", "rail_events", "idempotency_keys",
    "wallet_transactions", "wallets", "user_sessions", "login_failures", "password_reset_requests", "password_resets",
    "recovery_codes",
    "security_events", "step_up_challenges", "wallet_destinations", "quotes", "fee_schedules", "fx_rates",
    "promotion_redemptions", "promotions", "support_attachments", "support_messages", "support_conversations",
    "support_contacts",
    "support_agents", "support_canned", "help_votes", "help_revisions", "help_postings", "help_misses",
    "help_articles", "users",
)

BACKENDS = [pytest.param("sqlite", id="sqlite")]
if PG_URL:
    BACKENDS.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))


def _admin_conninfo(url: str) -> str:
    u = make_url(url)
    return f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} dbname={u.database}"


@contextmanager
def scratch_pg_database() -> Iterator[str]:
    """An empty PostgreSQL database of its own (not migrated), dropped afterwards; yields its URL."""
    assert PG_URL, "only requested when PAYDESK_TEST_DATABASE_URL is set"
    name = f"paydesk_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_admin_conninfo(PG_URL), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_conninfo(PG_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A scratch PostgreSQL database for this test run, migrated once, dropped at the end."""
    with scratch_pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once per session."""
    path = tmp_path_factory.mktemp("template") / "paydesk.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database of each configured backend."""
    if request.param == "sqlite":
        target = tmp_path / "paydesk.db"
        shutil.copy(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    yield url


def _truncate(url: str) -> None:
    with psycopg.connect(_admin_conninfo(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)}")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url, pool_size=40)
    yield db
    db.dispose()


@pytest.fixture
def ledger(database: Database, clock: FrozenClock) -> LedgerService:
    return LedgerService(database, clock, Currencies())


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(env="test", secret_key="t" * 48, database_url=db_url, expiry_interval_s=0.05,
                    blob_dir=tmp_path / "blobs")


@contextmanager
def own_redis(*options: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of the test's own on a free loopback port (stopped and resumed at will), started with
    `options` besides; yields its URL and its process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(shutil.which("redis-server")), "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", *options], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.send_signal(signal.SIGCONT)
        server.terminate()
        server.wait(timeout=10)

"""Database engines (SQLite with WAL, PostgreSQL via psycopg 3) and the unit of work.

A service function opens one `UnitOfWork`, does its whole use case and commits once. Stores take the
session and never commit.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, LargeBinary, MetaData, String, Uuid, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.expression import Insert
from sqlalchemy.types import TypeDecorator

from paydesk.core.checkpoints import WalCheckpointer
from paydesk.core.writers import NoWaitWriters, Writer, WriterBusy

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


T = TypeVar("T")
READ_ONLY = "paydesk_read_only"
INT32_MAX = 2**31 - 1  # the largest value an Integer column holds on PostgreSQL
BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for another process's write to end


def sqlite_time(moment: datetime) -> str:
    """How a UTC time is stored in SQLite: fixed-width ISO 8601 (`2026-12-05T06:35:26.444659+00:00`, the
    microseconds always written), so text order is time order. (isoformat: half strftime's cost, on every
    write of a chat message.)"""
    return (moment if moment.tzinfo is UTC else moment.astimezone(UTC)).isoformat(timespec="microseconds")


class UUIDType(TypeDecorator[uuid.UUID]):
    """UUIDs as native `uuid` on PostgreSQL and as 16-byte blobs on SQLite (half the size of hex text, so
    smaller indexes)."""

    impl = Uuid
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(LargeBinary(16))
        return dialect.type_descriptor(Uuid())

    def process_bind_param(self, value: uuid.UUID | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return value.bytes

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:  # noqa: ARG002 - the API
        if value is None or isinstance(value, uuid.UUID):
            return value
        return uuid.UUID(bytes=bytes(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC everywhere: `timestamptz` on PostgreSQL, sortable ISO text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        return sqlite_time(value) if dialect.name == "sqlite" else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - the API
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        assert isinstance(value, datetime)  # noqa: S101 - psycopg returns datetimes for timestamptz
        return value.astimezone(UTC)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, own_checkpoints: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and `BEGIN IMMEDIATE` (and, with
    `own_checkpoints`, no checkpoints inside commits: a `WalCheckpointer` must run beside it)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo, own_checkpoints=own_checkpoints)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        # No pre-ping (a round trip per checkout): a connection the server dropped fails its request once and
        # is replaced; pool_recycle retires connections before common idle timeouts.
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
    )


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL; None for an in-memory database or another backend."""
    path = url.split("///", 1)[1] if url.startswith("sqlite") and "///" in url else ""
    return path if path and path != ":memory:" else None


def _sqlite_engine(url: str, *, echo: bool, own_checkpoints: bool, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                   **pool: Any) -> Engine:
    path = sqlite_file(url)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # LIFO: the pool hands out the connection used last. Writes come one at a time (the process's write lock),
    # so the writer keeps landing on the connection that made the last write, whose page cache is still good;
    # a connection that finds the database changed by another one drops its whole cache first.
    # (A memory database has one connection per thread: nothing to choose from.)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30},
                           **({"pool_use_lifo": True, **pool} if path else {}))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take over transaction control from the driver so that every transaction can BEGIN IMMEDIATE:
        # a writer then waits for the lock up front instead of failing on a read-to-write upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache per connection
        if own_checkpoints:
            cursor.execute(f"PRAGMA wal_autocheckpoint={WalCheckpointer.BACKSTOP_PAGES}")
        cursor.execute("PRAGMA journal_size_limit=67108864")  # a log that grew is cut back to 64 MiB on reuse
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers (Database.reader) take no lock: WAL lets them run beside the one writer.
        # Straight to the driver: SQLAlchemy's execution path costs more than the statement here, on every
        # transaction.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        try:
            connection.connection.driver_connection.execute(statement)
        except sqlite3.Error as exc:  # as SQLAlchemy's own execution would raise it (callers retry on those)
            raise DBAPIError.instance(statement, (), exc, sqlite3.Error, dialect=engine.dialect) from exc

    return engine


class UnitOfWork:
    """One transaction: `with uow: ...; uow.commit()`. Leaving without commit rolls back."""

    def __init__(self, factory: sessionmaker[Session], lock: threading.RLock | None = None) -> None:
        self._factory = factory
        self._session: Session | None = None
        self._lock = lock

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    def __enter__(self) -> UnitOfWork:
        if self._lock is not None:
            self._lock.acquire()
        self._session = self._factory()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            # Detach first: rows read here stay usable (as plain values) after the unit of work ends,
            # instead of being expired by the rollback that ends an uncommitted (or read-only) transaction.
            session.expunge_all()
            session.rollback()
        finally:
            session.close()
            if self._lock is not None:
                self._lock.release()

    def commit(self) -> None:
        self.session.commit()


class Database:
    """The engine and session factory the app, the CLI and the jobs share."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        own_checkpoints = sqlite_file(url) is not None
        self.engine = make_engine(url, pool_size=pool_size, own_checkpoints=own_checkpoints)
        # SQLite has one writer at a time. Writers of this process queue here, in order, instead of in SQLite's
        # busy handler, which sleeps in growing steps and turns contention into long tail latencies.
        self._write_lock = threading.RLock() if self.dialect == "sqlite" else None
        self.checkpointer = WalCheckpointer(self.engine, self._write_lock) if own_checkpoints else None
        # writer(wait=False)'s and sqlite_driver()'s own connection, with a busy timeout of 0: the shared pool may
        # be all taken, and another process's write must not be waited for.
        self._nowait = NoWaitWriters(_sqlite_engine(url, echo=False, own_checkpoints=True, busy_timeout_ms=0,
                                                    pool_size=1, max_overflow=0), self._write_lock) \
            if own_checkpoints and self._write_lock is not None else None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self._write_lock)

    @contextmanager
    def writer(self, *, wait: bool = True) -> Iterator[Writer]:
        """A `Writer` (holding this process's write lock on SQLite, as `uow` does). `wait=False` (SQLite only)
        raises WriterBusy at once where it would wait: for this process's lock, or for another process's
        write (its connection's busy timeout is 0)."""
        if not wait:
            with self._nowaiting().writer() as writer:
                yield writer
            return
        if self._write_lock is not None:
            self._write_lock.acquire()
        try:
            writer = Writer(self.engine.connect())
            try:
                writer.connection.begin()
                yield writer
            finally:
                writer.close()
        finally:
            if self._write_lock is not None:
                self._write_lock.release()

    def sqlite_driver(self) -> AbstractContextManager[sqlite3.Connection]:
        """`writer(wait=False)` without SQLAlchemy (core/writers.py): SQLite's own connection in BEGIN IMMEDIATE,
        for the chat message's direct write. The caller commits; WriterBusy where writer(wait=False) raises it."""
        return self._nowaiting().driver()

    def _nowaiting(self) -> NoWaitWriters:
        if self._nowait is None:
            raise WriterBusy()  # (no connection that never waits: a memory database, or PostgreSQL)
        return self._nowait

    def reader(self) -> UnitOfWork:
        """A unit of work that only reads: on SQLite it takes no write lock, so it never waits for (or
        holds up) a writer. Writing through it is a bug."""
        return UnitOfWork(self.read_sessions)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside a transaction that commits when the block ends without error."""
        with self.uow() as uow:
            yield uow.session
            uow.commit()

    def dispose(self) -> None:
        try:
            if self.checkpointer is not None and self.checkpointer.close():
                self.checkpointer.checkpoint()  # leave the file whole for whoever opens it next
        finally:
            self.engine.dispose()
            if self._nowait is not None:
                self._nowait.dispose()


def retry_on_conflict(attempt: Callable[[], T], tries: int = 3) -> T:
    """Run `attempt` again when a concurrent transaction wrote the same unique key first: the next run
    reads what that one committed (and replays or skips) instead of doing the work twice."""
    for n in range(1, tries + 1):
        try:
            return attempt()
        except IntegrityError:
            if n == tries:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def insert_ignoring_conflicts(dialect: str, table: Any) -> Insert:
    """`INSERT … ON CONFLICT DO NOTHING` (any unique constraint) for the session's dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()

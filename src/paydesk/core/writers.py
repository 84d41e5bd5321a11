"""Write transactions on a bare connection (`Writer`), and SQLite's writers that never wait (`NoWaitWriters`):
the event loop writes a chat message itself only when nothing would make it wait (support/messages.py)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session


class WriterBusy(Exception):
    """`Database.writer(wait=False)` found another writer at work (SQLite)."""


class Writer:
    """A write transaction on a bare connection, for a hot path that runs prepared statements
    (core/prepared.py) and skips the ORM's session. `session`, made on first use, joins the same transaction
    for the rarer work that needs the ORM. `commit()` writes both; leaving without it rolls back."""

    def __init__(self, connection: Connection, *, keep: bool = False) -> None:
        self.connection, self._keep = connection, keep  # keep: the connection outlives the writer
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = Session(bind=self.connection, join_transaction_mode="rollback_only",
                                    expire_on_commit=False)
        return self._session

    def commit(self) -> None:
        if self._session is not None:
            self._session.flush()
        self.connection.commit()

    def close(self) -> None:
        try:
            if self._session is not None:
                self._session.close()
        finally:
            if not self._keep:
                self.connection.close()  # rolls back what was not committed
            elif self.connection.in_transaction():
                self.connection.rollback()


class NoWaitWriters:
    """`Database.writer(wait=False)` and `Database.sqlite_driver()`: this process's write lock, taken only if free,
    and one connection of their own whose busy timeout is 0, kept open (checking one out of a pool and back
    cost a fifth of a chat message's write) and used only while the lock is held. WriterBusy wherever they
    would wait: for the lock, for another process's write, or for this thread's own writer."""

    def __init__(self, engine: Engine, write_lock: threading.RLock) -> None:
        self.engine, self._lock = engine, write_lock
        self.connection: Connection | None = None

    @contextmanager
    def _held(self) -> Iterator[Connection]:
        connection = self._take()
        try:
            yield connection
        finally:
            self._lock.release()

    @contextmanager
    def writer(self) -> Iterator[Writer]:
        with self._held() as connection:
            try:
                connection.begin()
            except OperationalError as exc:  # SQLITE_BUSY at once: another process is writing
                connection.rollback()
                raise WriterBusy() from exc
            writer, clean = Writer(connection, keep=True), False
            try:
                yield writer
                clean = True
            finally:
                writer.close()
                self._settle(clean)

    def driver(self) -> DriverTransaction:
        """SQLite's own connection, inside BEGIN IMMEDIATE, for the one hot path that speaks to the driver itself
        (a chat message: SQLAlchemy's transaction and statement layers cost as much there as SQLite's work).
        The caller commits; leaving without a commit, or by an error, rolls back. The driver's errors come out
        as SQLAlchemy's, as from its own execution (callers retry on those)."""
        return DriverTransaction(self)

    def _take(self) -> Connection:
        """`_held`'s entry, for a caller that releases the lock itself (`DriverTransaction`)."""
        if not self._lock.acquire(blocking=False):
            raise WriterBusy()
        try:
            connection = self.connection
            if connection is None or connection.closed:
                connection = self.connection = self.engine.connect()
            elif connection.in_transaction() or _driver(connection).in_transaction:
                raise WriterBusy()  # this thread is writing with it already (the lock is re-entrant)
        except BaseException:
            self._lock.release()
            raise
        return connection

    def _settle(self, clean: bool) -> None:
        connection = self.connection
        if connection is not None and (not clean or _driver(connection).in_transaction):
            # Something failed (a COMMIT can fail and leave SQLite's transaction open, holding the database's
            # write lock): the next writer gets a new connection.
            self._drop()

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.invalidate()  # its driver connection closed, not handed back to the pool
            connection.close()

    def dispose(self) -> None:
        with self._lock:  # not while a writer is using it
            self._drop()
        self.engine.dispose()


class DriverTransaction:
    """`NoWaitWriters.driver()`: a context manager of its own rather than a generator's, for it wraps every chat
    message written on the event loop (two generator-based ones cost a tenth of the write)."""

    __slots__ = ("_writers", "_driver")

    def __init__(self, writers: NoWaitWriters) -> None:
        self._writers = writers
        self._driver: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        writers = self._writers
        driver = _driver(writers._take())
        try:
            driver.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            writers._lock.release()
            if isinstance(exc, sqlite3.OperationalError):  # SQLITE_BUSY at once: another process is writing
                raise WriterBusy() from exc
            raise
        self._driver = driver
        return driver

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _: TracebackType | None
                 ) -> None:
        writers, driver, clean = self._writers, self._driver, kind is None
        assert driver is not None  # noqa: S101 - entered
        try:
            try:
                if driver.in_transaction:
                    driver.rollback()
            except sqlite3.Error:
                clean = False
            writers._settle(clean)
        finally:
            writers._lock.release()
        if isinstance(error, sqlite3.Error):
            raise DBAPIError.instance(None, None, error, sqlite3.Error, dialect=writers.engine.dialect) from error


def _driver(connection: Connection) -> sqlite3.Connection:
    return connection.connection.driver_connection  # type: ignore[return-value]

"""Prepared statements and the bare-connection writer (core/prepared.py, Database.writer) on SQLite and
PostgreSQL: values go in and come out as the ORM stores and reads them, driver errors are SQLAlchemy's, and
the writer's session shares its transaction."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from paydesk.core.db import BUSY_TIMEOUT_MS, Database
from paydesk.core.prepared import Prepared
from paydesk.core.writers import WriterBusy
from paydesk.support import store

C, M = store.ConversationRow, store.MessageRow
READ = Prepared(select(M.id, M.seq, M.author_id, M.data, M.created_at).where(M.conversation_id == bindparam("c"))
                .order_by(M.seq))
WRITE = Prepared(insert(M).values({name: bindparam(name) for name in
                                   ("id", "conversation_id", "seq", "kind", "author_id", "author_name", "body",
                                    "data", "created_at")}))
RENAME = Prepared(update(M).where(M.id == bindparam("m")).values(body=bindparam("body")))


def _conversation(database: Database) -> uuid.UUID:
    now = datetime.now(UTC)
    with database.transaction() as s:
        contact = store.ContactRow(id=uuid.uuid4(), channel="webchat", external_id=uuid.uuid4().hex, name="",
                                   locale="en", created_at=now)
        s.add(contact)
        s.flush()
        row = C(id=uuid.uuid4(), contact_id=contact.id, channel="webchat", kind="question", subject="",
                status="open", priority="normal", team="general", labels=[], last_seq=0, waiting_since=now,
                created_at=now, updated_at=now)
        s.add(row)
    return row.id


def _message(conversation: uuid.UUID, seq: int, **extra: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "conversation_id": conversation, "seq": seq, "kind": "inbound", "author_id": None,
            "author_name": "V", "body": f"m{seq}", "data": None, "created_at": datetime.now(UTC), **extra}


def test_values_round_trip_as_the_orm_stores_and_reads_them(database: Database) -> None:
    conversation = _conversation(database)
    author, moment = uuid.uuid4(), datetime(2026, 11, 30, 4, 5, 6, 789000, tzinfo=UTC)
    written = [_message(conversation, 1, author_id=author, data={"csat": 5, "名": "值"}, created_at=moment),
               _message(conversation, 2)]
    with database.writer() as w:
        WRITE.many(w.connection, written)
        RENAME.many(w.connection, [{"m": written[1]["id"], "body": "renamed"}])
        w.commit()
    with database.writer() as w:
        rows = READ.rows(w.connection, {"c": conversation})
    assert rows == [(written[0]["id"], 1, author, {"csat": 5, "名": "值"}, moment),
                    (written[1]["id"], 2, None, None, written[1]["created_at"])]
    with database.reader() as uow:  # and the ORM reads what was written the same way
        stored = uow.session.scalars(select(M).where(M.conversation_id == conversation).order_by(M.seq)).all()
    assert [(m.author_id, m.data, m.created_at, m.body) for m in stored] == [
        (author, {"csat": 5, "名": "值"}, moment, "m1"), (None, None, written[1]["created_at"], "renamed")]


def test_a_driver_error_is_sqlalchemys_and_the_writer_keeps_nothing_of_it(database: Database) -> None:
    conversation = _conversation(database)
    first = _message(conversation, 1)
    with database.writer() as w:
        WRITE.many(w.connection, [first])
        w.commit()
    with pytest.raises(IntegrityError), database.writer() as w:  # same (conversation, seq): a unique key
        WRITE.many(w.connection, [_message(conversation, 2), _message(conversation, 1)])
        w.commit()
    with database.writer() as w:
        assert [row[1] for row in READ.rows(w.connection, {"c": conversation})] == [1]


def test_the_writer_rolls_back_unless_committed_and_its_session_shares_the_transaction(database: Database) -> None:
    conversation = _conversation(database)
    with database.writer() as w:
        WRITE.many(w.connection, [_message(conversation, 1)])
        w.session.add(M(**_message(conversation, 2)))  # through the ORM, in the same transaction
    with database.writer() as w:
        assert READ.rows(w.connection, {"c": conversation}) == []  # left without commit: nothing stays
        WRITE.many(w.connection, [_message(conversation, 1)])
        w.session.add(M(**_message(conversation, 2)))
        assert len(w.session.scalars(select(M).where(M.conversation_id == conversation)).all()) == 2  # sees both
        w.commit()
    with database.writer() as w:
        assert [row[1] for row in READ.rows(w.connection, {"c": conversation})] == [1, 2]


def test_a_statement_whose_sql_depends_on_its_values_is_refused(database: Database) -> None:
    expanding = Prepared(delete(M).where(M.id.in_(bindparam("ids", expanding=True))))
    with database.writer() as w, pytest.raises(ValueError, match="must not depend"):
        expanding.many(w.connection, [{"ids": [uuid.uuid4()]}])


def test_a_sqlite_writer_told_not_to_wait_gives_way_at_once_to_any_other_writer(tmp_path: Path) -> None:
    # (SQLite only: PostgreSQL's writers always wait, on the batcher's thread)
    path = str(tmp_path / "w.db")
    database = Database(f"sqlite:///{path}")
    holding, release = threading.Event(), threading.Event()

    def this_process() -> None:
        with database.writer():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=this_process)
    holder.start()
    assert holding.wait(5)
    try:
        started = time.monotonic()
        with pytest.raises(WriterBusy), database.writer(wait=False):
            pass
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
        holder.join()
    other = sqlite3.connect(path, isolation_level=None)  # another process's write, as SQLite sees it
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(WriterBusy), database.writer(wait=False):
            pass
        assert time.monotonic() - started < 0.5  # not the 30 s a waiting writer allows
        other.execute("ROLLBACK")
    finally:
        other.close()
    try:
        with database.writer(wait=False) as w:  # free again: it writes
            assert w.connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0  # its own connection's
        with database.writer() as w:  # while every other writer still waits for another process's write
            assert w.connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
    finally:
        database.dispose()


def _notes(database: Database) -> Connection:
    """A `notes` table, made by the no-wait writer; the connection it keeps."""
    with database.writer(wait=False) as w:
        w.connection.exec_driver_sql("CREATE TABLE notes (body TEXT)")
        w.commit()
        return w.connection


def test_a_no_wait_writer_keeps_its_connection_and_leaves_it_clean(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        first = _notes(database)
        with database.writer(wait=False) as w:
            assert w.connection is first  # the same connection, kept open (not checked out of a pool again)
        with pytest.raises(RuntimeError), database.writer(wait=False) as w:
            w.connection.exec_driver_sql("INSERT INTO notes VALUES ('half done')")
            raise RuntimeError("failed before its commit")
        with database.writer(wait=False) as w:
            assert w.connection is not first  # after a failure, a new one: nothing of the failed one is kept
            assert w.connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 0  # rolled back
            with pytest.raises(WriterBusy), database.writer(wait=False):
                pass  # this thread is using it already: not begun twice
            w.connection.exec_driver_sql("INSERT INTO notes VALUES ('kept')")
            w.commit()
        with database.reader() as uow:
            assert uow.session.execute(text("SELECT body FROM notes")).scalars().all() == ["kept"]
    finally:
        database.dispose()


def test_the_sqlite_driver_writer_gives_way_at_once_keeps_its_connection_and_leaves_it_clean(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "d.db")
    database = Database(f"sqlite:///{path}")
    try:
        kept = _notes(database)
        with database.sqlite_driver() as driver:  # the same kept connection, its busy timeout 0, in BEGIN
            assert driver is kept.connection.driver_connection and driver.in_transaction
            assert driver.execute("PRAGMA busy_timeout").fetchone() == (0,)
            driver.execute("INSERT INTO notes VALUES ('committed')")
            driver.commit()
        with database.sqlite_driver() as driver:
            driver.execute("INSERT INTO notes VALUES ('not committed')")
            for nested in (database.sqlite_driver, partial(database.writer, wait=False)):
                with pytest.raises(WriterBusy), nested():
                    pass  # inside its transaction: neither begins again (nor ends this one)
            assert driver.in_transaction
        with pytest.raises(OperationalError), database.sqlite_driver() as driver:  # SQLAlchemy's, as elsewhere
            driver.execute("INSERT INTO notes VALUES ('half done')")
            driver.execute("INSERT INTO no_such_table VALUES (1)")
        assert database._nowait.connection is None  # dropped after a failure
        with database.writer(wait=False) as w:
            assert w.connection is not kept
        other = sqlite3.connect(path, isolation_level=None)  # another process's write, as SQLite sees it
        try:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with pytest.raises(WriterBusy), database.sqlite_driver():
                pass
            assert time.monotonic() - started < 0.5
        finally:
            other.close()
        with database.reader() as uow:
            assert uow.session.execute(text("SELECT body FROM notes")).scalars().all() == ["committed"]
    finally:
        database.dispose()


def test_a_busy_sqlite_begin_is_sqlalchemys_operational_error_as_callers_expect(tmp_path: Path) -> None:
    # The ledger retries a batch on sqlalchemy.exc.OperationalError: a BEGIN that found the database locked
    # (run straight on the driver) must come out as one, not as the driver's own error.
    path = str(tmp_path / "b.db")
    database = Database(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        with database.engine.connect() as connection:  # the pool's one connection (LIFO: handed out next)
            connection.exec_driver_sql("PRAGMA busy_timeout=0")  # give up at once instead of in 30 s
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), database.uow() as uow:
            uow.session.connection()  # begins
        other.execute("ROLLBACK")
    finally:
        other.close()
        database.dispose()


def test_a_sqlite_writer_told_not_to_wait_does_not_wait_for_a_taken_pool(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    taken = [database.engine.connect() for _ in range(15)]  # the shared pool's 5 + 10, all busy (readers, say)
    try:
        started = time.monotonic()
        with database.writer(wait=False) as w:  # its own connection: neither waits nor fails
            w.connection.exec_driver_sql("SELECT 1")
        assert time.monotonic() - started < 0.5
    finally:
        for connection in taken:
            connection.close()
        database.dispose()


def test_a_failed_commit_does_not_leave_the_kept_connection_holding_the_database(tmp_path: Path) -> None:
    path = str(tmp_path / "f.db")
    database = Database(f"sqlite:///{path}")
    try:
        with database.writer() as w:
            w.connection.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            w.connection.exec_driver_sql("CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES "
                                         "parent(id) DEFERRABLE INITIALLY DEFERRED)")
            w.commit()
        with pytest.raises(IntegrityError), database.writer(wait=False) as w:
            w.connection.exec_driver_sql("INSERT INTO child VALUES (1, 99)")
            w.commit()  # the deferred check fails here, and SQLite keeps the transaction open
        other = sqlite3.connect(path, isolation_level=None, timeout=0.5)
        try:
            other.execute("BEGIN IMMEDIATE")  # nobody holds the database any more
            other.execute("ROLLBACK")
        finally:
            other.close()
        with database.writer(wait=False) as w:  # and the no-wait writer works again, on a new connection
            w.connection.exec_driver_sql("INSERT INTO parent VALUES (1)")
            w.commit()
        with database.reader() as uow:
            assert uow.session.execute(text("SELECT count(*) FROM child")).scalar() == 0
            assert uow.session.execute(text("SELECT count(*) FROM parent")).scalar() == 1
    finally:
        database.dispose()


def test_a_positional_caller_gets_the_sql_only_for_the_parameter_order_it_builds(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        dialect = database.engine.dialect
        assert RENAME.sql_for(dialect, ("body", "m")).startswith("UPDATE support_messages SET body=?")
        with pytest.raises(ValueError, match="takes"):  # a tuple built the other way round would swap them
            RENAME.sql_for(dialect, ("m", "body"))
    finally:
        database.dispose()

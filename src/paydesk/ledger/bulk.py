"""The ledger's batch path: load what a batch needs, write what it decided. Never commits.

It talks to the driver directly where SQLAlchemy's per-row work would dominate: PostgreSQL gets
`= ANY(array)` look-ups, `COPY` for new rows and one `UPDATE … FROM unnest(…)` for the account totals;
SQLite gets `executemany` (UUIDs as 16 raw bytes, times as fixed-width ISO text, as `core.db` stores them).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from paydesk.core.db import sqlite_time
from paydesk.ledger.domain import Account, Balance, Failure, Kind, Known, Outcome, Result, Transfer

_TRANSFER_COLUMNS = (
    "id, debit_account_id, credit_account_id, amount, currency, code, kind, pending_id, timeout_s, "
    "expires_at, linked, metadata, created_at"
)
_HISTORY_COLUMNS = (
    "dr_seq, dr_debits_pending, dr_debits_posted, dr_credits_pending, dr_credits_posted, "
    "cr_seq, cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted"
)
_ACCOUNT_COLUMNS = "id, currency, flags, debits_pending, debits_posted, credits_pending, credits_posted, entry_seq"


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def load_for_batch(
    session: Session, account_ids: set[UUID], transfer_ids: set[UUID], pending_ids: set[UUID],
) -> Known:
    """Load, and on PostgreSQL lock in id order, everything `apply_batch` needs.

    Pending transfers are read first (a transfer never changes) so that their accounts are locked too;
    resolutions and existing ids are read after the locks, so they include every batch committed before."""
    if session.get_bind().dialect.name == "postgresql":
        return _load_pg(_driver(session), account_ids, transfer_ids, pending_ids)
    return _load_sqlite(_driver(session), account_ids, transfer_ids, pending_ids)


def _load_pg(conn: Any, account_ids: set[UUID], transfer_ids: set[UUID], pending_ids: set[UUID]) -> Known:
    with conn.cursor() as cur:
        pendings = _pg_transfers(cur, pending_ids)
        for p in pendings.values():
            account_ids.update((p.debit_account_id, p.credit_account_id))
        cur.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY(%s) ORDER BY id FOR UPDATE",  # noqa: S608
            (list(account_ids),),
        )
        known = Known(accounts={row[0]: _account(row) for row in cur.fetchall()})
        known.transfers = {**pendings, **_pg_transfers(cur, transfer_ids - pendings.keys())}
        if transfer_ids:
            cur.execute("SELECT id, result, fingerprint, created_at FROM ledger_failures WHERE id = ANY(%s)",
                        (list(transfer_ids),))
            known.failures = {r[0]: Failure(r[0], Result(r[1]), r[2], r[3]) for r in cur.fetchall()}
        if pending_ids:
            cur.execute("SELECT pending_id, kind FROM ledger_transfers WHERE pending_id = ANY(%s)",
                        (list(pending_ids),))
            known.resolutions = {r[0]: Kind(r[1]) for r in cur.fetchall()}
    return known


def _pg_transfers(cur: Any, ids: set[UUID]) -> dict[UUID, Transfer]:
    if not ids:
        return {}
    cur.execute(f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ANY(%s)", (list(ids),))  # noqa: S608
    return {row[0]: _transfer(row) for row in cur.fetchall()}


def _load_sqlite(conn: Any, account_ids: set[UUID], transfer_ids: set[UUID], pending_ids: set[UUID]) -> Known:
    cur = conn.cursor()
    pendings = _sqlite_transfers(cur, pending_ids)
    for p in pendings.values():
        account_ids.update((p.debit_account_id, p.credit_account_id))
    known = Known(accounts={})
    for chunk in _chunks([a.bytes for a in account_ids]):
        marks = ",".join("?" * len(chunk))
        cur.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id IN ({marks})", chunk)  # noqa: S608
        for row in cur.fetchall():
            account = _account((UUID(bytes=row[0]), *row[1:]))
            known.accounts[account.id] = account
    known.transfers = {**pendings, **_sqlite_transfers(cur, transfer_ids - pendings.keys())}
    for chunk in _chunks([t.bytes for t in transfer_ids]):
        marks = ",".join("?" * len(chunk))
        cur.execute(
            f"SELECT id, result, fingerprint, created_at FROM ledger_failures WHERE id IN ({marks})", chunk,  # noqa: S608
        )
        for r in cur.fetchall():
            failure_id = UUID(bytes=r[0])
            known.failures[failure_id] = Failure(failure_id, Result(r[1]), r[2], datetime.fromisoformat(r[3]))
    for chunk in _chunks([p.bytes for p in pending_ids]):
        marks = ",".join("?" * len(chunk))
        cur.execute(f"SELECT pending_id, kind FROM ledger_transfers WHERE pending_id IN ({marks})", chunk)  # noqa: S608
        for r in cur.fetchall():
            known.resolutions[UUID(bytes=r[0])] = Kind(r[1])
    cur.close()
    return known


def _sqlite_transfers(cur: Any, ids: set[UUID]) -> dict[UUID, Transfer]:
    found: dict[UUID, Transfer] = {}
    for chunk in _chunks([i.bytes for i in ids]):
        marks = ",".join("?" * len(chunk))
        cur.execute(f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE id IN ({marks})", chunk)  # noqa: S608
        for row in cur.fetchall():
            t = _transfer((
                UUID(bytes=row[0]), UUID(bytes=row[1]), UUID(bytes=row[2]), *row[3:7],
                UUID(bytes=row[7]) if row[7] else None, row[8],
                datetime.fromisoformat(row[9]) if row[9] else None, bool(row[10]),
                json.loads(row[11]) if row[11] else None, datetime.fromisoformat(row[12]),
            ))
            found[t.id] = t
    return found


def _chunks(items: list[bytes], size: int = 900) -> Iterable[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _account(row: Sequence[Any]) -> Account:
    return Account(row[0], row[1], row[2], Balance(row[3], row[4], row[5], row[6], row[7]))


def _transfer(row: Sequence[Any]) -> Transfer:
    return Transfer(
        row[0], row[1], row[2], row[3], row[4], row[5], Kind(row[6]), row[7], row[8], row[9], bool(row[10]),
        row[11], row[12],
    )


def write_outcome(session: Session, outcome: Outcome) -> None:
    """Write the batch's new transfers and failures in bulk, and each touched account once."""
    if session.get_bind().dialect.name == "postgresql":
        _write_pg(_driver(session), outcome)
    else:
        _write_sqlite(_driver(session), outcome)


SMALL_BATCH = 64  # below this, one pipelined INSERT beats COPY's extra round trips


def _write_pg(conn: Any, outcome: Outcome) -> None:
    from psycopg.types.json import Jsonb

    rows = []
    for t in outcome.transfers:
        d, c = t.debit_after, t.credit_after
        assert d is not None and c is not None  # noqa: S101 - set on every posted transfer
        rows.append((
            t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code, t.kind.value,
            t.pending_id, t.timeout_s, t.expires_at, t.linked,
            Jsonb(dict(t.metadata)) if t.metadata is not None else None, t.created_at,
            d.entry_seq, d.debits_pending, d.debits_posted, d.credits_pending, d.credits_posted,
            c.entry_seq, c.debits_pending, c.debits_posted, c.credits_pending, c.credits_posted,
        ))
    with conn.cursor() as cur:
        if len(rows) >= SMALL_BATCH:
            with cur.copy(f"COPY ledger_transfers ({_TRANSFER_COLUMNS}, {_HISTORY_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif rows:
            cur.executemany(
                f"INSERT INTO ledger_transfers ({_TRANSFER_COLUMNS}, {_HISTORY_COLUMNS}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * 23)})", rows,
            )
        if outcome.failures:
            with cur.copy("COPY ledger_failures (id, result, fingerprint, created_at) FROM STDIN") as copy:
                for f in outcome.failures:
                    copy.write_row((f.id, f.result.value, f.fingerprint, f.created_at))
        if outcome.touched:
            touched = list(outcome.touched.values())
            columns = [
                [a.id for a in touched], [a.balance.debits_pending for a in touched],
                [a.balance.debits_posted for a in touched], [a.balance.credits_pending for a in touched],
                [a.balance.credits_posted for a in touched], [a.balance.entry_seq for a in touched],
            ]
            cur.execute(
                "UPDATE ledger_accounts AS a SET debits_pending = v.dpe, debits_posted = v.dpo, "
                "credits_pending = v.cpe, credits_posted = v.cpo, entry_seq = v.seq "
                "FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS v(id, dpe, dpo, cpe, cpo, seq) WHERE a.id = v.id",
                columns,
            )


def _sqlite_transfer_row(t: Transfer, created_at: str) -> tuple[Any, ...]:
    d, c = t.debit_after, t.credit_after
    assert d is not None and c is not None  # noqa: S101 - set on every posted transfer
    return (
        t.id.bytes, t.debit_account_id.bytes, t.credit_account_id.bytes, t.amount, t.currency, t.code, t.kind.value,
        t.pending_id.bytes if t.pending_id else None, t.timeout_s,
        sqlite_time(t.expires_at) if t.expires_at else None, int(t.linked),
        json.dumps(dict(t.metadata)) if t.metadata is not None else None, created_at,
        d.entry_seq, d.debits_pending, d.debits_posted, d.credits_pending, d.credits_posted,
        c.entry_seq, c.debits_pending, c.debits_posted, c.credits_pending, c.credits_posted,
    )


def _write_sqlite(conn: Any, outcome: Outcome) -> None:
    times = functools.lru_cache(maxsize=8)(sqlite_time)  # a batch's transfers share one timestamp
    cur = conn.cursor()
    cur.executemany(
        f"INSERT INTO ledger_transfers ({_TRANSFER_COLUMNS}, {_HISTORY_COLUMNS}) "  # noqa: S608
        f"VALUES ({','.join('?' * 23)})",
        [_sqlite_transfer_row(t, times(t.created_at)) for t in outcome.transfers],
    )
    cur.executemany(
        "INSERT INTO ledger_failures (id, result, fingerprint, created_at) VALUES (?,?,?,?)",
        [(f.id.bytes, f.result.value, f.fingerprint, times(f.created_at)) for f in outcome.failures],
    )
    cur.executemany(
        "UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, "
        "credits_posted = ?, entry_seq = ? WHERE id = ?",
        [(
            a.balance.debits_pending, a.balance.debits_posted, a.balance.credits_pending, a.balance.credits_posted,
            a.balance.entry_seq, a.id.bytes,
        ) for a in outcome.touched.values()],
    )
    cur.close()

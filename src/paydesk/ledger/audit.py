"""`paydesk ledger check`: the ledger's invariants as SQL, each returning what breaks it.

The totals kept on accounts are checked against sums recomputed from the transfers themselves, so a bug
in the batch path that updated a total wrongly is caught here, not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session

from paydesk.ledger.domain import AccountFlags


def _id(value: object) -> str:
    """An id as text whichever backend stored it (SQLite keeps UUIDs as 16 raw bytes)."""
    return str(UUID(bytes=value)) if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Problem:
    invariant: str
    detail: str


_CURRENCY_SUMS = text("""
    SELECT currency, SUM(debits_posted), SUM(credits_posted), SUM(debits_pending), SUM(credits_pending)
    FROM ledger_accounts GROUP BY currency ORDER BY currency
""")

# Each account's four totals, recomputed from transfers: direct and post transfers are posted; a pending
# transfer counts as pending until a post, void or expiry names it.
_RECOMPUTED = text("""
    WITH moves AS (
        SELECT debit_account_id AS account_id, amount AS dpo, 0 AS cpo, 0 AS dpe, 0 AS cpe
          FROM ledger_transfers WHERE kind IN ('direct', 'post')
        UNION ALL
        SELECT credit_account_id, 0, amount, 0, 0 FROM ledger_transfers WHERE kind IN ('direct', 'post')
        UNION ALL
        SELECT p.debit_account_id, 0, 0, p.amount, 0 FROM ledger_transfers p
         WHERE p.kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id)
        UNION ALL
        SELECT p.credit_account_id, 0, 0, 0, p.amount FROM ledger_transfers p
         WHERE p.kind = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id)
    ), sums AS (
        SELECT account_id, SUM(dpo) AS dpo, SUM(cpo) AS cpo, SUM(dpe) AS dpe, SUM(cpe) AS cpe
          FROM moves GROUP BY account_id
    )
    SELECT a.id, a.owner, a.code, a.currency,
           a.debits_posted, COALESCE(s.dpo, 0), a.credits_posted, COALESCE(s.cpo, 0),
           a.debits_pending, COALESCE(s.dpe, 0), a.credits_pending, COALESCE(s.cpe, 0)
      FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id
     WHERE a.debits_posted <> COALESCE(s.dpo, 0) OR a.credits_posted <> COALESCE(s.cpo, 0)
        OR a.debits_pending <> COALESCE(s.dpe, 0) OR a.credits_pending <> COALESCE(s.cpe, 0)
""")

_PAST_LIMIT = text("""
    SELECT id, owner, code, currency, debits_posted, debits_pending, credits_posted, credits_pending
      FROM ledger_accounts
     WHERE ((flags & :dnec) <> 0 AND debits_posted + debits_pending > credits_posted)
        OR ((flags & :cned) <> 0 AND credits_posted + credits_pending > debits_posted)
""")

# Each account's history (the transfers' per-side snapshots) must be numbered 1..entry_seq without gaps,
# and its newest entry must equal the account's totals.
_HISTORY = text("""
    WITH sides AS (
        SELECT debit_account_id AS account_id, dr_seq AS seq FROM ledger_transfers
        UNION ALL
        SELECT credit_account_id, cr_seq FROM ledger_transfers
    )
    SELECT a.id, a.owner, a.code, a.entry_seq, COUNT(DISTINCT s.seq), COALESCE(MAX(s.seq), 0)
      FROM ledger_accounts a LEFT JOIN sides s ON s.account_id = a.id
     GROUP BY a.id, a.owner, a.code, a.entry_seq
    HAVING a.entry_seq <> COUNT(s.seq) OR a.entry_seq <> COUNT(DISTINCT s.seq)
        OR a.entry_seq <> COALESCE(MAX(s.seq), 0) OR COALESCE(MIN(s.seq), 1) <> 1
""")

_LAST_ENTRY = text("""
    SELECT a.id, a.owner, a.code FROM ledger_accounts a JOIN ledger_transfers t
        ON (t.debit_account_id = a.id AND t.dr_seq = a.entry_seq
            AND (t.dr_debits_posted, t.dr_credits_posted, t.dr_debits_pending, t.dr_credits_pending)
             <> (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending))
        OR (t.credit_account_id = a.id AND t.cr_seq = a.entry_seq
            AND (t.cr_debits_posted, t.cr_credits_posted, t.cr_debits_pending, t.cr_credits_pending)
             <> (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending))
""")

# With no foreign keys on the hot table, references are checked here: both accounts exist and hold the
# transfer's currency, the amount is positive, the kind is known, and exactly the posts, voids and expiries
# name a pending transfer, which exists.
_TRANSFER_WELL_FORMED = text("""
    SELECT t.id FROM ledger_transfers t
      LEFT JOIN ledger_accounts d ON d.id = t.debit_account_id
      LEFT JOIN ledger_accounts c ON c.id = t.credit_account_id
      LEFT JOIN ledger_transfers p ON p.id = t.pending_id
     WHERE d.id IS NULL OR c.id IS NULL OR d.currency <> t.currency OR c.currency <> t.currency
        OR t.amount <= 0 OR (t.pending_id IS NOT NULL AND (p.id IS NULL OR p.kind <> 'pending'))
        OR t.kind NOT IN ('direct', 'pending', 'post', 'void', 'expire')
        OR (t.kind IN ('direct', 'pending') AND t.pending_id IS NOT NULL)
        OR (t.kind IN ('post', 'void', 'expire') AND t.pending_id IS NULL)
""")

_ID_TWICE = text("SELECT f.id FROM ledger_failures f JOIN ledger_transfers t ON t.id = f.id")


def find_problems(session: Session) -> list[Problem]:
    problems: list[Problem] = []
    for currency, dpo, cpo, dpe, cpe in session.execute(_CURRENCY_SUMS):
        if dpo != cpo:
            problems.append(Problem("posted_balanced", f"{currency}: debits posted {dpo} != credits posted {cpo}"))
        if dpe != cpe:
            problems.append(Problem("pending_balanced", f"{currency}: debits pending {dpe} != credits pending {cpe}"))
    for row in session.execute(_RECOMPUTED):
        problems.append(Problem(
            "totals_match_transfers",
            f"account {_id(row[0])} ({row[1]}/{row[2]}/{row[3]}): posted debits {row[4]} vs {row[5]} from transfers, "
            f"posted credits {row[6]} vs {row[7]}, pending debits {row[8]} vs {row[9]}, "
            f"pending credits {row[10]} vs {row[11]}",
        ))
    limits = {"dnec": int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
              "cned": int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)}
    for row in session.execute(_PAST_LIMIT, limits):
        problems.append(Problem(
            "within_limits",
            f"account {_id(row[0])} ({row[1]}/{row[2]}/{row[3]}) is past its limit: debits {row[4]}+{row[5]} pending, "
            f"credits {row[6]}+{row[7]} pending",
        ))
    for row in session.execute(_HISTORY):
        problems.append(Problem(
            "history_complete",
            f"account {_id(row[0])} ({row[1]}/{row[2]}) says {row[3]} entries, history has {row[4]} up to seq {row[5]}",
        ))
    for row in session.execute(_LAST_ENTRY):
        problems.append(Problem(
            "history_matches_totals", f"account {_id(row[0])} ({row[1]}/{row[2]}): last entry differs from totals",
        ))
    for row in session.execute(_TRANSFER_WELL_FORMED):
        problems.append(Problem(
            "transfer_well_formed", f"transfer {_id(row[0])} names a missing account or pending transfer, "
            "or has a bad amount or currency",
        ))
    for row in session.execute(_ID_TWICE):
        problems.append(Problem("one_outcome_per_id", f"transfer id {_id(row[0])} is both posted and failed"))
    return problems

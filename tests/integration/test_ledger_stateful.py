"""A Hypothesis state machine drives the real ledger (on each backend) next to a deliberately simple model
of it: transfers, holds, posts, voids, expiry, linked groups and retries. After every step the database
must agree with the model and `ledger check` must find nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import text

from paydesk.core.clock import FrozenClock
from paydesk.core.db import Database
from paydesk.core.money import Currencies
from paydesk.ledger.domain import AccountFlags, Kind, Result, TransferRequest
from paydesk.ledger.service import LedgerService
from tests.conftest import TABLES

USER = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
N_USERS = 3


@dataclass
class ModelAccount:
    limited: bool
    dpe: int = 0
    dpo: int = 0
    cpe: int = 0
    cpo: int = 0


@dataclass
class ModelHold:
    debit: int
    credit: int
    amount: int
    expires_at: float  # model seconds
    state: str = "pending"  # pending | post | void | expire


@dataclass
class Model:
    accounts: list[ModelAccount]
    holds: dict[uuid.UUID, ModelHold] = field(default_factory=dict)
    outcomes: dict[uuid.UUID, Result] = field(default_factory=dict)  # first result per id
    now: float = 0.0

    def apply_chain(self, steps: list[tuple[uuid.UUID, str, tuple[int, ...]]]) -> list[Result]:
        """Each step: (id, op, args). Returns the expected results; commits only if all succeed."""
        saved = ([ModelAccount(**vars(a)) for a in self.accounts],
                 {k: ModelHold(**vars(h)) for k, h in self.holds.items()})
        results: list[Result] = []
        for tid, op, args in steps:
            result = self._one(tid, op, args)
            results.append(result)
            if not result.succeeded:
                self.accounts, self.holds = saved
                failed = [Result.LINKED_EVENT_FAILED] * len(steps)
                failed[len(results) - 1] = result
                if result != Result.EXISTS and tid not in self.outcomes:
                    self.outcomes[tid] = result
                return failed
        for tid, _, _ in steps:
            self.outcomes.setdefault(tid, Result.OK)
        return results

    def _one(self, tid: uuid.UUID, op: str, args: tuple[int, ...]) -> Result:
        if tid in self.outcomes:
            first = self.outcomes[tid]
            return Result.EXISTS if first == Result.OK else first
        if op in ("direct", "pending"):
            debit, credit, amount = args[0], args[1], args[2]
            d, c = self.accounts[debit], self.accounts[credit]
            if op == "direct":
                d.dpo += amount
                c.cpo += amount
            else:
                d.dpe += amount
                c.cpe += amount
                self.holds[tid] = ModelHold(debit, credit, amount, self.now + args[3])
            if d.limited and d.dpe + d.dpo > d.cpo:
                return Result.EXCEEDS_CREDITS
            return Result.OK
        hold_id = uuid.UUID(int=args[0])
        hold = self.holds[hold_id]
        amount = args[1] if op == "post" else hold.amount
        if amount > hold.amount:  # the request is checked against the hold before the hold's state
            return Result.EXCEEDS_PENDING_TRANSFER_AMOUNT
        if hold.state != "pending":
            return {"post": Result.PENDING_TRANSFER_ALREADY_POSTED, "void": Result.PENDING_TRANSFER_ALREADY_VOIDED,
                    "expire": Result.PENDING_TRANSFER_EXPIRED}[hold.state]
        if self.now >= hold.expires_at:
            return Result.PENDING_TRANSFER_EXPIRED
        d, c = self.accounts[hold.debit], self.accounts[hold.credit]
        d.dpe -= hold.amount
        c.cpe -= hold.amount
        if op == "post":
            d.dpo += amount
            c.cpo += amount
        hold.state = op
        return Result.OK


def _request(ids: list[uuid.UUID], tid: uuid.UUID, op: str, args: tuple[int, ...], linked: bool) -> TransferRequest:
    if op in ("direct", "pending"):
        kind = Kind.DIRECT if op == "direct" else Kind.PENDING
        timeout = args[3] if op == "pending" else 0
        return TransferRequest(tid, ids[args[0]], ids[args[1]], args[2], "USD", "t", kind, timeout_s=timeout,
                               linked=linked)
    amount = args[1] if op == "post" else None
    return TransferRequest(tid, None, None, amount, None, "", Kind(op), pending_id=uuid.UUID(int=args[0]),
                           linked=linked)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, database: Database) -> None:
        super().__init__()
        self.clock = FrozenClock()
        self.start = self.clock.now()
        self.ledger = LedgerService(database, self.clock, Currencies())
        self.sent: list[tuple[list[tuple[uuid.UUID, str, tuple[int, ...]]], bool]] = []
        self.counter = 0

    def new_id(self) -> uuid.UUID:
        """Ids that depend only on the steps taken, so that Hypothesis can replay and shrink a run."""
        self.counter += 1
        return uuid.UUID(int=(7 << 76) | self.counter)

    @initialize()
    def open_accounts(self) -> None:
        with self.ledger.db.transaction() as session:
            for table in TABLES:
                session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
        self.ids = [self.ledger.open_account(f"u{i}", "wallet", "USD", USER) for i in range(N_USERS)]
        self.ids.append(self.ledger.system_account("settlement:bank_domestic", "USD"))
        self.model = Model([ModelAccount(limited=True) for _ in range(N_USERS)] + [ModelAccount(limited=False)])

    def _send(self, steps: list[tuple[uuid.UUID, str, tuple[int, ...]]]) -> None:
        requests = [_request(self.ids, tid, op, args, i < len(steps) - 1) for i, (tid, op, args) in enumerate(steps)]
        expected = self.model.apply_chain(steps)
        got = self.ledger.post(requests)
        assert got == expected, (steps, got, expected)
        self.sent.append((steps, True))

    accounts = st.integers(min_value=0, max_value=N_USERS)
    amounts = st.integers(min_value=1, max_value=120)

    @rule(debit=accounts, credit=accounts, amount=amounts)
    def transfer(self, debit: int, credit: int, amount: int) -> None:
        if debit != credit:
            self._send([(self.new_id(), "direct", (debit, credit, amount))])

    @rule(user=st.integers(min_value=0, max_value=N_USERS - 1), amount=amounts)
    def top_up(self, user: int, amount: int) -> None:
        self._send([(self.new_id(), "direct", (N_USERS, user, amount))])

    @rule(debit=accounts, credit=accounts, amount=amounts, timeout=st.sampled_from([0, 30, 120]))
    def hold(self, debit: int, credit: int, amount: int, timeout: int) -> None:
        if debit != credit:
            self._send([(self.new_id(), "pending", (debit, credit, amount, timeout or 10**9))])

    @rule(data=st.data(), partial=st.booleans())
    def post_or_void(self, data: st.DataObject, partial: bool) -> None:
        if not self.model.holds:
            return
        hold_id = data.draw(st.sampled_from(sorted(self.model.holds)))
        hold = self.model.holds[hold_id]
        op = data.draw(st.sampled_from(["post", "void"]))
        amount = data.draw(st.integers(min_value=1, max_value=hold.amount + 5)) if partial else hold.amount
        self._send([(self.new_id(), op, (hold_id.int, amount))])

    @rule(debit=accounts, credit=accounts, amounts=st.lists(amounts, min_size=2, max_size=3))
    def linked_group(self, debit: int, credit: int, amounts: list[int]) -> None:
        if debit != credit:
            self._send([(self.new_id(), "direct", (debit, credit, a)) for a in amounts])

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        if self.sent:
            steps, _ = data.draw(st.sampled_from(self.sent))
            self._send(steps)

    @rule(seconds=st.sampled_from([10, 31, 130]))
    def time_passes_and_holds_expire(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.model.now += seconds
        due = [h for h in self.model.holds.values() if h.state == "pending" and self.model.now >= h.expires_at]
        for h in due:
            self.model.accounts[h.debit].dpe -= h.amount
            self.model.accounts[h.credit].cpe -= h.amount
            h.state = "expire"
        assert self.ledger.expire_pending() == len(due)

    @invariant()
    def database_agrees_with_the_model_and_the_check(self) -> None:
        if not hasattr(self, "ids"):
            return
        views = self.ledger.accounts(self.ids)
        for i, account_id in enumerate(self.ids):
            v, m = views[account_id], self.model.accounts[i]
            assert (v.debits_pending, v.debits_posted, v.credits_pending, v.credits_posted) == (
                m.dpe, m.dpo, m.cpe, m.cpo), i
            assert v.available_balance >= 0 or i == N_USERS
        assert self.ledger.check() == []


def test_the_ledger_behaves_like_its_model(database: Database) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(database),
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )

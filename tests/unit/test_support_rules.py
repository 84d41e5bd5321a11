"""The desk's rules: who gets a conversation, and how statuses move."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from paydesk.support.domain import (
    AgentLoad,
    BadMove,
    Status,
    after_customer_message,
    is_online,
    move,
    needs_assignment,
    pick_agent,
    wake,
)

T0 = datetime(2026, 11, 29, 9, tzinfo=UTC)


def agent(n: int, *, team: str = "general", online: bool = True, capacity: int = 3, active: int = 0,
          last: datetime | None = None) -> AgentLoad:
    return AgentLoad(uuid.UUID(int=n), team, online, capacity, active, last)


def test_the_least_busy_online_agent_of_the_team_with_room_gets_it() -> None:
    agents = [agent(1, active=2), agent(2, active=1), agent(3, active=0, online=False), agent(4, team="vip"),
              agent(5, active=3, capacity=3)]
    assert pick_agent(agents, "general") == agents[1]
    assert pick_agent(agents, "vip") == agents[3]
    assert pick_agent([agent(1, active=3, capacity=3), agent(2, online=False)], "general") is None  # → the queue
    assert pick_agent([], "general") is None


def test_ties_go_to_whoever_waited_longest_since_their_last_assignment() -> None:
    early, late = agent(1, active=1, last=T0), agent(2, active=1, last=T0 + timedelta(minutes=5))
    fresh = agent(3, active=1, last=None)
    assert pick_agent([late, early], "general") == early
    assert pick_agent([late, early, fresh], "general") == fresh


@pytest.mark.parametrize(("start", "wanted", "ok"), [
    (Status.OPEN, Status.RESOLVED, True), (Status.OPEN, Status.CLOSED, False), (Status.RESOLVED, Status.CLOSED, True),
    (Status.RESOLVED, Status.OPEN, True), (Status.CLOSED, Status.OPEN, False), (Status.SNOOZED, Status.PENDING, True),
    (Status.PENDING, Status.PENDING, False),
])
def test_status_moves(start: Status, wanted: Status, ok: bool) -> None:
    if ok:
        assert move(start, wanted) == wanted
    else:
        with pytest.raises(BadMove):
            move(start, wanted)


def test_a_customer_reply_reopens_and_a_snooze_ends_on_time() -> None:
    for status in (Status.PENDING, Status.SNOOZED, Status.RESOLVED):
        assert after_customer_message(status) == Status.OPEN
    assert after_customer_message(Status.CLOSED) == Status.CLOSED
    assert wake(Status.SNOOZED, T0, T0 - timedelta(seconds=1)) == Status.SNOOZED
    assert wake(Status.SNOOZED, None, T0) == Status.OPEN  # snoozed before snoozes had an end: at once
    assert wake(Status.SNOOZED, T0, T0) == Status.OPEN
    assert wake(Status.OPEN, T0, T0 + timedelta(days=1)) == Status.OPEN


def test_an_agent_is_online_when_they_chose_it_have_a_console_open_and_were_vouched_for_lately() -> None:
    fresh = T0 - timedelta(seconds=90)
    assert is_online("online", 1, T0, fresh)
    assert not is_online("away", 1, T0, fresh)
    assert not is_online("online", 0, T0, fresh)
    assert not is_online("online", 2, fresh - timedelta(seconds=1), fresh)  # the process holding it went quiet
    assert not is_online("online", 1, None, fresh)


def test_a_waiting_conversation_is_not_offered_again_on_every_message() -> None:
    assert needs_assignment(Status.OPEN, 0)  # the first message
    assert not needs_assignment(Status.OPEN, 3)  # waiting in the queue already
    assert needs_assignment(Status.RESOLVED, 5) and needs_assignment(Status.SNOOZED, 2)  # the customer reopened it

"""The support desk's rules (no I/O): conversation statuses and the moves between them, and who gets a new
conversation.

Assignment: an online agent of the conversation's team with spare capacity, least busy first, then the one
who waited longest since their last assignment; nobody free means the unassigned queue, which is served
oldest first when an agent frees up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from paydesk.core.errors import Conflict


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    CLOSED = "closed"


# status → the statuses an agent may move it to
MOVES: dict[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.PENDING, Status.SNOOZED, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.SNOOZED, Status.RESOLVED}),
    Status.SNOOZED: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


class BadMove(Conflict):
    code = "status_move_not_allowed"
    title = "A conversation can't move to that status from where it is"


def move(current: Status, wanted: Status) -> Status:
    if wanted not in MOVES[current]:
        raise BadMove(f"the conversation is {current.value}: it can't become {wanted.value}", current=current.value)
    return wanted


def after_customer_message(current: Status) -> Status:
    """A customer writing reopens a pending, snoozed or resolved conversation (a closed one stays closed: a
    new message starts a new conversation)."""
    return Status.OPEN if current in (Status.PENDING, Status.SNOOZED, Status.RESOLVED) else current


def needs_assignment(was: Status, messages_before: int) -> bool:
    """Whether a customer's message on an unassigned conversation should look for an agent. It should when
    the conversation has had nothing before or was not open (the customer reopened it). One already open
    with messages waits in the team's queue, which is served whenever capacity appears (an agent comes
    online, a conversation is resolved or handed over) — not again on every message it receives."""
    return messages_before == 0 or was != Status.OPEN


def wake(current: Status, snoozed_until: datetime | None, now: datetime) -> Status:
    """A snoozed conversation reopens when its time comes (at once when it has none: one snoozed before
    snoozes had an end)."""
    if current == Status.SNOOZED and (snoozed_until is None or snoozed_until <= now):
        return Status.OPEN
    return current


@dataclass(frozen=True, slots=True)
class AgentLoad:
    user_id: UUID
    team: str
    online: bool
    capacity: int
    active: int  # conversations assigned and not resolved or closed
    last_assigned_at: datetime | None


def is_online(manual_status: str, connections: int, seen_at: datetime | None, fresh_since: datetime) -> bool:
    """Available for new conversations: the agent chose "online", has a console open, and a process holding
    it has vouched for it recently (a process that died leaves its count of sockets behind, not its beat)."""
    return manual_status == "online" and connections > 0 and seen_at is not None and seen_at >= fresh_since


def pick_agent(agents: Sequence[AgentLoad], team: str) -> AgentLoad | None:
    """Who gets the next conversation of `team`, or None (it waits in the unassigned queue)."""
    free = [a for a in agents if a.team == team and a.online and a.active < a.capacity]
    if not free:
        return None
    never = datetime.min.replace(tzinfo=UTC)  # never assigned: first in line
    return min(free, key=lambda a: (a.active, a.last_assigned_at or never, str(a.user_id)))

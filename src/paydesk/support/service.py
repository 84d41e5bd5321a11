"""Support desk use cases: numbered messages, assignment, status changes and snoozes (the visitors' side:
visitors.py; agents and their availability: agents.py; the agents' tools: tools.py). Each returns the
realtime events to publish (`(channel, event)` pairs); the WebSocket layer publishes them after the
transaction has committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select

from paydesk.core.batching import Batcher
from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import InvalidRequest, NotFound
from paydesk.core.ids import uuid7
from paydesk.core.writers import WriterBusy
from paydesk.identity.service import IdentityService, User
from paydesk.notify.service import NotifyService
from paydesk.support import domain, store
from paydesk.support.agents import AgentPresence
from paydesk.support.attachments import BlobStore
from paydesk.support.domain import Status
from paydesk.support.events import Event, agent_channel, conversation_channel, message_view, team_channel
from paydesk.support.messages import KINDS, Head, PostJob, post_direct, process_posts
from paydesk.support.tools import MAX_BODY, AgentTools, NotAnAgent
from paydesk.support.visitors import VisitorChats

SNOOZE_MAX = timedelta(days=30)
# Where the events of background work (a snooze ending) go: the serving app sets it while it runs, to publish
# them on its event loop. None (a `paydesk worker` process, or tests): nobody hears of them live, and the
# sockets read them from the database with the conversation's next message, or when they reconnect.
Announcer = Callable[[list[Event]], None]


class SupportService(VisitorChats, AgentPresence, AgentTools):
    def __init__(self, db: Database, clock: Clock, identity: IdentityService, notify: NotifyService,
                 wallet_id_of: Callable[[UUID], str] | None = None, blobs: BlobStore | None = None) -> None:
        self.db, self.clock, self.identity, self.notify = db, clock, identity, notify
        self.blobs = blobs
        self.wallet_id_of = wallet_id_of  # the wallet's public id of a user (for canned replies)
        self.announce: Announcer | None = None
        self.posts: Batcher[PostJob, list[Event]] = Batcher(
            "support-posts", lambda jobs: process_posts(self, jobs), window_s=0.0, max_size=256)

    # --- messages -------------------------------------------------------------------------------------------

    def post(self, conversation_id: UUID, *, kind: str, body: str, author: User | None,
             author_name: str = "") -> list[Event]:
        """Add a message (`inbound` from the customer, `outbound` from an agent, `note` agents only) and say
        who must hear of it: the conversation's subscribers, and an agent newly assigned. Concurrent posts are
        written together (support/messages.py)."""
        return self.posts.submit(self._post_job(conversation_id, kind, body, author, author_name))

    async def post_from_loop(self, conversation_id: UUID, *, kind: str, body: str, author: User | None,
                             author_name: str = "") -> list[Event]:
        """`post` for a caller on the event loop (the chat sockets). On SQLite, when no other writer is at work
        this instant, the message is written right here (0.15–0.3 ms of the loop's time): two thread hops and
        the wait for the interpreter lock between the loop and the batcher's thread were most of a message's
        delivery time. Otherwise, and always on PostgreSQL (a network round trip per statement), the loop
        awaits the batch instead of parking a worker thread on it. Cancelled before its batch begins, the
        message is not written; after, it is (the caller decides what to wait for)."""
        job = self._post_job(conversation_id, kind, body, author, author_name)
        events = self._post_at_once(job)
        if events is not None:
            return events
        return await asyncio.wrap_future(self.posts.enqueue(job))

    def post_at_once(self, conversation_id: UUID, *, kind: str, body: str, author: User | None,
                     author_name: str = "") -> list[Event] | None:
        """`post`, from the event loop, only when it can be written right here without waiting (SQLite, no
        other writer at work this instant); None otherwise, with nothing written (`post_from_loop` then)."""
        return self._post_at_once(self._post_job(conversation_id, kind, body, author, author_name))

    def _post_at_once(self, job: PostJob) -> list[Event] | None:
        if self.db.dialect != "sqlite":
            return None
        try:
            direct = post_direct(self, job)  # the common post, straight through the driver
            if direct is not None:
                return direct
            outcome = process_posts(self, [job], wait=False)[0]
        except WriterBusy:
            return None  # the batcher's thread waits for the other writer, not the event loop
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @staticmethod
    def _post_job(conversation_id: UUID, kind: str, body: str, author: User | None, author_name: str) -> PostJob:
        text = body.strip()
        if not text or len(text) > MAX_BODY:
            raise InvalidRequest(f"a message is 1 to {MAX_BODY} characters")
        if kind not in KINDS:
            raise InvalidRequest("a message is inbound, outbound or a note")
        return PostJob(conversation_id, kind, text, author, author_name)

    def messages_after(self, conversation_id: UUID, after: int, *, with_notes: bool) -> list[dict[str, Any]]:
        with self.db.reader() as uow:
            return [message_view(m) for m in store.messages_after(uow.session, conversation_id, max(after, 0),
                                                                 with_notes=with_notes)]

    # --- agents at work ------------------------------------------------------------------------------------

    def may_see(self, agent: User, conversation_id: UUID) -> bool:
        """Supervisors and admins see every conversation; an agent those of their team and their own."""
        with self.db.reader() as uow:
            conversation = uow.session.get(store.ConversationRow, conversation_id)
            row = uow.session.get(store.AgentRow, agent.id)
        if conversation is None or row is None:
            return False
        if agent.roles & {"supervisor", "admin"}:
            return True
        return conversation.team == row.team or conversation.assignee_id == agent.id

    def change_status(self, conversation_id: UUID, status: str, agent: User, until: object = None
                      ) -> list[Event]:
        """Move a conversation to `status`; a snooze says when it ends (`until`: snooze_end)."""
        now = self.clock.now()
        try:
            wanted = Status(status)
        except ValueError:
            raise InvalidRequest("status is open, pending, snoozed, resolved or closed") from None
        snoozed_until = snooze_end(until, now) if wanted == Status.SNOOZED else None
        with self.db.uow() as uow:
            s = uow.session
            conversation = self._conversation_for_update(s, conversation_id)
            conversation.status = domain.move(Status(conversation.status), wanted).value
            conversation.snoozed_until = snoozed_until
            text, data = f"status: {wanted.value}", {"status": wanted.value}
            if snoozed_until is not None:
                text += f" until {snoozed_until:%Y-%m-%d %H:%M} UTC"
                data["until"] = snoozed_until.isoformat()
            message = self.append_in(s, conversation, "event", text, agent.id, agent.display_name, now, data)
            events: list[Event] = [(conversation_channel(conversation.id), message_view(message))]
            if wanted in (Status.RESOLVED, Status.CLOSED) and conversation.assignee_id is not None:
                events += self._serve_queue_in(s, conversation.team)  # the assignee has room for one more
            uow.commit()
            return events

    def wake_snoozed(self) -> int:
        """Reopen snoozed conversations whose time has come (a job, every 30 s); their timeline says so, and
        the sockets hear it live where `announce` is set. How many woke."""
        now = self.clock.now()
        with self.db.uow() as uow:
            rows = uow.session.scalars(select(store.ConversationRow).where(
                store.ConversationRow.status == Status.SNOOZED.value,
                or_(store.ConversationRow.snoozed_until <= now,  # (none: snoozed before snoozes had an end)
                    store.ConversationRow.snoozed_until.is_(None)))
                .order_by(store.ConversationRow.id).with_for_update(skip_locked=True))
            events: list[Event] = []
            for row in rows:
                row.status = domain.wake(Status(row.status), row.snoozed_until, now).value
                row.snoozed_until = None
                message = self.append_in(uow.session, row, "event", "status: open (snooze ended)", None, "", now,
                                         {"status": "open", "woke": True})
                events.append((conversation_channel(row.id), message_view(message)))
            uow.commit()
        announce = self.announce  # (the app clears it as it stops)
        if events and announce is not None:
            announce(events)
        return len(events)

    def assign(self, conversation_id: UUID, assignee_id: UUID, by: User) -> list[Event]:
        """Manual assignment (or taking a conversation: `assignee_id` = oneself)."""
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            if s.get(store.AgentRow, assignee_id) is None:
                raise NotAnAgent("that person is not an agent")
            conversation = self._conversation_for_update(s, conversation_id)
            previous, conversation.assignee_id = conversation.assignee_id, assignee_id
            name = self.identity.user_in(s, assignee_id).display_name
            message = self.append_in(s, conversation, "event", f"assigned to {name} by {by.display_name}", by.id,
                                      by.display_name, now, {"assignee": str(assignee_id)})
            events: list[Event] = [
                (conversation_channel(conversation.id), message_view(message)),
                (agent_channel(assignee_id), {"type": "assigned", "conversation_id": str(conversation.id)})]
            if previous is not None and previous != assignee_id:
                events += self._serve_queue_in(s, conversation.team)  # the previous assignee has room again
            uow.commit()
            return events

    # --- inside a transaction ------------------------------------------------------------------------------

    @staticmethod
    def _conversation_for_update(s: Any, conversation_id: UUID) -> store.ConversationRow:
        row = s.scalars(select(store.ConversationRow).where(store.ConversationRow.id == conversation_id)
                        .with_for_update()).first()
        if row is None:
            raise NotFound("no such conversation")
        return row  # type: ignore[no-any-return]

    def append_in(self, s: Any, conversation: store.ConversationRow | Head, kind: str, body: str,
                  author_id: UUID | None, author_name: str, now: datetime, data: dict[str, Any] | None = None,
                  ) -> store.MessageRow | store.NewMessage:
        # The caller holds the conversation's row lock (read FOR UPDATE in this transaction), so its number is
        # the next one. The message and the conversation's new number are written together: a Head's by
        # messages.write_heads (`s` is not needed then), a row's by the session's flush — one UPDATE however
        # many messages a batch adds.
        seq = conversation.last_seq + 1
        conversation.last_seq, conversation.updated_at = seq, now
        fields: dict[str, Any] = {"id": uuid7(), "conversation_id": conversation.id, "seq": seq, "kind": kind,
                                  "author_id": author_id, "author_name": author_name[:100], "body": body, "data": data,
                                  "created_at": now}
        if isinstance(conversation, Head):
            message = store.NewMessage(**fields)
            conversation.new.append(message)
            return message
        row = store.MessageRow(**fields)
        s.add(row)
        return row

    def reopened_in(self, s: Any, conversation: store.ConversationRow | Head, was: Status, now: datetime
                    ) -> list[Event]:
        """The timeline's event for a customer's message that reopened the conversation (it was pending,
        snoozed or resolved), after that message; none when its status didn't change."""
        if conversation.status == was.value:
            return []
        event = self.append_in(s, conversation, "event", f"status: {conversation.status} (the customer wrote)",
                               None, "", now, {"status": conversation.status, "reopened": True})
        return [(conversation_channel(conversation.id), message_view(event))]

    def assign_in(self, s: Any, conversation: store.ConversationRow | Head, now: datetime) -> list[Event]:
        chosen = domain.pick_agent(self._loads(s), conversation.team)
        if chosen is None:
            return [(team_channel(conversation.team), {"type": "queued", "conversation_id": str(conversation.id)})]
        agent = s.get(store.AgentRow, chosen.user_id)
        agent.last_assigned_at = now
        conversation.assignee_id = chosen.user_id
        name = self.identity.user_in(s, chosen.user_id).display_name
        message = self.append_in(s, conversation, "event", f"assigned to {name}", chosen.user_id, name, now,
                                  {"assignee": str(chosen.user_id)})
        return [(conversation_channel(conversation.id), message_view(message)),
                (agent_channel(chosen.user_id), {"type": "assigned", "conversation_id": str(conversation.id)})]

    def _serve_queue_in(self, s: Any, team: str) -> list[Event]:
        """Give waiting conversations of `team` to free agents, oldest first."""
        now = self.clock.now()
        events: list[Event] = []
        waiting = s.scalars(select(store.ConversationRow).where(
            store.ConversationRow.team == team, store.ConversationRow.assignee_id.is_(None),
            store.ConversationRow.status == Status.OPEN.value, store.ConversationRow.last_seq > 0,
        ).order_by(store.ConversationRow.waiting_since).with_for_update(skip_locked=True)).all()
        # (skip_locked: a conversation another transaction is writing is served at the next chance, instead of
        # waiting for it here while holding other rows — two such waits could deadlock)
        for conversation in waiting:
            given = self.assign_in(s, conversation, now)
            if conversation.assignee_id is None:
                break
            events += given
        return events


def snooze_end(value: object, now: datetime) -> datetime:
    """When a snooze ends: `value`, a time with its offset in ISO 8601 (`2026-12-05T17:00:00Z`), after `now` and
    at most SNOOZE_MAX later; InvalidRequest otherwise (a snooze without an end would never wake)."""
    problem = InvalidRequest("a snooze needs `until`: a time with its offset (ISO 8601), within the next 30 days")
    if not isinstance(value, str) or len(value) > 40:
        raise problem
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise problem from None
    if at.tzinfo is None or not now < at <= now + SNOOZE_MAX:
        raise problem
    return at.astimezone(UTC)

"""Support desk use cases: a visitor's conversation, numbered messages, assignment, status changes (agents
and their availability: agents.py; the agents' tools: tools.py). Each returns the realtime events to publish
(`(channel, event)` pairs); the WebSocket layer publishes them after the transaction has committed."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select

from paydesk.core.batching import Batcher
from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import DomainError, InvalidRequest, NotFound
from paydesk.core.ids import uuid7
from paydesk.core.writers import WriterBusy
from paydesk.identity.domain import normalize_email as domain_email
from paydesk.identity.service import IdentityService, User
from paydesk.notify.service import NotifyService
from paydesk.support import attachments, domain, store
from paydesk.support.agents import DEFAULT_TEAM, AgentPresence
from paydesk.support.attachments import BlobStore
from paydesk.support.domain import Status
from paydesk.support.events import Event, agent_channel, conversation_channel, message_view, team_channel
from paydesk.support.messages import KINDS, Head, PostJob, post_direct, process_posts
from paydesk.support.tools import MAX_BODY, AgentTools, NotAnAgent

SNOOZE_MAX = timedelta(days=30)
# Where the events of background work (a snooze ending) go: the serving app sets it while it runs, to publish
# them on its event loop. None (a `paydesk worker` process, or tests): nobody hears of them live, and the
# sockets read them from the database with the conversation's next message, or when they reconnect.
Announcer = Callable[[list[Event]], None]


class ChatOfAnotherAccount(DomainError):
    """A visitor token whose chat a signed-in customer's session linked to their account, presented by someone
    else (signed out, or another account: a shared browser). They start a chat of their own instead."""

    code = "chat_of_another_account"
    status = 403
    title = "This chat belongs to another account"


def _owned(contact: store.ContactRow | None, user: User | None) -> store.ContactRow | None:
    """`contact`, when whoever presents its token may have it: one linked to an account only to that account."""
    if contact is not None and contact.user_id is not None and (user is None or user.id != contact.user_id):
        raise ChatOfAnotherAccount("this browser's chat belongs to another account; a new chat starts for you")
    return contact


class SupportService(AgentPresence, AgentTools):
    def __init__(self, db: Database, clock: Clock, identity: IdentityService, notify: NotifyService,
                 wallet_id_of: Callable[[UUID], str] | None = None, blobs: BlobStore | None = None) -> None:
        self.db, self.clock, self.identity, self.notify = db, clock, identity, notify
        self.blobs = blobs
        self.wallet_id_of = wallet_id_of  # the wallet's public id of a user (for canned replies)
        self.announce: Announcer | None = None
        self.posts: Batcher[PostJob, list[Event]] = Batcher(
            "support-posts", lambda jobs: process_posts(self, jobs), window_s=0.0, max_size=256)

    # --- visitors -------------------------------------------------------------------------------------------

    @staticmethod
    def new_visitor_token() -> str:
        return secrets.token_urlsafe(32)

    def visitor_conversation(self, token: str, user: User | None = None, name: str = "") -> dict[str, Any]:
        """The visitor's current conversation (opened on first contact). A signed-in visitor's contact is linked
        to their wallet user by the session — never by anything they type."""
        if not 20 <= len(token) <= 100:
            raise InvalidRequest("a visitor token from POST /api/v1/support/visitors")
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            contact = _owned(store.visitor_contact(s, digest, for_update=True), user)
            if contact is None:
                contact = store.ContactRow(id=uuid7(), channel="webchat", external_id=digest,
                                           user_id=user.id if user else None,
                                           name=(user.display_name if user else name)[:100], created_at=now)
                s.add(contact)
                s.flush()
            elif user is not None and contact.user_id is None:
                # Linked to the account that signs in, unless someone already chatted on it signed out (on a
                # shared browser, that may be someone else, whose words the account must not read).
                if store.contact_said_anything(s, contact.id):
                    raise ChatOfAnotherAccount("this browser's chat was started signed out; a new chat starts for "
                                               "your account")
                contact.user_id = user.id
            conversation = store.current_conversation(s, contact.id)
            if conversation is None:
                conversation = store.ConversationRow(
                    id=uuid7(), contact_id=contact.id, channel="webchat", kind="question", subject="",
                    status=Status.OPEN.value, priority="normal", team=DEFAULT_TEAM, assignee_id=None, labels=[],
                    last_seq=0, snoozed_until=None, waiting_since=now, created_at=now, updated_at=now,
                )
                s.add(conversation)
            uow.commit()
            online = any(a.online and a.team == conversation.team for a in self._loads(s))
            return {"conversation_id": str(conversation.id), "last_seq": conversation.last_seq,
                    "status": conversation.status, "assigned": conversation.assignee_id is not None,
                    "agents_online": online, "email": contact.email is not None}

    def leave_email(self, conversation_id: UUID, address: str, locale: str = "en") -> list[Event]:
        """Nobody was online: the visitor leaves an address, and agents' replies also go there by email."""
        email = domain_email(address)
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            conversation = self._conversation_for_update(s, conversation_id)
            contact = s.get(store.ContactRow, conversation.contact_id)
            assert contact is not None  # noqa: S101 - every conversation has its contact
            contact.email, contact.locale = email, locale if locale in ("en", "zh-CN") else "en"
            message = self.append_in(s, conversation, "event", "the visitor left an email address for replies",
                                      None, "", now, {"email_follow_up": True})
            uow.commit()
            return [(conversation_channel(conversation.id), message_view(message))]

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

    def rate(self, conversation_id: UUID, score: object, comment: str = "") -> list[Event]:
        """The customer's satisfaction with a resolved conversation: 1 to 5, and a comment (once)."""
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise InvalidRequest("a score from 1 to 5")
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            conversation = self._conversation_for_update(s, conversation_id)
            if conversation.status not in (Status.RESOLVED.value, Status.CLOSED.value) or conversation.csat:
                raise domain.BadMove("ratings are for resolved conversations, once")
            conversation.csat = score
            message = self.append_in(s, conversation, "event", f"rated {score}/5" + (f": {comment.strip()[:500]}"
                                      if comment.strip() else ""), None, "", now, {"csat": score})
            uow.commit()
            return [(conversation_channel(conversation.id), message_view(message))]

    def visitor_conversation_id(self, token: str, user: User | None = None) -> UUID:
        """The conversation a visitor token opens (without creating one), for `user` (signed in, or None)."""
        with self.db.reader() as uow:
            contact = _owned(store.visitor_contact(uow.session, hashlib.sha256(token.encode()).hexdigest()), user)
            if contact is not None and user is not None and contact.user_id is None and \
                    store.contact_said_anything(uow.session, contact.id):  # begun signed out: not the account's
                raise ChatOfAnotherAccount("this browser's chat was started signed out")
            row = store.current_conversation(uow.session, contact.id) if contact else None
        if row is None:
            raise NotFound("no such conversation")
        return row.id

    def attach(self, conversation_id: UUID, name: str, data: bytes, *, agent: User | None) -> list[Event]:
        """A checked file as a message of the conversation (from the visitor, or from an agent)."""
        clean, content_type = attachments.check(name, data)
        assert self.blobs is not None  # noqa: S101 - the container always gives one
        key = self.blobs.put(data)
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            conversation = self._conversation_for_update(s, conversation_id)
            row = store.AttachmentRow(id=uuid7(), conversation_id=conversation.id, name=clean,
                                      content_type=content_type, size=len(data), blob_key=key, created_at=now)
            s.add(row)
            info = {"attachment": {"id": str(row.id), "name": clean, "type": content_type, "size": len(data),
                                   "image": content_type in attachments.IMAGE_TYPES}}
            kind, was = "outbound" if agent else "inbound", Status(conversation.status)
            message = self.append_in(s, conversation, kind, clean, agent.id if agent else None,
                                      agent.display_name if agent else "Visitor", now, info)
            if kind == "inbound":
                conversation.status = domain.after_customer_message(was).value
            events = [(conversation_channel(conversation.id), message_view(message)),
                      *self.reopened_in(s, conversation, was, now)]
            uow.commit()
            return events

    def attachment(self, attachment_id: UUID, *, conversation_id: UUID | None, agent: User | None
                   ) -> tuple[str, str, bytes]:
        """(name, content type, bytes) for the visitor of its conversation or an agent who may see it."""
        with self.db.reader() as uow:
            row = uow.session.get(store.AttachmentRow, attachment_id)
        allowed = row is not None and (
            (conversation_id is not None and row.conversation_id == conversation_id)
            or (agent is not None and self.may_see(agent, row.conversation_id)))
        if row is None or not allowed or self.blobs is None:
            raise NotFound("no such attachment")
        return row.name, row.content_type, self.blobs.get(row.blob_key)

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

"""Posting chat messages with group commit. Many sockets post at once; one thread writes whatever is waiting
in one transaction and commits once; a refused message (a closed conversation) is checked before anything is
written and fails only its sender. Should a message fail halfway, the batch is undone and its messages go
again one transaction each. The conversations of a batch are locked up front in id order; should two
processes' batches still meet over agents' rows (both assigning at once), the database aborts one and its
messages are retried one by one (core/batching.py). A message's number is the locked row's next one, so
numbering stays per conversation and gap-free.

Every chat message that isn't written directly takes this way (all of them on PostgreSQL), so it is written
with a few prepared statements rather than through the ORM's unit of work (which cost 2.5 ms a message
against 0.6 ms): the batch reads the heads of its conversations (`Head`), adds the messages to them, and
writes the new messages in one INSERT and each conversation's new state in one UPDATE. Rarer work inside a
post (assigning an agent, mailing a reply) still uses the ORM in the same transaction.

On SQLite, a socket's message is written on the event loop when no other writer is at work that instant: the
common one (no agent to find, no reply to mail) straight through the driver (`post_direct`), the rest by
`process_posts` on a writer that doesn't wait."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import bindparam, insert, select, update

from paydesk.core.db import sqlite_time
from paydesk.core.errors import DomainError, NotFound
from paydesk.core.ids import uuid7
from paydesk.core.prepared import Prepared
from paydesk.core.writers import Writer
from paydesk.identity.service import User
from paydesk.support import domain, store
from paydesk.support.domain import Status
from paydesk.support.events import Event, conversation_channel, message_view

if TYPE_CHECKING:
    from paydesk.support.service import SupportService

KINDS = ("inbound", "outbound", "note")


@dataclass(frozen=True)
class PostJob:
    conversation_id: UUID
    kind: str  # inbound (the customer), outbound (an agent's reply), note (agents only)
    body: str
    author: User | None
    author_name: str


@dataclass
class Head:
    """What a batch reads of a conversation (under its lock) and writes back once: the fields a post reads
    or changes, and the messages it added."""

    id: UUID
    status: str
    team: str
    assignee_id: UUID | None
    contact_id: UUID
    last_seq: int
    waiting_since: datetime
    updated_at: datetime
    new: list[store.NewMessage] = field(default_factory=list)


_C, _M = store.ConversationRow, store.MessageRow
_HEAD_FIELDS = ("id", "status", "team", "assignee_id", "contact_id", "last_seq", "waiting_since", "updated_at")
LOCK_HEAD = Prepared(select(*(getattr(_C, name) for name in _HEAD_FIELDS)).where(_C.id == bindparam("head"))
                     .with_for_update())
_WRITTEN = ("status", "assignee_id", "last_seq", "waiting_since", "updated_at")
WRITE_HEAD = Prepared(update(_C).where(_C.id == bindparam("head"))
                      .values({name: bindparam(name) for name in _WRITTEN}))
_MESSAGE_FIELDS = tuple(column.key for column in _M.__table__.columns)
INSERT_MESSAGE = Prepared(insert(_M).values({name: bindparam(name) for name in _MESSAGE_FIELDS}))
CONTACT_ADDRESS = Prepared(select(store.ContactRow.email, store.ContactRow.locale, store.ContactRow.name)
                           .where(store.ContactRow.id == bindparam("contact")))


def process_posts(support: SupportService, jobs: Sequence[PostJob], *, wait: bool = True,
                  ) -> list[list[Event] | BaseException]:
    """One outcome per job. `wait=False`: raise WriterBusy rather than wait for another writer (SQLite)."""
    now = support.clock.now()
    with support.db.writer(wait=wait) as w:
        heads = {row[0]: Head(*row) for cid in sorted({j.conversation_id for j in jobs})  # locked in id order
                 for row in LOCK_HEAD.rows(w.connection, {"head": cid})}
        batch = list(heads.values())
        results: list[list[Event] | BaseException] = []
        for job in jobs:
            head = heads.get(job.conversation_id)
            refused = refusal(head.status if head is not None else None)
            if refused is not None:  # nothing written for it: the batch goes on without it
                results.append(refused)
                continue
            assert head is not None  # noqa: S101 - refusal() says so
            try:
                results.append(post_in(support, w, head, job, now, batch=batch))
            except DomainError as exc:  # refused halfway (nothing does today): undo the batch
                if len(jobs) == 1:
                    return [exc]  # nothing committed
                break
        else:
            write_heads(w, batch)
            w.commit()
            return results
    # Each message again in a transaction of its own, each with exactly one outcome (a database error on one
    # must not send the batcher back over messages already committed here).
    outcomes: list[list[Event] | BaseException] = []
    for job in jobs:
        try:
            outcomes.append(process_posts(support, [job])[0])
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def write_heads(w: Writer, heads: Iterable[Head]) -> None:
    """The new messages of `heads`, in one INSERT, and the new state of their conversations, in one UPDATE
    (a conversation changes only with a message)."""
    changed = [head for head in heads if head.new]
    if not changed:
        return
    INSERT_MESSAGE.many(w.connection, [{name: getattr(message, name) for name in _MESSAGE_FIELDS}
                                     for head in changed for message in head.new])
    WRITE_HEAD.many(w.connection, [{"head": head.id, **{name: getattr(head, name) for name in _WRITTEN}}
                                 for head in changed])
    for head in changed:
        head.new.clear()


def refusal(status: str | None) -> DomainError | None:
    """Why this message can't be written to a conversation in `status` (None: none was found), checked before
    anything is."""
    if status is None:
        return NotFound("no such conversation")
    if status == Status.CLOSED.value:  # (the visitor's next socket opens a new conversation)
        return domain.BadMove("the conversation is closed; write again to start a new one")
    return None


# The direct path's statements: the head's few fields as stored, and the head's new state (never its status: a
# message that changes it takes the full way, which adds the change's event to the timeline).
_DIRECT_HEAD = Prepared(select(_C.status, _C.assignee_id, _C.last_seq, _C.waiting_since, _C.contact_id)
                        .where(_C.id == bindparam("head")))
_ADVANCE = Prepared(update(_C).where(_C.id == bindparam("head")).values(
    last_seq=bindparam("last_seq"), waiting_since=bindparam("waiting_since"), updated_at=bindparam("updated_at")))
_CONTACT_EMAIL = Prepared(select(store.ContactRow.email).where(store.ContactRow.id == bindparam("contact")))
# Their parameters in the order the driver takes them (Prepared.sql_for checks it), and a message's `data` as
# stored when it has none (the JSON column's null).
_INSERTED = ("id", "conversation_id", "seq", "kind", "author_id", "author_name", "body", "data", "created_at")
_ADVANCED = ("last_seq", "waiting_since", "updated_at", "head")
_NO_DATA = json.dumps(None)


def post_direct(support: SupportService, job: PostJob) -> list[Event] | None:
    """One chat message written on the event loop straight through SQLite's driver (Database.sqlite_driver):
    the common post, which reads its conversation's head, adds the message and writes the head's new state —
    what process_posts writes for it, with SQLite's own types (UUIDs as 16 bytes, times as sqlite_time text,
    JSON as text), in about half the time. None, with nothing written, when the post needs more than that
    (the conversation is to be reopened or assigned, or a reply mailed): the caller writes it the full way.
    Refused as process_posts refuses; WriterBusy when another writer is at work."""
    with support.db.sqlite_driver() as driver:
        outcome = _direct(support, driver, job)
    if isinstance(outcome, DomainError):
        raise outcome  # (nothing written: the transaction was rolled back, the connection kept)
    return outcome


def _direct(support: SupportService, driver: sqlite3.Connection, job: PostJob) -> list[Event] | DomainError | None:
    dialect = support.db.engine.dialect
    cid = job.conversation_id.bytes
    head = driver.execute(_DIRECT_HEAD.sql_for(dialect, ("head",)), (cid,)).fetchone()
    refused = refusal(head[0] if head else None)
    if refused is not None:
        return refused
    status, assignee, last_seq, waiting_since, contact = head
    was = Status(status)
    now = support.clock.now()
    at = sqlite_time(now)
    if job.kind == "inbound":
        status = domain.after_customer_message(was).value
        if status != was.value or assignee is None and domain.needs_assignment(was, last_seq):
            return None  # reopening it (an event in its timeline too), or assigning it: the full way
    elif job.kind == "outbound":
        waiting_since = at
        if any(email for email, in driver.execute(_CONTACT_EMAIL.sql_for(dialect, ("contact",)), (contact,))):
            return None  # the reply is mailed too, through the outbox
    author = job.author
    message = store.NewMessage(uuid7(), job.conversation_id, last_seq + 1, job.kind, author.id if author else None,
                               (author.display_name if author else job.author_name)[:100], job.body, None, now)
    driver.execute(INSERT_MESSAGE.sql_for(dialect, _INSERTED),
                   (message.id.bytes, cid, message.seq, message.kind, author.id.bytes if author else None,
                    message.author_name, message.body, _NO_DATA, at))
    driver.execute(_ADVANCE.sql_for(dialect, _ADVANCED), (message.seq, waiting_since, at, cid))
    driver.commit()
    return [(conversation_channel(job.conversation_id), message_view(message))]


def post_in(support: SupportService, w: Writer, conversation: Head, job: PostJob, now: datetime, *,
            batch: Sequence[Head] = ()) -> list[Event]:
    """One message inside the caller's transaction (the conversation row is locked; `refusal` passed it).
    `batch`: every head of the transaction, written before an assignment counts the agents' loads."""
    was, before = Status(conversation.status), conversation.last_seq
    if job.kind == "inbound":
        conversation.status = domain.after_customer_message(was).value
    author_id = job.author.id if job.author else None
    message = support.append_in(None, conversation, job.kind, job.body, author_id,
                                job.author.display_name if job.author else job.author_name, now)
    events: list[Event] = [(conversation_channel(conversation.id), message_view(message)),
                           *support.reopened_in(None, conversation, was, now)]
    if job.kind == "inbound" and conversation.assignee_id is None and domain.needs_assignment(was, before):
        write_heads(w, batch or [conversation])  # conversations assigned earlier in the batch count
        events += support.assign_in(w.session, conversation, now)
    if job.kind == "outbound":
        conversation.waiting_since = now
        for email, locale, name in CONTACT_ADDRESS.rows(w.connection, {"contact": conversation.contact_id}):
            if email:  # they left an address: the reply goes there too
                support.notify.enqueue_in(w.session, to=email, locale=locale, template="support_reply",
                                          context={"agent": message.author_name, "body": job.body, "name": name})
    return events

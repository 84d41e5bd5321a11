"""Posting chat messages with group commit. Many sockets post at once; one thread writes whatever is waiting
in one transaction and commits once; a refused message (a closed conversation) is checked before anything is
written and fails only its sender. Should a message fail halfway, the batch is undone and its messages go
again one transaction each. The conversations of a batch are locked up front in id order; should two
processes' batches still meet over agents' rows (both assigning at once), the database aborts one and its
messages are retried one by one (core/batching.py). A message's number is the locked row's next one, so
numbering stays per conversation and gap-free."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from paydesk.core.errors import DomainError, NotFound
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


def process_posts(support: SupportService, jobs: Sequence[PostJob]) -> list[list[Event] | BaseException]:
    now = support.clock.now()
    with support.db.uow() as uow:
        s = uow.session
        rows = {r.id: r for r in s.scalars(
            select(store.ConversationRow).where(store.ConversationRow.id.in_({j.conversation_id for j in jobs}))
            .order_by(store.ConversationRow.id).with_for_update())}
        results: list[list[Event] | BaseException] = []
        for job in jobs:
            conversation = rows.get(job.conversation_id)
            refused = refusal(conversation, job)
            if refused is not None:  # nothing written for it: the batch goes on without it
                results.append(refused)
                continue
            assert conversation is not None  # noqa: S101 - refusal() says so
            try:
                results.append(post_in(support, s, conversation, job, now))
            except DomainError as exc:  # refused halfway (nothing does today): undo the batch
                if len(jobs) == 1:
                    return [exc]  # nothing committed
                break
        else:
            uow.commit()
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


def refusal(conversation: store.ConversationRow | None, job: PostJob) -> DomainError | None:
    """Why this message can't be written, checked before anything is."""
    if conversation is None:
        return NotFound("no such conversation")
    if job.kind != "inbound" and conversation.status == Status.CLOSED.value:
        return domain.BadMove("the conversation is closed")
    return None


def post_in(support: SupportService, s: Session, conversation: store.ConversationRow, job: PostJob,
            now: datetime) -> list[Event]:
    """One message inside the caller's transaction (the conversation row is locked; `refusal` passed it)."""
    was, before = Status(conversation.status), conversation.last_seq
    if job.kind == "inbound":
        conversation.status = domain.after_customer_message(was).value
    author_id = job.author.id if job.author else None
    message = support.append_in(s, conversation, job.kind, job.body, author_id,
                                job.author.display_name if job.author else job.author_name, now)
    events: list[Event] = [(conversation_channel(conversation.id), message_view(message))]
    if job.kind == "inbound" and conversation.assignee_id is None and domain.needs_assignment(was, before):
        events += support.assign_in(s, conversation, now)
    if job.kind == "outbound":
        conversation.waiting_since = now
        contact = s.get(store.ContactRow, conversation.contact_id)
        if contact is not None and contact.email:  # they left an address: the reply goes there too
            support.notify.enqueue_in(s, to=contact.email, locale=contact.locale, template="support_reply",
                                      context={"agent": message.author_name, "body": job.body,
                                               "name": contact.name or ""})
    return events

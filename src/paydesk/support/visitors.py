"""The visitors' side of the desk, part of `SupportService`: the conversation a visitor token opens (and
whose it may be), an email address for replies, a rating, and a chat's files."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy.orm import Session

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import DomainError, InvalidRequest, NotFound
from paydesk.core.ids import uuid7
from paydesk.identity.domain import normalize_email as domain_email
from paydesk.identity.service import User
from paydesk.support import attachments, domain, store
from paydesk.support.agents import DEFAULT_TEAM
from paydesk.support.attachments import BlobStore
from paydesk.support.domain import Status
from paydesk.support.events import Event, conversation_channel, message_view


class ChatOfAnotherAccount(DomainError):
    """A visitor token whose chat isn't the presenter's: linked to a signed-in customer's account and presented
    by someone else (signed out, or another account: a shared browser), or begun signed out and presented by an
    account signing in once something was said in it. They start a chat of their own instead."""

    code = "chat_of_another_account"
    status = 403
    title = "This chat belongs to another account"


def _visitor_contact(s: Session, token: str, user: User | None, *, for_update: bool = False
                     ) -> store.ContactRow | None:
    """The contact of a visitor token (None: none yet), when `user` (signed in, or None) may have its chat: one
    linked to an account only to that account; one begun signed out not to an account once anything was said in
    it (on a shared browser, that may be someone else, whose words the account must not read)."""
    contact = store.visitor_contact(s, hashlib.sha256(token.encode()).hexdigest(), for_update=for_update)
    if contact is None:
        return None
    if contact.user_id is not None and (user is None or user.id != contact.user_id):
        raise ChatOfAnotherAccount("this browser's chat belongs to another account; a new chat starts for you")
    if user is not None and contact.user_id is None and store.contact_said_anything(s, contact.id):
        raise ChatOfAnotherAccount("this browser's chat was started signed out; a new chat starts for your account")
    return contact


class VisitorChats:
    db: Database
    clock: Clock
    blobs: BlobStore | None

    if TYPE_CHECKING:  # provided by SupportService
        def may_see(self, agent: User, conversation_id: UUID) -> bool: ...

        def _conversation_for_update(self, s: Any, conversation_id: UUID) -> store.ConversationRow: ...

        def _loads(self, s: Any, rows: Any = None) -> list[domain.AgentLoad]: ...

        def append_in(self, s: Any, conversation: store.ConversationRow, kind: str, body: str,
                      author_id: UUID | None, author_name: str, now: datetime,
                      data: dict[str, Any] | None = None) -> store.MessageRow | store.NewMessage: ...

        def reopened_in(self, s: Any, conversation: store.ConversationRow, was: Status, now: datetime
                        ) -> list[Event]: ...

    @staticmethod
    def new_visitor_token() -> str:
        return secrets.token_urlsafe(32)

    def visitor_conversation(self, token: str, user: User | None = None, name: str = "") -> dict[str, Any]:
        """The visitor's current conversation (opened on first contact). A signed-in visitor's contact is linked
        to their wallet user by the session — never by anything they type."""
        if not 20 <= len(token) <= 100:
            raise InvalidRequest("a visitor token from POST /api/v1/support/visitors")
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            contact = _visitor_contact(s, token, user, for_update=True)  # (one opening of a conversation at a time)
            if contact is None:
                contact = store.ContactRow(id=uuid7(), channel="webchat",
                                           external_id=hashlib.sha256(token.encode()).hexdigest(),
                                           user_id=user.id if user else None,
                                           name=(user.display_name if user else name)[:100], created_at=now)
                s.add(contact)
                s.flush()
            elif user is not None and contact.user_id is None:
                contact.user_id = user.id  # (nothing was said in it yet: _visitor_contact)
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

    def visitor_conversation_id(self, token: str, user: User | None = None) -> UUID:
        """The conversation a visitor token opens (without creating one), for `user` (signed in, or None)."""
        with self.db.reader() as uow:
            contact = _visitor_contact(uow.session, token, user)
            row = store.current_conversation(uow.session, contact.id) if contact else None
        if row is None:
            raise NotFound("no such conversation")
        return row.id

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

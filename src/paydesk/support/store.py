"""Agents, contacts, conversations and their numbered messages. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.db import Base, UTCDateTime, UUIDType


class AgentRow(Base):
    __tablename__ = "support_agents"

    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"), primary_key=True)
    team: Mapped[str] = mapped_column(String(40))
    capacity: Mapped[int] = mapped_column(Integer)
    manual_status: Mapped[str] = mapped_column(String(10))  # online, away, offline: what the agent chose
    connections: Mapped[int] = mapped_column(Integer, default=0)  # open console sockets, all processes
    # The last sign of life from a process holding one of those sockets (every PRESENCE_BEAT_S): a process that
    # dies without closing its sockets stops beating, and the agent counts as offline after PRESENCE_TTL.
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ContactRow(Base):
    """A person on a channel: a chat visitor (by the hash of their visitor token), later an email address or
    a phone number; linked to a wallet user when identified by their session."""

    __tablename__ = "support_contacts"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[UUID | None] = mapped_column(UUIDType(), ForeignKey("users.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)  # for follow-up when nobody was online
    locale: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_support_contacts_channel_external"),)


class ConversationRow(Base):
    __tablename__ = "support_conversations"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    contact_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("support_contacts.id"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="question")
    subject: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    team: Mapped[str] = mapped_column(String(40))
    assignee_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    csat: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1–5, asked when resolved
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_support_conversations_contact", "contact_id"),
                      Index("ix_support_conversations_assignee_status", "assignee_id", "status"))


class MessageRow(Base):
    """One entry of a conversation: numbered 1, 2, 3 … per conversation, so a client that reconnects asks for
    what came after the last number it saw."""

    __tablename__ = "support_messages"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    conversation_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("support_conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # inbound, outbound, note, event
    author_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)
    author_name: Mapped[str] = mapped_column(String(100), default="")
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_support_messages_conversation_seq"),)


@dataclass(slots=True)
class NewMessage:
    """A message a batch of chat posts adds (support/messages.py writes them with one INSERT): the fields of a
    `MessageRow` without the ORM's bookkeeping, which cost more than the rest of building one."""

    id: UUID
    conversation_id: UUID
    seq: int
    kind: str
    author_id: UUID | None
    author_name: str
    body: str
    data: dict[str, Any] | None
    created_at: datetime


class CannedRow(Base):
    """A saved reply: `/shortcut` in the composer; `{customer_name}` and `{wallet_id}` are filled in."""

    __tablename__ = "support_canned"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    team: Mapped[str] = mapped_column(String(40))
    shortcut: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("team", "shortcut", name="uq_support_canned_team_shortcut"),)


class AttachmentRow(Base):
    __tablename__ = "support_attachments"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    conversation_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("support_conversations.id"))
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    blob_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def visitor_contact(session: Session, token_digest: str, *, for_update: bool = False) -> ContactRow | None:
    """The contact of a visitor token; `for_update`: locked (one opening of a conversation at a time)."""
    query = select(ContactRow).where(ContactRow.channel == "webchat", ContactRow.external_id == token_digest)
    return session.scalars(query.with_for_update() if for_update else query).first()


def contact_said_anything(session: Session, contact_id: UUID) -> bool:
    """Whether any conversation of the contact, closed ones too, holds a message."""
    return session.scalar(select(ConversationRow.id).where(ConversationRow.contact_id == contact_id,
                                                           ConversationRow.last_seq > 0).limit(1)) is not None


def current_conversation(session: Session, contact_id: UUID) -> ConversationRow | None:
    """The contact's newest conversation that isn't closed."""
    return session.scalars(select(ConversationRow).where(ConversationRow.contact_id == contact_id,
                                                         ConversationRow.status != "closed")
                           .order_by(ConversationRow.created_at.desc())).first()


def messages_after(session: Session, conversation_id: UUID, after: int, *, with_notes: bool,
                   limit: int = 500) -> list[MessageRow]:
    query = select(MessageRow).where(MessageRow.conversation_id == conversation_id, MessageRow.seq > after)
    if not with_notes:
        query = query.where(MessageRow.kind != "note")
    return list(session.scalars(query.order_by(MessageRow.seq).limit(limit)))


def active_counts(session: Session) -> dict[UUID, int]:
    rows = session.execute(
        select(ConversationRow.assignee_id, func.count()).where(
            ConversationRow.assignee_id.is_not(None), ConversationRow.status.in_(("open", "pending", "snoozed")))
        .group_by(ConversationRow.assignee_id)
    )
    return {r[0]: int(r[1]) for r in rows if r[0] is not None}

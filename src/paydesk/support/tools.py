"""The agents' tools and views, part of `SupportService`: saved replies (placeholders filled), labels,
priority, transcripts by email, the inbox views, the supervisor's board, one conversation for the console,
a wallet user's conversations for the side panel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import func, select

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import DomainError, InvalidRequest, NotFound
from paydesk.core.ids import uuid7
from paydesk.identity.domain import normalize_email as domain_email
from paydesk.identity.service import IdentityService, User
from paydesk.notify.service import NotifyService
from paydesk.support import domain, store
from paydesk.support.events import Event, conversation_channel, message_view

MAX_BODY = 5000  # characters in a message or a saved reply


TRANSCRIPTS_PER_HOUR = 3  # copies of one chat by email (the desk mails them: it must not be a relay)
TRANSCRIPT_EVENT = "a copy of the chat was emailed"


class TooManyTranscripts(DomainError):
    code = "too_many_transcripts"
    status = 429
    title = "This chat was emailed enough times for now"


class NotAnAgent(DomainError):
    code = "not_an_agent"
    status = 403
    title = "This needs a support agent's account"


class AgentTools:
    db: Database
    clock: Clock
    identity: IdentityService
    notify: NotifyService
    wallet_id_of: Callable[[UUID], str] | None

    if TYPE_CHECKING:  # provided by SupportService
        def agent(self, user: User) -> store.AgentRow: ...

        def may_see(self, agent: User, conversation_id: UUID) -> bool: ...

        def _conversation_for_update(self, s: Any, conversation_id: UUID) -> store.ConversationRow: ...

        def append_in(self, s: Any, conversation: store.ConversationRow, kind: str, body: str,
                      author_id: UUID | None, author_name: str, now: datetime,
                      data: dict[str, Any] | None = None) -> store.MessageRow | store.NewMessage: ...

        def _loads(self, s: Any, rows: Sequence[store.AgentRow] | None = None) -> list[domain.AgentLoad]: ...

    def save_canned(self, agent: User, shortcut: str, body: str) -> dict[str, str]:
        """A saved reply for the agent's team (replaces one with the same shortcut)."""
        key = shortcut.strip().lstrip("/").lower()
        if not key or len(key) > 40 or not key.replace("-", "").isalnum() or not 1 <= len(body.strip()) <= MAX_BODY:
            raise InvalidRequest("a shortcut of letters, digits and dashes, and a text of 1 to 5000 characters")
        team = self.agent(agent).team
        with self.db.uow() as uow:
            s = uow.session
            row = s.scalars(select(store.CannedRow).where(store.CannedRow.team == team,
                                                          store.CannedRow.shortcut == key)).first()
            if row is None:
                s.add(store.CannedRow(id=uuid7(), team=team, shortcut=key, body=body.strip(),
                                      created_at=self.clock.now()))
            else:
                row.body = body.strip()
            uow.commit()
        return {"shortcut": key, "body": body.strip(), "team": team}

    def canned(self, agent: User) -> list[dict[str, str]]:
        team = self.agent(agent).team
        with self.db.reader() as uow:
            return [{"shortcut": r.shortcut, "body": r.body} for r in uow.session.scalars(
                select(store.CannedRow).where(store.CannedRow.team == team).order_by(store.CannedRow.shortcut))]

    def fill_canned(self, agent: User, conversation_id: UUID, shortcut: str) -> str:
        """The saved reply's text for this conversation, placeholders filled in."""
        team = self.agent(agent).team
        with self.db.reader() as uow:
            s = uow.session
            row = s.scalars(select(store.CannedRow).where(store.CannedRow.team == team, store.CannedRow.shortcut ==
                                                          shortcut.strip().lstrip("/").lower())).first()
            conversation = s.get(store.ConversationRow, conversation_id)
            contact = s.get(store.ContactRow, conversation.contact_id) if conversation else None
        if row is None or contact is None:
            raise NotFound("no such saved reply")
        wallet_id = self.wallet_id_of(contact.user_id) if contact.user_id and self.wallet_id_of else ""
        return row.body.replace("{customer_name}", contact.name or "").replace("{wallet_id}", wallet_id)

    def set_priority(self, conversation_id: UUID, priority: str, agent: User) -> list[Event]:
        if priority not in ("low", "normal", "high", "urgent"):
            raise InvalidRequest("priority is low, normal, high or urgent")
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            conversation = self._conversation_for_update(s, conversation_id)
            conversation.priority = priority
            message = self.append_in(s, conversation, "event", f"priority: {priority}", agent.id,
                                      agent.display_name, now, {"priority": priority})
            uow.commit()
            return [(conversation_channel(conversation.id), message_view(message))]

    def conversations_of_user(self, user_id: UUID, limit: int = 10) -> list[dict[str, Any]]:
        """A wallet user's conversations (for the console's side panel)."""
        with self.db.reader() as uow:
            rows = uow.session.execute(
                select(store.ConversationRow).join(store.ContactRow,
                                                   store.ContactRow.id == store.ConversationRow.contact_id)
                .where(store.ContactRow.user_id == user_id).order_by(store.ConversationRow.created_at.desc())
                .limit(limit)).scalars().all()
            return [{"id": str(c.id), "status": c.status, "created_at": c.created_at.isoformat(),
                     "labels": list(c.labels or [])} for c in rows]

    def set_labels(self, conversation_id: UUID, labels: object, agent: User) -> list[Event]:
        if not isinstance(labels, list) or len(labels) > 10 or not all(
                isinstance(x, str) and 0 < len(x.strip()) <= 30 for x in labels):
            raise InvalidRequest("at most 10 labels of 1 to 30 characters")
        clean = sorted({x.strip().lower() for x in labels})
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            conversation = self._conversation_for_update(s, conversation_id)
            conversation.labels = clean
            message = self.append_in(s, conversation, "event", "labels: " + (", ".join(clean) or "none"),
                                      agent.id, agent.display_name, now, {"labels": clean})
            uow.commit()
            return [(conversation_channel(conversation.id), message_view(message))]

    def send_transcript(self, conversation_id: UUID, address: str, locale: str = "en") -> list[Event]:
        """Email the conversation (without private notes) to the visitor who asks for it: at most
        TRANSCRIPTS_PER_HOUR times an hour, each an event of its timeline."""
        email = domain_email(address)
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            conversation = self._conversation_for_update(s, conversation_id)
            recent = s.scalar(select(func.count()).select_from(store.MessageRow).where(
                store.MessageRow.conversation_id == conversation_id, store.MessageRow.kind == "event",
                store.MessageRow.body == TRANSCRIPT_EVENT, store.MessageRow.created_at > now - timedelta(hours=1)))
            if (recent or 0) >= TRANSCRIPTS_PER_HOUR:
                raise TooManyTranscripts(f"a chat is emailed at most {TRANSCRIPTS_PER_HOUR} times an hour")
            messages = store.messages_after(s, conversation_id, 0, with_notes=False, limit=100_000)
            lines = [f"[{m.created_at.strftime('%Y-%m-%d %H:%M')}] {m.author_name or '—'}: {m.body}"
                     for m in messages if m.kind != "event"]
            self.notify.enqueue_in(s, to=email, locale=locale if locale in ("en", "zh-CN") else "en",
                                   template="support_transcript", context={"transcript": "\n".join(lines)})
            event = self.append_in(s, conversation, "event", TRANSCRIPT_EVENT, None, "", now,
                                   {"transcript": True})
            uow.commit()
            return [(conversation_channel(conversation.id), message_view(event))]

    def inbox(self, agent: User, view: str, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """The agent's lists: `mine` (assigned to them, not resolved), `unassigned` (waiting), `open` (the
        team's open ones; every team's for supervisors)."""
        with self.db.reader() as uow:
            s = uow.session
            me = s.get(store.AgentRow, agent.id)
            if me is None:
                raise NotAnAgent()
            query = select(store.ConversationRow, store.ContactRow).join(
                store.ContactRow, store.ContactRow.id == store.ConversationRow.contact_id)
            active = ("open", "pending", "snoozed")
            if view == "mine":
                query = query.where(store.ConversationRow.assignee_id == agent.id,
                                    store.ConversationRow.status.in_(active))
            elif view == "unassigned":
                query = query.where(store.ConversationRow.assignee_id.is_(None),
                                    store.ConversationRow.status == "open", store.ConversationRow.last_seq > 0)
            else:  # (a conversation opened and never written to is nobody's work yet)
                query = query.where(store.ConversationRow.status.in_(active), store.ConversationRow.last_seq > 0)
            if view != "mine" and not agent.roles & {"supervisor", "admin"}:
                query = query.where(store.ConversationRow.team == me.team)
            rows = s.execute(query.order_by(store.ConversationRow.waiting_since).limit(200)).all()
            items: list[dict[str, Any]] = [
                {"id": str(c.id), "contact": k.name or "Visitor", "status": c.status, "team": c.team,
                 "assigned": c.assignee_id is not None, "last_seq": c.last_seq, "priority": c.priority,
                 "labels": list(c.labels or []), "waiting_since": c.waiting_since.isoformat()} for c, k in rows]
        wanted = filters or {}
        return [i for i in items if (not wanted.get("label") or wanted["label"] in i["labels"])
                and (not wanted.get("team") or wanted["team"] == i["team"])
                and (not wanted.get("status") or wanted["status"] == i["status"])]

    def board(self) -> dict[str, Any]:
        """The supervisor's view: each agent's status and load, and how many wait in each team's queue."""
        with self.db.reader() as uow:
            s = uow.session
            rows = s.scalars(select(store.AgentRow)).all()
            loads = self._loads(s, rows)
            names = self.identity.display_names_in(s, [a.user_id for a in rows])
            manual = {a.user_id: a.manual_status for a in rows}
            waiting = s.execute(select(store.ConversationRow.team, func.count()).where(
                store.ConversationRow.assignee_id.is_(None), store.ConversationRow.status == "open",
                store.ConversationRow.last_seq > 0).group_by(store.ConversationRow.team)).all()
        agents = [{"id": str(a.user_id), "name": names[a.user_id], "team": a.team, "online": a.online,
                   "status": manual[a.user_id], "active": a.active, "capacity": a.capacity}
                  for a in sorted(loads, key=lambda a: (a.team, names[a.user_id]))]
        return {"agents": agents, "queues": {team: int(n) for team, n in waiting}}

    def conversation(self, agent: User, conversation_id: UUID) -> dict[str, Any]:
        if not self.may_see(agent, conversation_id):
            raise NotFound("no such conversation")
        with self.db.reader() as uow:
            s = uow.session
            c = s.get(store.ConversationRow, conversation_id)
            assert c is not None  # noqa: S101 - may_see found it
            contact = s.get(store.ContactRow, c.contact_id)
            messages = [message_view(m) for m in store.messages_after(s, c.id, 0, with_notes=True)]
        return {"id": str(c.id), "status": c.status, "team": c.team, "last_seq": c.last_seq,
                "priority": c.priority, "labels": list(c.labels or []),
                "assignee_id": str(c.assignee_id) if c.assignee_id else None,
                "contact": (contact.name if contact else "") or "Visitor",
                "linked_user": str(contact.user_id) if contact and contact.user_id else None, "messages": messages}

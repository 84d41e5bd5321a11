"""Agents and their availability, part of `SupportService`: who is an agent (team, capacity), their consoles
opening and closing, the presence beat, the manual status, and every agent's load for assignment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import select, update

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.errors import InvalidRequest
from paydesk.identity.service import IdentityService, User
from paydesk.support import domain, store
from paydesk.support.events import Event
from paydesk.support.tools import NotAnAgent

DEFAULT_TEAM = "general"
PRESENCE_BEAT_S = 30.0  # how often a serving process vouches for the agents whose consoles it holds open
PRESENCE_TTL = timedelta(seconds=3 * PRESENCE_BEAT_S)  # silence after which an agent counts as gone


class AgentPresence:
    db: Database
    clock: Clock
    identity: IdentityService

    if TYPE_CHECKING:  # provided by SupportService
        def _serve_queue_in(self, s: Any, team: str) -> list[Event]: ...

    def create_agent(self, login: str, team: str = DEFAULT_TEAM, capacity: int = 5) -> dict[str, Any]:
        if not team.strip() or len(team) > 40 or not 1 <= capacity <= 100:
            raise InvalidRequest("a team name of at most 40 characters and a capacity from 1 to 100")
        user = self.identity.grant_role(login, "agent")
        with self.db.uow() as uow:
            row = uow.session.get(store.AgentRow, user.id)
            if row is None:
                row = store.AgentRow(user_id=user.id, team=team.strip(), capacity=capacity, manual_status="online",
                                     connections=0, last_assigned_at=None)
                uow.session.add(row)
            else:
                row.team, row.capacity = team.strip(), capacity
            uow.commit()
        return {"user_id": str(user.id), "team": team.strip(), "capacity": capacity}

    def agent(self, user: User) -> store.AgentRow:
        with self.db.reader() as uow:
            row = uow.session.get(store.AgentRow, user.id)
        if row is None or not user.roles & {"agent", "supervisor", "admin"}:
            raise NotAnAgent()
        return row

    def connected(self, user_id: UUID, delta: int) -> list[Event]:
        """An agent's console opened (+1) or closed (−1). The first connection serves the waiting queue."""
        with self.db.uow() as uow:
            s = uow.session
            row = s.scalars(select(store.AgentRow).where(store.AgentRow.user_id == user_id).with_for_update()).one()
            row.connections = max(0, row.connections + delta)
            row.seen_at = self.clock.now()
            events: list[Event] = []
            if delta > 0:
                events = self._serve_queue_in(s, row.team)
            uow.commit()
        return events

    def agents_online(self, team: str = DEFAULT_TEAM) -> bool:
        """Whether an agent of `team` is available now (the contact page and the widget say so)."""
        with self.db.reader() as uow:
            return any(a.online and a.team == team for a in self._loads(uow.session))

    def heartbeat(self, user_ids: list[UUID]) -> None:
        """This process still holds consoles of these agents open (see PRESENCE_TTL)."""
        if user_ids:
            with self.db.uow() as uow:
                uow.session.execute(update(store.AgentRow).where(store.AgentRow.user_id.in_(user_ids))
                                    .values(seen_at=self.clock.now()))
                uow.commit()

    def set_status(self, user_id: UUID, status: str) -> list[Event]:
        if status not in ("online", "away", "offline"):
            raise InvalidRequest("status is online, away or offline")
        with self.db.uow() as uow:
            row = uow.session.get(store.AgentRow, user_id)
            if row is None:
                raise NotAnAgent()
            row.manual_status = status
            events = self._serve_queue_in(uow.session, row.team) if status == "online" else []
            uow.commit()
        return events

    def _loads(self, s: Any, rows: Sequence[store.AgentRow] | None = None) -> list[domain.AgentLoad]:
        """Every agent's availability and load (of `rows` when the caller has read them already)."""
        counts = store.active_counts(s)
        fresh = self.clock.now() - PRESENCE_TTL
        return [domain.AgentLoad(a.user_id, a.team, domain.is_online(a.manual_status, a.connections, a.seen_at, fresh),
                                 a.capacity, counts.get(a.user_id, 0), a.last_assigned_at)
                for a in (rows if rows is not None else s.scalars(select(store.AgentRow)))]

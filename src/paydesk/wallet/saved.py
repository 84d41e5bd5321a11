"""Saved withdrawal destinations: added after a step-up (the password, and a code when 2-step is on), told to
the user, listed, removed. Part of `WalletService`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from paydesk.core.clock import Clock
from paydesk.core.db import Database
from paydesk.core.ids import uuid7
from paydesk.identity.security import SecurityService
from paydesk.identity.service import IdentityService, Principal
from paydesk.wallet import destinations, domain, store, views
from paydesk.wallet.rails.base import RAILS, UnknownMethod


class SavedDestinations:
    db: Database
    clock: Clock
    identity: IdentityService
    security: SecurityService

    def saved_destinations(self, user_id: UUID) -> list[dict[str, Any]]:
        with self.db.reader() as uow:
            return [views.saved_destination(row) for row in store.destinations_of(uow.session, user_id)]

    def saved_destination(self, user_id: UUID, destination_id: str) -> store.DestinationRow:
        try:
            wanted = UUID(str(destination_id))
        except ValueError:
            raise domain.DestinationNotFound() from None
        with self.db.reader() as uow:
            row = store.destination(uow.session, user_id, wanted)
        if row is None:
            raise domain.DestinationNotFound()
        return row

    def add_destination(self, who: Principal, *, label: str, method: str, destination: dict[str, str],
                        password: str, otp: str | None) -> dict[str, Any]:
        """Save a withdrawal destination: checked like a withdrawal's, after the password and (when 2-step is
        on) a fresh code; the user is told by email and the activity log."""
        spec = RAILS.get(method)
        if spec is None or not spec.withdrawals:
            raise UnknownMethod(f"{method!r} does not pay out; use one of "
                                f"{', '.join(n for n, r in RAILS.items() if r.withdrawals)}")
        target = destinations.checked(spec, destination)
        label = " ".join(label.split())[:60] or destinations.describe(target)
        now = self.clock.now()
        with self.db.uow() as uow:
            s = uow.session
            self.security.step_up_in(s, who, password, otp, now)
            if store.count_destinations(s, who.user.id) >= domain.MAX_SAVED_DESTINATIONS:
                raise domain.TooManyDestinations()
            row = store.DestinationRow(id=uuid7(), user_id=who.user.id, label=label, method=spec.name,
                                       destination=target, created_at=now, removed_at=None)
            s.add(row)
            described = {"label": label, "method": spec.name, "destination": destinations.describe(target)}
            self.identity.add_event_in(s, who.user.id, "destination_added", now, detail=described)
            self.security.mail_user_in(s, who.user.id, "destination_added", now, **described)
            uow.commit()
            return views.saved_destination(row)

    def remove_destination(self, user_id: UUID, destination_id: str) -> None:
        row = self.saved_destination(user_id, destination_id)
        now = self.clock.now()
        with self.db.uow() as uow:
            store.remove_destination(uow.session, user_id, row.id, now)
            self.identity.add_event_in(uow.session, user_id, "destination_removed", now,
                                       detail={"label": row.label, "method": row.method})
            uow.commit()

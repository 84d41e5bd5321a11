"""Fees over HTTP: the public schedule, and publishing a new version (operators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from paydesk.web.auth import AppContainer, OperatorPrincipal

router = APIRouter(prefix="/api/v1", tags=["fees"])


@router.get("/fees")
def fees(app: AppContainer) -> dict[str, Any]:
    """The fee schedule in force now: ordered rules (the first that matches an operation decides its fee)."""
    current = app.fees.schedule_at()
    upcoming = [s for s in app.fees.schedules() if s.effective_at > app.clock.now()]
    return {**app.fees.as_json(current),
            "upcoming": [{"version": s.version, "effective_at": s.effective_at.isoformat()} for s in upcoming]}


class ScheduleIn(BaseModel):
    rules: list[dict[str, Any]] = Field(description="the rules, in order (see GET /api/v1/fees)")
    effective_at: AwareDatetime = Field(description="when it takes effect (now or later), with a time zone")
    note: str = Field("", max_length=300)


@router.get("/admin/fee-schedules")
def schedules(_: OperatorPrincipal, app: AppContainer) -> dict[str, Any]:
    """Every version, oldest first."""
    return {"items": [app.fees.as_json(s) for s in app.fees.schedules()]}


@router.post("/admin/fee-schedules", status_code=201)
def publish(body: ScheduleIn, who: OperatorPrincipal, app: AppContainer) -> dict[str, Any]:
    """A new version of the schedule, from `effective_at` on; earlier fees keep the rule they were charged by."""
    return app.fees.as_json(app.fees.publish(body.rules, body.effective_at, body.note, who.user.id))


@router.get("/admin/promotions")
def promotions(_: OperatorPrincipal, app: AppContainer) -> dict[str, Any]:
    return {"items": app.promotions.list()}


@router.post("/admin/promotions", status_code=201)
def create_promotion(body: dict[str, Any], _: OperatorPrincipal, app: AppContainer) -> dict[str, Any]:
    """`{code?, label, starts_at, ends_at, operation?, currency?, method?, new_users_days?, first_n?,
    percent_off (100 waives the fee), cap: {CUR: amount}, per_user_limit (1), total_limit?}`; no code means
    it applies by itself to everyone eligible."""
    return app.promotions.create(body)

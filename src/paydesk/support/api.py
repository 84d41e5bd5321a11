"""Support over HTTP: a visitor token for the chat widget."""

from __future__ import annotations

from fastapi import APIRouter

from paydesk.web.auth import AppContainer

router = APIRouter(prefix="/api/v1/support", tags=["support"])


@router.post("/visitors", status_code=201)
def visitor(app: AppContainer) -> dict[str, str]:
    """A new visitor token for `/ws/chat?visitor_token=…`: the browser keeps it (it is the visitor's key to
    their conversation; only its hash is stored)."""
    return {"visitor_token": app.support.new_visitor_token()}

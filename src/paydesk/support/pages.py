"""`/agent`: the agent console — the inbox views, one conversation's timeline, the composer. Live updates
come over `/ws/agent` (static/console.js); without the script the page still lists and shows everything."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paydesk.core.errors import DomainError
from paydesk.web.auth import container
from paydesk.web.pages import page_principal, redirect, render

router = APIRouter(include_in_schema=False)
VIEWS = ("mine", "unassigned", "open")


@router.get("/agent", response_class=HTMLResponse)
def console(request: Request) -> Response:
    who = page_principal(request)
    if who is None:
        return redirect("/login?next=/agent")
    app = container(request)
    view = request.query_params.get("view", "mine")
    view = view if view in VIEWS else "mine"
    try:
        me = app.support.agent(who.user)
        filters = {k: request.query_params.get(k, "")[:40] for k in ("label", "team", "status")}
        items = app.support.inbox(who.user, view, filters)
        chosen = request.query_params.get("c")
        conversation = app.support.conversation(who.user, UUID(chosen)) if chosen else None
    except (DomainError, ValueError):
        return render(request, "not_found.html", {}, 404)
    counts = {v: len(items) if v == view and not any(filters.values()) else len(app.support.inbox(who.user, v))
              for v in VIEWS}  # the shown view's list is already read
    panel = _customer_panel(request, UUID(conversation["linked_user"])) if conversation and conversation[
        "linked_user"] else None
    supervisor = bool(who.user.roles & {"supervisor", "admin"})
    everyone = app.support.board()
    agents = [a for a in everyone["agents"] if supervisor or conversation and a["team"] == conversation["team"]]
    kept = urlencode({k: v for k, v in filters.items() if v})  # the inbox's links keep its filters
    return render(request, "console.html", {"view": view, "items": items, "conversation": conversation,
                                            "counts": counts, "views": VIEWS, "panel": panel,
                                            "filters": filters, "kept": kept, "presence": me.manual_status,
                                            "teams": sorted({a["team"] for a in everyone["agents"]}),
                                            "board": everyone if supervisor else None, "agents": agents,
                                            "canned": app.support.canned(who.user) if conversation else []})


def _customer_panel(request: Request, user_id: UUID) -> dict[str, Any]:
    """The signed-in customer beside the conversation, read-only and through the wallet's and identity's own
    services (never their tables): balances, recent transactions, a freeze or a lock, security events."""
    app = container(request)
    user = app.identity.user(user_id)
    return {
        "name": user.display_name, "email": user.email, "phone": user.phone, "frozen": user.frozen,
        "locked_until": app.security.locked_until(user_id),
        "balances": app.wallet.balances(user_id)["balances"],
        "transactions": app.history.page(user_id, filters={}, cursor=None, limit=5)["items"],
        "events": app.security.activity(user_id, 5),
        "wallet_id": app.wallet.ensure_wallet(user_id),
        "conversations": app.support.conversations_of_user(user_id),
    }

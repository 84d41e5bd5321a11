"""Support over HTTP: the chat widget's script, a visitor token for it, and the help-article suggestions it
shows before a conversation starts. The last two answer any origin (the widget runs on other sites)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from paydesk.web.auth import AppContainer, CurrentPrincipal

router = APIRouter(tags=["support"])
WIDGET = Path(__file__).parent / "static" / "widget.js"
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}


@router.get("/widget.js", include_in_schema=False)
def widget() -> Response:
    """The embeddable chat widget: `<script src="…/widget.js" defer></script>` on any page."""
    return Response(WIDGET.read_text(encoding="utf-8"), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300", **ANY_ORIGIN})


@router.post("/api/v1/support/visitors", status_code=201)
def visitor(app: AppContainer) -> JSONResponse:
    """A new visitor token for `/ws/chat?visitor_token=…`: the browser keeps it (it is the visitor's key to
    their conversation; only its hash is stored)."""
    return JSONResponse({"visitor_token": app.support.new_visitor_token()}, status_code=201, headers=ANY_ORIGIN)


class CannedIn(BaseModel):
    shortcut: str = Field(max_length=41)
    body: str = Field(max_length=5000)


@router.get("/api/v1/support/canned")
def canned(who: CurrentPrincipal, app: AppContainer) -> dict[str, list[dict[str, str]]]:
    """The saved replies of the agent's team."""
    return {"items": app.support.canned(who.user)}


@router.post("/api/v1/support/canned", status_code=201)
def save_canned(body: CannedIn, who: CurrentPrincipal, app: AppContainer) -> dict[str, str]:
    """Save a reply for the team: `{customer_name}` and `{wallet_id}` are filled in when it is used."""
    return app.support.save_canned(who.user, body.shortcut, body.body)


@router.get("/api/v1/help/search")
def help_search(q: str = Query("", max_length=200), locale: str = Query("en", max_length=8)) -> JSONResponse:
    """Help-center articles for a question: `{items: [{slug, title, snippet, locale}]}`. The help center (a
    later change) fills it; until then it finds nothing, and the widget goes straight to an agent."""
    del q, locale
    return JSONResponse({"items": []}, headers=ANY_ORIGIN)

"""Support over HTTP: the chat widget's script, a visitor token for it, and the help-article suggestions it
shows before a conversation starts. The last two answer any origin (the widget runs on other sites)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from paydesk.container import Container
from paydesk.core.errors import NotFound
from paydesk.identity.service import User
from paydesk.support.attachments import IMAGE_TYPES, MAX_BYTES, AttachmentTooLarge
from paydesk.web.auth import AppContainer, CurrentPrincipal, optional_principal, principal

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


@router.options("/api/v1/support/attachments", include_in_schema=False)
def upload_preflight() -> Response:
    """CORS preflight: the widget uploads from other sites with its visitor token in a header."""
    return Response(status_code=204, headers={**ANY_ORIGIN, "Access-Control-Allow-Methods": "POST",
                                              "Access-Control-Allow-Headers": "X-Visitor-Token, Content-Type",
                                              "Access-Control-Max-Age": "600"})


@router.post("/api/v1/support/attachments", status_code=201)
async def upload(request: Request, app: AppContainer, name: str = Query(max_length=300),
                 conversation_id: UUID | None = Query(None),
                 visitor_token: str | None = Header(None, alias="X-Visitor-Token")) -> JSONResponse:
    """Attach an image or a PDF (the raw bytes as the body, at most 10 MB): a visitor with their token (to
    their own conversation), or an agent with `conversation_id`. The type is read from the content."""
    data = await request.body()
    if len(data) > MAX_BYTES:
        raise AttachmentTooLarge()
    cid, agent = await run_in_threadpool(_who, app, request, visitor_token, conversation_id)
    assert cid is not None  # noqa: S101 - _who names the conversation for an upload
    events = await run_in_threadpool(app.support.attach, cid, name, data, agent=agent)
    for channel, event in events:
        app.pubsub.send(channel, event)  # (not waiting for Redis: the attachment is saved)
    return JSONResponse(events[0][1], status_code=201, headers=ANY_ORIGIN)


@router.get("/api/v1/support/attachments/{attachment_id}")
def download(attachment_id: UUID, request: Request, app: AppContainer,
             visitor_token: str | None = Query(None)) -> Response:
    cid, agent = _who(app, request, visitor_token, None, reading=True)
    name, content_type, data = app.support.attachment(attachment_id, conversation_id=cid, agent=agent)
    disposition = "inline" if content_type in IMAGE_TYPES else "attachment"
    return Response(data, media_type=content_type, headers={
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox", **ANY_ORIGIN})


def _who(app: Container, request: Request, visitor_token: str | None, conversation_id: UUID | None,
         reading: bool = False) -> tuple[UUID | None, User | None]:
    """A visitor (their conversation, from their token) or an agent (who may see the conversation)."""
    if visitor_token:  # (the session, if any, only says whose chat it may be: support/visitors.py)
        signed_in = optional_principal(request)
        return app.support.visitor_conversation_id(visitor_token, signed_in.user if signed_in else None), None
    who = optional_principal(request) if reading else principal(request)  # a cookie upload needs its CSRF header
    if who is None or not who.user.roles & {"agent", "supervisor", "admin"}:
        raise NotFound("no such conversation")
    if not reading:
        if conversation_id is None or not app.support.may_see(who.user, conversation_id):
            raise NotFound("no such conversation")
    return conversation_id, who.user

"""`/dev/outbox`: the messages Paydesk would have emailed, readable in the browser. Development only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paydesk.web.auth import container
from paydesk.web.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/dev/outbox", response_class=HTMLResponse)
def outbox(request: Request) -> Response:
    app = container(request)
    local = request.client is not None and request.client.host in ("127.0.0.1", "::1", "testclient")
    if app.settings.env != "development" or not local:  # people's mail: development, on this machine only
        return render(request, "not_found.html", {}, 404)
    return render(request, "outbox.html", {"messages": app.notify.recent(100), "smtp": bool(app.settings.smtp_url)})

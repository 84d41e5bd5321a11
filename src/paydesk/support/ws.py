"""Live chat over WebSockets (docs/chat-protocol.md): `/ws/chat` for visitors, `/ws/agent` for agents.

Every message of a conversation has a number. A client connects (or joins) with the last number it saw
(`after`); the server sends what came after from the database, then live messages from pub/sub. A live
message that would leave a gap (it raced the catch-up) makes the server read the gap from the database
first, so nothing is lost and nothing is sent twice on one connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from paydesk.container import Container
from paydesk.core.db import INT32_MAX
from paydesk.core.errors import DomainError, InvalidRequest, ServiceUnavailable
from paydesk.core.text import INVALID_TEXT, holds_lone_surrogate
from paydesk.identity.domain import NotAuthenticated
from paydesk.identity.service import User
from paydesk.support.agents import PRESENCE_BEAT_S
from paydesk.support.events import Event, agent_channel, conversation_channel, team_channel
from paydesk.support.outbox import Outbox
from paydesk.web.auth import SESSION_COOKIE

router = APIRouter()
log = structlog.get_logger(__name__)


class Presence:
    """The agents whose consoles this process holds open, and one task that vouches for them every
    PRESENCE_BEAT_S (support.agents.PRESENCE_TTL explains why)."""

    def __init__(self, app: Container) -> None:
        self.app = app
        self.open: Counter[UUID] = Counter()
        self.task: asyncio.Task[None] | None = None

    def add(self, user_id: UUID) -> None:
        self.open[user_id] += 1
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._beat())

    def remove(self, user_id: UUID) -> None:
        self.open[user_id] -= 1
        if self.open[user_id] <= 0:
            del self.open[user_id]

    async def _beat(self) -> None:
        while self.open:
            await asyncio.sleep(PRESENCE_BEAT_S)
            with contextlib.suppress(Exception):  # a failed beat is retried at the next one
                await run_in_threadpool(self.app.support.heartbeat, list(self.open))


def _presence(ws: WebSocket, app: Container) -> Presence:
    state = ws.app.state
    if getattr(state, "presence", None) is None:
        state.presence = Presence(app)
    return state.presence  # type: ignore[no-any-return]


def announce(app: Container, events: list[Event]) -> None:
    """Publish `events` now, in order, without waiting for Redis (the database is the record, pub/sub only the
    doorbell: a hung Redis must not hold up a socket's next command)."""
    for channel, event in events:
        app.pubsub.send(channel, event)


_IN_FLIGHT: set[asyncio.Task[None]] = set()
POST_WAIT_S = 30.0
NOT_JSON = "commands are JSON text frames"


async def _post(app: Container, conversation_id: UUID, **message: Any) -> None:
    """Write a message and publish it. On SQLite with no other writer at work, both happen right here, before
    anything else runs on the loop (the sender's own copy and the PUBLISH leave a turn of the loop sooner).
    Otherwise in a task of its own: when the socket closes meanwhile (its handler is cancelled), a message that
    was written is still announced to the conversation's other subscribers."""
    events = app.support.post_at_once(conversation_id, **message)
    if events is not None:
        announce(app, events)
        return

    async def write_and_publish() -> None:
        announce(app, await app.support.post_from_loop(conversation_id, **message))

    task = asyncio.create_task(write_and_publish())
    _IN_FLIGHT.add(task)  # held until done (the loop keeps only weak references to tasks)
    task.add_done_callback(_settled)
    try:
        await asyncio.wait_for(asyncio.shield(task), POST_WAIT_S)
    except TimeoutError:  # the sender hears of it; the message, if written, is still announced when it is
        raise ServiceUnavailable("the message is taking long to save; it appears here once it is") from None


async def drain_posts(timeout: float = 10.0) -> None:
    """At shutdown, before pub/sub closes: let the messages being written be announced."""
    loop = asyncio.get_running_loop()
    mine = [task for task in _IN_FLIGHT if task.get_loop() is loop]  # tests run several apps, each its loop
    if mine:
        await asyncio.wait(mine, timeout=timeout)


def _settled(task: asyncio.Task[None]) -> None:
    _IN_FLIGHT.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: an error nobody awaited any more (the socket closed) isn't logged as lost


async def _forward(app: Container, channel: str, out: Outbox, ready: asyncio.Event) -> None:
    """Live events to the socket (handed to `out` as they arrive) until the connection's end cancels this task
    or delivery stops (Outbox.offer)."""
    async with app.pubsub.subscribe(channel, out.offer):
        ready.set()
        await out.stopped.wait()


LISTEN_WAIT_S = 10.0


async def _listen(app: Container, channel: str, out: Outbox, tasks: list[asyncio.Task[None]]) -> None:
    """Subscribe to a channel (and wait until the subscription is live, so a catch-up after it misses nothing).
    A subscription that fails (Redis unreachable) or takes over LISTEN_WAIT_S is a ServiceUnavailable: the
    client hears so at once instead of waiting on a socket that would never be live."""
    ready = asyncio.Event()
    forward = asyncio.create_task(_forward(app, channel, out, ready))
    tasks.append(forward)
    live = asyncio.ensure_future(ready.wait())
    try:
        await asyncio.wait({live, forward}, timeout=LISTEN_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        live.cancel()
    if not ready.is_set():
        forward.cancel()  # not left to subscribe later beside a second try
        raise ServiceUnavailable("live chat is unavailable just now; try again in a moment")


def _after(value: object) -> int:
    try:
        return min(max(0, int(str(value))), INT32_MAX)  # (message numbers are an Integer column)
    except ValueError:
        return 0


def _seq(command: dict[str, Any]) -> int | None:
    """The message number a typing or read event names (a whole number, else none)."""
    seq = command.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


async def _command(ws: WebSocket) -> dict[str, Any] | None:
    """The client's next command: a JSON object (None for anything else, which is ignored). A frame that isn't
    JSON text is answered with an `invalid_request` error, and one holding half a UTF-16 surrogate pair with
    `invalid_text` (no response could carry it: web/unicode.py); the socket stays open."""
    if ws.application_state != WebSocketState.CONNECTED:
        raise WebSocketDisconnect(1000)  # this side has closed it (a failed delivery): nothing more is read
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    try:
        if not isinstance(text, str):
            raise ValueError("a binary frame")
        command = json.loads(text)
    except (ValueError, RecursionError):  # (RecursionError: nested past the parser's depth)
        await ws.send_json(_error(InvalidRequest(NOT_JSON)))
        return None
    if not isinstance(command, dict):
        return None
    # A WebSocket text frame is UTF-8, which can't hold a surrogate: only a "\u" escape can spell one.
    if "\\u" in text and holds_lone_surrogate(command):
        await ws.send_json({"type": "error", "code": "invalid_text", "detail": INVALID_TEXT})
        return None
    return command


async def _next_turn() -> None:
    """Let the loop serve the others before this socket's next command. A command may not wait for anything
    (a message written on the loop, a typing event published without waiting for Redis), and the frames of a
    socket that sends a flood are all read at once: without this, its handler would run through them all
    while every other socket waited."""
    await asyncio.sleep(0)


def _session_user(app: Container, ws: WebSocket) -> User | None:
    """The signed-in user: a bearer token in the query, or the session cookie — the cookie only from a page of
    our own origin, so another site can't open a socket with someone's session (cross-site WebSocket
    hijacking)."""
    token = ws.query_params.get("token")
    if not token:
        origin = ws.headers.get("origin")
        if origin and urlsplit(origin).netloc != ws.headers.get("host", ""):
            return None
        token = ws.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return app.identity.authenticate(token).user
    except NotAuthenticated:
        return None


@router.websocket("/ws/chat")
async def chat(ws: WebSocket) -> None:
    app: Container = ws.app.state.container
    token = ws.query_params.get("visitor_token", "")
    user = await run_in_threadpool(_session_user, app, ws)
    await ws.accept()
    try:
        conversation = await run_in_threadpool(app.support.visitor_conversation, token, user)
    except DomainError as exc:
        await ws.send_json(_error(exc))
        await ws.close(code=4400)
        return
    cid = conversation["conversation_id"]
    out = Outbox(ws, app, with_notes=False)
    tasks: list[asyncio.Task[None]] = []
    try:
        await _listen(app, conversation_channel(cid), out, tasks)
        await ws.send_json({"type": "hello", **conversation})
        # (no further than the conversation goes: a client that kept a closed conversation's number, which a new
        # conversation hasn't reached, would skip the new one's first messages)
        await out.catch_up(cid, min(_after(ws.query_params.get("after", "0")), conversation["last_seq"]))
        while True:
            command = await _command(ws)
            if command is not None:
                try:
                    await _visitor_command(app, user, UUID(cid), command, ws)
                except DomainError as exc:
                    await ws.send_json(_error(exc))
            await _next_turn()
    except ServiceUnavailable as exc:
        await _turn_away(ws, exc)
    except (WebSocketDisconnect, RuntimeError, TimeoutError):
        pass
    finally:
        await _stop(tasks, out)


def _error(exc: DomainError) -> dict[str, str]:
    """A refusal as the protocol's error event."""
    return {"type": "error", "code": exc.code, "detail": exc.detail}


async def _turn_away(ws: WebSocket, exc: ServiceUnavailable) -> None:
    """Live delivery can't be set up: say so, and close with 1013 (try again later)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await ws.send_json(_error(exc))
        await ws.close(code=1013)


async def _visitor_command(app: Container, user: User | None, conversation_id: UUID, command: dict[str, Any],
                           ws: WebSocket) -> None:
    kind, support = command.get("type"), app.support
    if kind == "message":
        await _post(app, conversation_id, kind="inbound", body=str(command.get("body", "")), author=user,
                    author_name=(user.display_name if user else "Visitor"))
        return
    if kind == "transcript":
        announce(app, await run_in_threadpool(support.send_transcript, conversation_id,
                                              str(command.get("address", "")), str(command.get("locale", "en"))))
        await ws.send_json({"type": "transcript_sent"})
        return
    elif kind == "csat":
        events = await run_in_threadpool(support.rate, conversation_id, command.get("score"),
                                         str(command.get("comment", "")))
    elif kind == "email":
        events = await run_in_threadpool(support.leave_email, conversation_id, str(command.get("address", "")),
                                         str(command.get("locale", "en")))
    elif kind in ("typing", "read"):
        events = [(conversation_channel(conversation_id), {"type": kind, "conversation_id": str(conversation_id),
                                                           "who": "visitor", "seq": _seq(command)})]
    else:
        return
    announce(app, events)


async def _stop(tasks: list[asyncio.Task[None]], out: Outbox) -> None:
    waiting = out.stop()
    if waiting is not None:
        tasks.append(waiting)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@router.websocket("/ws/agent")
async def agent(ws: WebSocket) -> None:
    app: Container = ws.app.state.container
    user = await run_in_threadpool(_session_user, app, ws)
    await ws.accept()
    if user is None or not user.roles & {"agent", "supervisor", "admin"}:
        await ws.send_json({"type": "error", "code": "not_an_agent", "detail": "sign in with an agent's account"})
        await ws.close(code=4403)
        return
    try:
        team = (await run_in_threadpool(app.support.agent, user)).team
    except DomainError as exc:
        await ws.send_json(_error(exc))
        await ws.close(code=4403)
        return
    out = Outbox(ws, app, with_notes=True)
    tasks: list[asyncio.Task[None]] = []
    joined: set[str] = set()
    presence = _presence(ws, app)
    try:
        await _listen(app, agent_channel(user.id), out, tasks)
        await _listen(app, team_channel(team), out, tasks)  # conversations queued for the team, as they are
        await ws.send_json({"type": "hello", "agent": str(user.id)})
        announce(app, await run_in_threadpool(app.support.connected, user.id, 1))
        presence.add(user.id)
        while True:
            command = await _command(ws)
            if command is not None:
                try:
                    await _agent_command(app, user, command, out, tasks, joined, ws)
                except DomainError as exc:
                    await ws.send_json(_error(exc))
                except ValueError:
                    await ws.send_json({"type": "error", "code": "invalid_request",
                                        "detail": "bad conversation id"})
            await _next_turn()
    except ServiceUnavailable as exc:
        await _turn_away(ws, exc)
    except (WebSocketDisconnect, RuntimeError, TimeoutError):
        pass
    finally:
        await _stop(tasks, out)
        if user.id in presence.open:
            presence.remove(user.id)
        await run_in_threadpool(app.support.connected, user.id, -1)


async def _agent_command(app: Container, user: User, command: dict[str, Any], out: Outbox,
                         tasks: list[asyncio.Task[None]], joined: set[str], ws: WebSocket) -> None:
    kind = command.get("type")
    cid = str(command.get("conversation_id", ""))
    if kind == "presence":
        announce(app, await run_in_threadpool(app.support.set_status, user.id, str(command.get("status", ""))))
        await ws.send_json({"type": "presence", "status": command.get("status")})
        return
    if kind not in ("join", "message", "status", "typing", "read", "take", "assign", "labels", "canned", "priority"):
        await ws.send_json({"type": "error", "code": "invalid_request", "detail": f"unknown command {kind!r}"})
        return
    conversation_id = UUID(cid)
    if not await run_in_threadpool(app.support.may_see, user, conversation_id):
        await ws.send_json({"type": "error", "code": "not_found", "detail": "no such conversation"})
        return
    if kind == "join":
        if cid not in joined:
            await _listen(app, conversation_channel(cid), out, tasks)  # failed: a join can be tried again
            joined.add(cid)
        await out.catch_up(cid, _after(command.get("after", 0)))
    elif kind == "message":
        await _post(app, conversation_id, kind="note" if command.get("private") else "outbound",
                    body=str(command.get("body", "")), author=user)
    elif kind == "canned":
        body = await run_in_threadpool(app.support.fill_canned, user, conversation_id, str(command.get("shortcut", "")))
        await _post(app, conversation_id, kind="outbound", body=body, author=user)
    elif kind == "labels":
        announce(app, await run_in_threadpool(app.support.set_labels, conversation_id, command.get("labels"),
                                              user))
    elif kind == "assign":
        announce(app, await run_in_threadpool(app.support.assign, conversation_id,
                                              UUID(str(command.get("agent_id", ""))), user))
    elif kind == "priority":
        announce(app, await run_in_threadpool(app.support.set_priority, conversation_id,
                                              str(command.get("priority", "")), user))
    elif kind == "take":
        announce(app, await run_in_threadpool(app.support.assign, conversation_id, user.id, user))
    elif kind == "status":
        announce(app, await run_in_threadpool(app.support.change_status, conversation_id,
                                              str(command.get("status", "")), user, command.get("until")))
    else:
        app.pubsub.send(conversation_channel(cid), {"type": kind, "conversation_id": cid,
                                                    "who": user.display_name, "seq": _seq(command)})

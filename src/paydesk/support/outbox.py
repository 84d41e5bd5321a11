"""What one chat socket sends (support/ws.py): the catch-up from the database, then live events in order —
repeats dropped, gaps read from the database, and after a RESYNC what every conversation missed.

Live events come from pub/sub's sink (`offer`) as they arrive, and are sent then and there (core/eager.py):
on the publisher's own turn of the loop for this process's messages, on the Redis connection's for the
others'. Only one that has to wait (for the catch-up, a gap's read, a socket that isn't writable) leaves the
rest to a task, and the events that arrive meanwhile queue behind it, in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any
from uuid import UUID

import structlog
from fastapi import WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from paydesk.container import Container
from paydesk.core.eager import eagerly
from paydesk.core.pubsub import RESYNC, Received

log = structlog.get_logger(__name__)


class Outbox:
    """What one connection sends, in order, with the per-conversation high-water mark that drops repeats and
    fills gaps."""

    def __init__(self, ws: WebSocket, app: Container, *, with_notes: bool) -> None:
        self.ws, self.app, self.with_notes = ws, app, with_notes
        self.sent: dict[str, int] = {}
        self.lock = asyncio.Lock()
        self.resynced: deque[str] = deque(maxlen=16)  # RESYNCs handled (one reaches each of its subscriptions)
        self.stopped = asyncio.Event()  # live delivery is over: the socket is gone, or a send failed (it is closed)
        self._behind: deque[dict[str, Any]] | None = None  # events that came while one waited, in order
        self._waiting: asyncio.Task[None] | None = None  # the task finishing the delivery that waited

    def offer(self, event: dict[str, Any]) -> None:
        """pub/sub's sink for this socket's subscriptions: the event is sent now, unless one before it is still
        waiting, behind which it queues."""
        if self.stopped.is_set():
            return
        if self._behind is not None:
            self._behind.append(event)
            return
        waiting = eagerly(self._deliver(event))
        if waiting is not None:
            self._behind, self._waiting = deque(), waiting  # (before the task goes on: it runs on a later turn)

    def stop(self) -> asyncio.Task[None] | None:
        """The connection is ending: nothing more is sent, and a delivery that waits is cancelled (its task is
        returned, for the caller to see it end)."""
        self.stopped.set()
        if self._waiting is not None:
            self._waiting.cancel()
        return self._waiting

    async def _deliver(self, event: dict[str, Any]) -> None:
        try:
            await self._live_or_stop(event)
            while self._behind:  # (None when nothing waited)
                await self._live_or_stop(self._behind.popleft())
        finally:  # (stopped, or the process is ending: the next offer doesn't queue behind a task that is gone)
            self._behind = self._waiting = None

    async def _live_or_stop(self, event: dict[str, Any]) -> None:
        """One live event; when it can't be delivered (the socket is gone, or a gap couldn't be read from the
        database) delivery stops, and in the second case the socket is closed (1011), so that the client
        reconnects and catches up instead of missing what follows."""
        if self.stopped.is_set():
            return
        try:
            await self.live(event)
        except WebSocketDisconnect:
            self.stopped.set()  # the socket is gone
        except Exception:
            log.exception("chat.delivery_failed", conversation_id=event.get("conversation_id"))
            self.stopped.set()
            with contextlib.suppress(Exception):
                await self.ws.close(code=1011)

    async def _send(self, event: dict[str, Any]) -> None:
        try:
            if isinstance(event, Received):
                await self.ws.send_text(event.text)  # encoded once, when it was published
            else:
                await self.ws.send_json(event)
        except (RuntimeError, OSError) as exc:  # uvicorn's "after sending 'websocket.close'", a closed socket
            raise WebSocketDisconnect(1006) from exc

    async def catch_up(self, conversation_id: str, after: int) -> None:
        async with self.lock:
            self.sent[conversation_id] = max(self.sent.get(conversation_id, 0), after)
            await self._fill(conversation_id)

    async def live(self, event: dict[str, Any]) -> None:
        async with self.lock:
            conversation_id = str(event.get("conversation_id", ""))
            if event.get("type") == RESYNC:
                if isinstance(event.get("resync"), str):
                    await self._resync(event["resync"])
                return
            if event.get("type") != "message":
                await self._send(event)  # typing, read receipts, assignment: not numbered
                return
            if conversation_id not in self.sent:
                return  # arrived before this connection's catch-up, which reads it from the database
            seq = event.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool):
                log.warning("chat.event_dropped", reason="a message without a number")  # not one of ours
                return
            if seq <= self.sent[conversation_id]:
                return  # already sent (by the catch-up)
            if seq > self.sent[conversation_id] + 1:
                await self._fill(conversation_id)  # a gap: read it from the database
                return
            if event.get("kind") != "note" or self.with_notes:
                await self._send(event)
            self.sent[conversation_id] = seq

    async def _resync(self, token: str) -> None:
        """Live messages may have been lost (pub/sub lost Redis and is back, or another process couldn't publish
        for a while): what each conversation missed is read from the database, then the client is told
        (`resync`: what isn't numbered — assignments, typing — may have been missed too). A failed read
        raises (the connection is then closed, and the client catches up when it reconnects)."""
        if token in self.resynced:
            return  # the same news, through another of this connection's subscriptions
        for conversation_id in list(self.sent):
            await self._fill(conversation_id)
        self.resynced.append(token)
        await self._send({"type": RESYNC})

    async def _fill(self, conversation_id: str) -> None:
        missed = await run_in_threadpool(self.app.support.messages_after, UUID(conversation_id),
                                         self.sent[conversation_id], with_notes=True)
        for message in missed:
            if message["kind"] != "note" or self.with_notes:
                await self._send(message)
            self.sent[conversation_id] = message["seq"]

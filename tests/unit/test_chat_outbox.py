"""A chat socket's live delivery (support/ws.py's Outbox and _forward) on its own, with in-process pub/sub and
a recording stand-in for the socket and the database read: what it does with a resync, a read that fails,
and events that aren't ours."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from fastapi import WebSocketDisconnect
from sqlalchemy.exc import OperationalError
from starlette.websockets import WebSocketState

from paydesk.core.pubsub import MemoryPubSub
from paydesk.support.outbox import Outbox
from paydesk.support.ws import _command, _forward

CID = "01936f4e-0000-7000-8000-000000000001"


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: int | None = None
        self.writable = asyncio.Event()  # cleared: a send waits, as for a client that doesn't read
        self.writable.set()

    async def send_json(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    async def send_text(self, data: str) -> None:  # a live event, as it was encoded when published
        await self.writable.wait()
        self.sent.append(json.loads(data))

    async def close(self, code: int = 1000) -> None:
        self.closed = code


def _message(seq: int) -> dict[str, Any]:
    return {"type": "message", "conversation_id": CID, "seq": seq, "kind": "inbound", "body": f"#{seq}"}


async def _listening(stored: list[dict[str, Any]], fail: list[bool]) -> tuple[MemoryPubSub, Socket, Outbox,
                                                                             asyncio.Task[None]]:
    def messages_after(conversation_id: UUID, after: int, *, with_notes: bool) -> list[dict[str, Any]]:
        assert str(conversation_id) == CID and with_notes  # the socket filters the notes itself
        if fail and fail.pop(0):
            raise OperationalError("SELECT …", {}, Exception("the database is away"))
        return [m for m in stored if m["seq"] > after]

    bus, socket = MemoryPubSub(), Socket()
    app: Any = SimpleNamespace(pubsub=bus, support=SimpleNamespace(messages_after=messages_after))
    out = Outbox(socket, app, with_notes=False)  # type: ignore[arg-type]
    ready = asyncio.Event()
    task = asyncio.create_task(_forward(app, "conv", out, ready))
    await ready.wait()
    await out.catch_up(CID, 0)
    return bus, socket, out, task


def test_a_live_event_is_sent_while_it_is_published_without_a_turn_of_the_loop() -> None:
    async def scenario() -> None:
        bus, socket, out, task = await _listening([_message(1)], [])
        bus.send("conv", _message(2))
        assert [e["seq"] for e in socket.sent] == [1, 2]  # sent before send() returned
        task.cancel()

    asyncio.run(scenario())


def test_events_that_come_while_a_send_waits_queue_behind_it_in_order_and_stop_ends_the_wait() -> None:
    async def scenario() -> None:
        bus, socket, out, task = await _listening([_message(1)], [])
        socket.writable.clear()
        for seq in (2, 3, 4):
            bus.send("conv", _message(seq))
        assert [e["seq"] for e in socket.sent] == [1]  # 2 waits for the socket; 3 and 4 behind it
        socket.writable.set()
        await asyncio.sleep(0.05)
        assert [e["seq"] for e in socket.sent] == [1, 2, 3, 4]
        bus.send("conv", _message(5))  # nothing waits any more: at once again
        assert [e["seq"] for e in socket.sent] == [1, 2, 3, 4, 5]
        socket.writable.clear()
        bus.send("conv", _message(6))
        waiting = out.stop()  # the connection ends while 6 waits
        assert waiting is not None
        await asyncio.sleep(0.05)
        assert waiting.cancelled()
        socket.writable.set()
        bus.send("conv", _message(7))
        await asyncio.wait_for(task, 1)  # _forward ends with delivery
        assert [e["seq"] for e in socket.sent] == [1, 2, 3, 4, 5]

    asyncio.run(scenario())


def test_a_resync_reads_what_was_missed_once_however_many_subscriptions_bring_it() -> None:
    async def scenario() -> None:
        stored = [_message(1)]
        bus, socket, out, task = await _listening(stored, [])
        stored += [_message(2), _message(3)]  # written while live delivery was away
        for _ in range(2):  # the same news on two of the socket's subscriptions
            await bus.publish("conv", {"type": "resync", "resync": "t1"})
        await bus.publish("conv", _message(3))  # and live again: already sent
        await asyncio.sleep(0.1)
        assert [e.get("seq", e["type"]) for e in socket.sent] == [1, 2, 3, "resync"]
        task.cancel()

    asyncio.run(scenario())


def test_a_read_that_fails_during_delivery_closes_the_socket_so_its_client_catches_up() -> None:
    async def scenario() -> None:
        bus, socket, out, task = await _listening([_message(1)], [False, True])
        await bus.publish("conv", {"type": "resync", "resync": "t1"})
        await asyncio.wait_for(task, 2)  # ended, its error handled
        assert socket.closed == 1011 and socket.sent == [_message(1)]  # no resync claimed

    asyncio.run(scenario())


def test_events_that_are_not_ours_are_dropped_and_delivery_goes_on() -> None:
    async def scenario() -> None:
        bus, socket, out, task = await _listening([_message(1)], [])
        for odd in ({"type": "resync", "resync": 7}, {"type": "resync"},
                    {"type": "message", "conversation_id": CID, "seq": None, "kind": "inbound"},
                    {"type": "message", "conversation_id": CID, "seq": "2", "kind": "inbound"}):
            await bus.publish("conv", odd)  # anyone with access to Redis can publish
        await bus.publish("conv", _message(2))
        await asyncio.sleep(0.1)
        assert [e["seq"] for e in socket.sent] == [1, 2] and socket.closed is None and not task.done()
        task.cancel()

    asyncio.run(scenario())


def test_a_socket_this_side_has_closed_reads_no_more_commands() -> None:
    # The outbox closes a socket it can't deliver to (1011); a command the client sent just before must not be
    # carried out (a message written and published to a conversation whose socket is going).
    async def scenario() -> None:
        closed: Any = SimpleNamespace(application_state=WebSocketState.DISCONNECTED, receive=_never)
        with pytest.raises(WebSocketDisconnect):
            await _command(closed)

    asyncio.run(scenario())


async def _never() -> dict[str, Any]:
    raise AssertionError("read from a socket this side has closed")

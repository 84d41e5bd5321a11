"""Realtime fan-out: in memory always, through a real Redis when PAYDESK_TEST_REDIS_URL is set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from paydesk.core import pubsub, resp
from paydesk.core.pubsub import MemoryPubSub, Received, RedisPubSub
from tests.conftest import REDIS_URL, own_redis

KINDS = [pytest.param("memory", id="memory")]
if REDIS_URL:
    KINDS.append(pytest.param("redis", id="redis", marks=pytest.mark.redis))


def _make(kind: str) -> MemoryPubSub | RedisPubSub:
    if kind == "memory":
        return MemoryPubSub()
    assert REDIS_URL
    return RedisPubSub(REDIS_URL, prefix=f"paydesk-test-{uuid.uuid4().hex[:8]}:")


@pytest.mark.parametrize("kind", KINDS)
def test_subscribers_receive_messages_in_order_and_only_their_channel(kind: str) -> None:
    async def scenario() -> None:
        bus = _make(kind)
        if isinstance(bus, RedisPubSub):
            assert await bus.ping()  # set but unreachable fails here, never skips
        async with bus.subscribe("conv:1") as first, bus.subscribe("conv:1") as second, \
                bus.subscribe("conv:2") as other:
            for n in range(3):
                await bus.publish("conv:1", {"seq": n, "text": "你好"})
            for sub in (first, second):
                got = [await sub.get(timeout=2) for _ in range(3)]
                assert got == [{"seq": n, "text": "你好"} for n in range(3)]
                # each with its JSON text, encoded once for every subscriber (a socket sends it as it is)
                assert all(isinstance(m, Received) and json.loads(m.text) == m for m in got)
            assert await other.get(timeout=0.2) is None
            with pytest.raises(TypeError):  # not JSON: its sender hears of it, nobody gets half of it
                bus.send("conv:1", {"seq": 3, "id": uuid.uuid4()})
            assert await first.get(timeout=0.2) is None
        await bus.publish("conv:1", {"seq": 99})  # nobody listens any more: no error
        await bus.close()

    asyncio.run(scenario())


if REDIS_URL:
    REDIS: str = REDIS_URL

    @pytest.mark.redis
    def test_two_redis_clients_see_each_others_messages_sent_or_published() -> None:
        prefix = f"paydesk-test-{uuid.uuid4().hex[:8]}:"

        async def scenario() -> None:
            a, b = RedisPubSub(REDIS, prefix), RedisPubSub(REDIS, prefix)
            async with b.subscribe("agents") as sub:
                for n in range(3):  # the first before `a` has a connection: they wait for it, in order
                    a.send("agents", {"seq": n})
                await a.publish("agents", {"event": "assigned"})  # this one waits for Redis's reply
                got = [await sub.get(timeout=2) for _ in range(4)]
                assert got == [{"seq": 0}, {"seq": 1}, {"seq": 2}, {"event": "assigned"}]
                assert all(isinstance(m, Received) and json.loads(m.text) == m for m in got)  # from Redis too
                a.send("agents", {"seq": 3})
                assert not a._replies  # connected: posted, with no task awaiting its reply
                await a.close()  # once Redis has answered what was sent
                assert await sub.get(timeout=2) == {"seq": 3}
            await b.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_a_processs_own_subscribers_get_its_messages_once_and_the_others_through_redis() -> None:
        prefix = f"paydesk-test-{uuid.uuid4().hex[:8]}:"

        async def scenario() -> None:
            here, there = RedisPubSub(REDIS, prefix), RedisPubSub(REDIS, prefix)
            async with here.subscribe("conv:1") as mine, there.subscribe("conv:1") as theirs:
                for n in range(3):
                    await here.publish("conv:1", {"seq": n})
                assert [await mine.get(timeout=2) for _ in range(3)] == [{"seq": n} for n in range(3)]
                assert [await theirs.get(timeout=2) for _ in range(3)] == [{"seq": n} for n in range(3)]
                await there.publish("conv:1", {"seq": 3})  # and the other way round
                assert await mine.get(timeout=2) == {"seq": 3}
                assert await theirs.get(timeout=2) == {"seq": 3}
                # Redis brought every message back to both processes: none came twice
                assert await mine.get(timeout=0.3) is None and await theirs.get(timeout=0.3) is None
            await here.close()
            await there.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_a_sink_gets_what_another_process_publishes() -> None:
        prefix = f"paydesk-test-{uuid.uuid4().hex[:8]}:"

        async def scenario() -> None:
            here, there, got = RedisPubSub(REDIS, prefix), RedisPubSub(REDIS, prefix), []
            async with there.subscribe("conv:1", got.append):
                for n in range(3):
                    await here.publish("conv:1", {"seq": n})
                for _ in range(200):
                    if len(got) == 3:
                        break
                    await asyncio.sleep(0.01)
                assert got == [{"seq": n} for n in range(3)]
            await here.close()
            await there.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_what_someone_else_publishes_that_is_not_a_json_object_is_dropped() -> None:
        prefix = f"paydesk-test-{uuid.uuid4().hex[:8]}:"

        async def scenario() -> None:
            bus, stranger = RedisPubSub(REDIS, prefix), Redis.from_url(REDIS)
            async with bus.subscribe("conv:1") as sub:
                for foreign in ('["ab"]', '[["type", "typing"]]', "7"):  # JSON, but a dict() could be made of two
                    await stranger.publish(f"{prefix}conv:1", "0" * 32 + foreign)  # behind another process's origin
                await stranger.publish(f"{prefix}conv:1", '{"seq": 1}')
                assert await sub.get(timeout=2) == {"seq": 1}  # the object arrives; nothing before it
            await bus.close()
            await stranger.aclose()

        asyncio.run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_text_goes_as_it_is_and_half_a_surrogate_pair_is_escaped_so_it_still_goes(kind: str) -> None:
    """A message's JSON text keeps its characters (3 bytes each in UTF-8, not a 6-byte escape), here and in
    another process; one that UTF-8 can't carry is escaped, and still reaches both."""
    async def scenario() -> None:
        here = _make(kind)
        there = RedisPubSub(REDIS_URL, here._prefix) if isinstance(here, RedisPubSub) and REDIS_URL else None
        async with here.subscribe("conv:1") as mine, contextlib.AsyncExitStack() as stack:
            theirs = await stack.enter_async_context(there.subscribe("conv:1")) if there else None
            for body in ("你好，世界", "half \ud800 a pair"):
                await here.publish("conv:1", {"body": body})
                for sub in (mine, theirs) if theirs else (mine,):
                    got = await sub.get(timeout=2)
                    assert isinstance(got, Received) and got == {"body": body}
                    if body.startswith("half"):
                        assert "\\ud800" in got.text and got.text.isascii()
                    else:
                        assert body in got.text and "\\u" not in got.text
                    got.text.encode()  # UTF-8 carries it (a socket can send it)
        await here.close()
        if there:
            await there.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_send_serves_this_processs_subscribers_before_it_returns(kind: str) -> None:
    async def scenario() -> None:
        bus = _make(kind)
        async with bus.subscribe("conv:1") as mine:
            bus.send("conv:1", {"seq": 1, "text": "你好"})
            assert mine.queue.get_nowait() == {"seq": 1, "text": "你好"}  # no turn of the loop in between
        await bus.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_a_sink_is_handed_each_message_as_it_arrives_and_one_that_fails_costs_the_others_nothing(
        kind: str) -> None:
    async def scenario() -> None:
        bus, got = _make(kind), []

        def broken(_: dict[str, Any]) -> None:
            raise RuntimeError("a sink's bug")

        async with bus.subscribe("conv:1", broken), bus.subscribe("conv:1", got.append) as sub, \
                bus.subscribe("conv:1") as queued:
            bus.send("conv:1", {"seq": 1})
            assert got == [{"seq": 1}] and isinstance(got[0], Received)  # during send, as the queue would
            assert queued.queue.get_nowait() == {"seq": 1}  # the plain subscriber beside them, too
            assert sub.queue is None  # a sink's messages aren't queued as well: it has no queue
            with pytest.raises(TypeError, match="sink"):
                await sub.get(0)
        await bus.close()

    asyncio.run(scenario())



if REDIS_URL:

    @pytest.mark.redis
    @pytest.mark.parametrize("how", ["send", "publish"])
    def test_a_message_waiting_for_the_connection_keeps_its_place_in_line(
            how: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Socket X publishes while the publisher's connection is being opened; in one turn of the loop X's
        step runs, the connection is ready, and socket Y publishes. Y's must not overtake X's."""
        prefix = f"paydesk-test-{uuid.uuid4().hex[:8]}:"

        async def scenario() -> None:
            here, there = RedisPubSub(REDIS, prefix), RedisPubSub(REDIS, prefix)
            loop = asyncio.get_running_loop()
            opened, x_wakes, y_wakes = loop.create_future(), loop.create_future(), loop.create_future()
            real_open = resp.Endpoint.open

            async def held_open(endpoint: resp.Endpoint, protocol: Any) -> Any:
                connection = await real_open(endpoint, protocol)
                await opened
                return connection

            async def socket(wakes: asyncio.Future[None], body: str) -> None:
                await wakes
                if how == "send":
                    here.send("conv:1", {"body": body})
                else:
                    await here.publish("conv:1", {"body": body})

            async with there.subscribe("conv:1") as theirs:
                monkeypatch.setattr(resp.Endpoint, "open", held_open)
                connecting = asyncio.ensure_future(here.ping())  # (a health check opens the connection)
                x, y = asyncio.ensure_future(socket(x_wakes, "X")), asyncio.ensure_future(socket(y_wakes, "Y"))
                await asyncio.sleep(0.2)
                x_wakes.set_result(None)  # woken in this order, all three in the next turn of the loop
                opened.set_result(None)
                y_wakes.set_result(None)
                await asyncio.gather(connecting, x, y)
                assert [(await theirs.get(timeout=2) or {}).get("body") for _ in range(2)] == ["X", "Y"]
            await here.close()
            await there.close()

        asyncio.run(scenario())


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to stop one of its own")
def test_a_hung_redis_holds_a_bounded_number_of_messages_and_hears_of_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past REPLIES_AWAITED_MAX publishes waiting for a reply, a message is served here but not sent to Redis
    (memory stays bounded whatever the flood); once Redis answers, the other processes get a resync for it."""
    monkeypatch.setattr(pubsub, "REPLIES_AWAITED_MAX", 20)
    prefix = f"paydesk-test-{uuid.uuid4().hex[:8]}:"
    with own_redis() as (url, redis_server):
        async def scenario() -> None:
            here, there = RedisPubSub(url, prefix), RedisPubSub(url, prefix)
            async with here.subscribe("conv:1") as mine, there.subscribe("conv:1") as theirs:
                assert await here.ping()  # connected
                redis_server.send_signal(signal.SIGSTOP)
                for n in range(100):
                    here.send("conv:1", {"seq": n})
                assert [mine.queue.get_nowait() for _ in range(100)] == [{"seq": n} for n in range(100)]
                await asyncio.sleep(0.3)
                redis_server.send_signal(signal.SIGCONT)
                got = [await theirs.get(timeout=3) for _ in range(21)]
                assert got[:20] == [{"seq": n} for n in range(20)]  # the ones sent, in order
                assert got[20] is not None and got[20]["type"] == pubsub.RESYNC  # and word of the others
                assert await theirs.get(timeout=0.3) is None
            await here.close()
            await there.close()

        asyncio.run(scenario())

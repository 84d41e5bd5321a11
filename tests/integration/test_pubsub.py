"""Realtime fan-out: in memory always, through a real Redis when PAYDESK_TEST_REDIS_URL is set."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from paydesk.core.pubsub import MemoryPubSub, RedisPubSub
from tests.conftest import REDIS_URL

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
            assert await other.get(timeout=0.2) is None
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
                assert [await sub.get(timeout=2) for _ in range(4)] == [{"seq": 0}, {"seq": 1}, {"seq": 2},
                                                                         {"event": "assigned"}]
                a.send("agents", {"seq": 3})
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


@pytest.mark.parametrize("kind", KINDS)
def test_send_serves_this_processs_subscribers_before_it_returns(kind: str) -> None:
    async def scenario() -> None:
        bus = _make(kind)
        async with bus.subscribe("conv:1") as mine:
            bus.send("conv:1", {"seq": 1, "text": "你好"})
            assert mine.queue.get_nowait() == {"seq": 1, "text": "你好"}  # no turn of the loop in between
        await bus.close()

    asyncio.run(scenario())


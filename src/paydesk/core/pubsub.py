"""Publish/subscribe for realtime events: in-process by default, Redis when `PAYDESK_REDIS_URL` is set
(so that several app processes fan the same chat out to their own WebSocket clients).

Messages are JSON objects. A subscriber sees the messages published after it subscribed, in order."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import Redis

Message = dict[str, Any]


class Subscription(Protocol):
    async def get(self, timeout: float) -> Message | None:
        """The next message, or None when none arrives within `timeout` seconds."""
        ...


class PubSub(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...

    def subscribe(self, channel: str) -> Any:
        """An async context manager yielding a `Subscription`."""
        ...

    async def close(self) -> None: ...


class _QueueSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue()

    async def get(self, timeout: float) -> Message | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class MemoryPubSub:
    """One process: subscribers are queues on the running event loop."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = defaultdict(set)

    async def publish(self, channel: str, message: Message) -> None:
        encoded = json.loads(json.dumps(message))  # same copying and type rules as Redis
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.queue.put_nowait(encoded)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[_QueueSubscription]:
        subscription = _QueueSubscription()
        self._subscribers[channel].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[channel].discard(subscription)

    async def close(self) -> None:
        self._subscribers.clear()


class _RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    async def get(self, timeout: float) -> Message | None:
        deadline = asyncio.get_running_loop().time() + timeout
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            # Subscribe confirmations come back as None here; keep waiting for a real message.
            raw = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if raw is not None:
                decoded: Message = json.loads(raw["data"])
                return decoded
        return None


class RedisPubSub:
    """Many processes: Redis PUBLISH/SUBSCRIBE with JSON payloads."""

    def __init__(self, url: str, prefix: str = "paydesk:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix

    async def publish(self, channel: str, message: Message) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(message))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[_RedisSubscription]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._prefix + channel)
        try:
            yield _RedisSubscription(pubsub)
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


def make_pubsub(redis_url: str | None) -> MemoryPubSub | RedisPubSub:
    return RedisPubSub(redis_url) if redis_url else MemoryPubSub()

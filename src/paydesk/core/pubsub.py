"""Publish/subscribe for realtime events: in-process by default, Redis when `PAYDESK_REDIS_URL` is set
(so that several app processes fan the same chat out to their own WebSocket clients).

Messages are JSON objects. A subscriber sees the messages published after it subscribed, in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis

from paydesk.core.publisher import RedisPublisher

Message = dict[str, Any]


class Subscription(Protocol):
    async def get(self, timeout: float | None) -> Message | None:
        """The next message, or None when none arrives within `timeout` seconds (None: wait for one)."""
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

    async def get(self, timeout: float | None) -> Message | None:
        if timeout is None:
            return await self.queue.get()
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


class RedisPubSub:
    """Many processes: Redis PUBLISH/SUBSCRIBE with JSON payloads. A process holds one subscriber connection
    whatever the number of local subscribers (thousands of chat sockets), subscribes each channel once, and
    fans what arrives out to its local queues.

    What a process publishes reaches its own subscribers at once, and the others through Redis: a message
    marked with this process's origin is skipped when Redis brings it back. The round trip through Redis
    (a third of a chat message's delivery time here) is paid only by the processes it has to reach. The
    PUBLISH is on its way (core/publisher.py) before the local subscribers are served. Messages from one
    process arrive in the order it published them everywhere; from two processes, in either order (chat
    messages carry their number, and a socket puts them in order: support/ws.py)."""

    def __init__(self, url: str, prefix: str = "paydesk:") -> None:
        # redis-py for the subscriber connection and health checks; publishing has a connection of its own.
        self._redis: Redis = Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=8,
                                                                                  timeout=10))
        self._publisher = RedisPublisher(url)
        self._prefix = prefix
        self._pubsub: Any = None
        self._local: dict[str, set[_QueueSubscription]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._origin = uuid.uuid4().hex  # 32 characters before the JSON of everything this process publishes

    async def publish(self, channel: str, message: Message) -> None:
        payload = json.dumps(message)
        sent = self._publisher.publish(self._prefix + channel, self._origin + payload)
        local = self._local.get(channel)
        if local:
            self._deliver(local, json.loads(payload))  # the same copy a message from Redis would be
        await sent

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[_QueueSubscription]:
        subscription = _QueueSubscription()
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            first = not self._local.get(channel)
            self._local[channel].add(subscription)
            if first:
                await self._pubsub.subscribe(self._prefix + channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        try:
            yield subscription
        finally:
            async with self._lock:
                local = self._local.get(channel)
                if local is not None:
                    local.discard(subscription)
                    if not local:
                        del self._local[channel]
                        await self._pubsub.unsubscribe(self._prefix + channel)

    async def _read(self) -> None:
        skip = len(self._prefix)
        while self._pubsub is not None:
            if not self._pubsub.subscribed:
                await asyncio.sleep(0.05)
                continue
            # Waits without a timeout (no timer set up and torn down per message); close() cancels this task.
            raw = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if raw is None:
                continue
            data = raw["data"].decode() if isinstance(raw["data"], bytes) else str(raw["data"])
            if data.startswith(self._origin):
                continue  # published here: delivered already
            name = raw["channel"].decode() if isinstance(raw["channel"], bytes) else str(raw["channel"])
            local = self._local.get(name[skip:])
            if local:  # (a payload without an origin is plain JSON: "{" is not a hex digit)
                self._deliver(local, json.loads(data if data.startswith("{") else data[len(self._origin):]))

    @staticmethod
    def _deliver(local: set[_QueueSubscription], message: Message) -> None:
        for subscription in list(local):
            subscription.queue.put_nowait(message)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if pubsub is not None:
            await pubsub.aclose()
        await self._publisher.close()
        await self._redis.aclose(close_connection_pool=True)


def make_pubsub(redis_url: str | None) -> MemoryPubSub | RedisPubSub:
    return RedisPubSub(redis_url) if redis_url else MemoryPubSub()

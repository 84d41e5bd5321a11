"""Publish/subscribe for realtime events: in-process by default, Redis when `PAYDESK_REDIS_URL` is set
(so that several app processes fan the same chat out to their own WebSocket clients).

Messages are JSON objects of JSON's own types (str, int, float, bool, None, lists, dicts with string keys).
A subscriber sees the messages published after it subscribed, in order, each with its JSON text (`Received`):
encoded once when published, however many subscribers pass it on; with Redis, a RESYNC message says where some
may be missing (the connection to Redis was lost, and is back)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from paydesk.core.redis_clients import RedisPublisher, RedisSubscriber
from paydesk.core.resp import REPLY_TIMEOUT_S

Message = dict[str, Any]
# Where a subscription with a sink has its messages handed, as they arrive, on the loop: it must neither block
# nor raise (one that raises is logged, and the channel's other subscribers still get the message).
Sink = Callable[[Message], None]
# What a subscriber receives (`{"type": RESYNC, "resync": token}`) when messages may have been lost on the way:
# its process's connection to Redis was lost and is back, or another process couldn't publish to the channel
# for a while and now can. Every subscription that one event reaches gets the same token.
RESYNC = "resync"
MISSED_CHANNELS_KEPT = 10_000  # channels remembered for a RESYNC while publishing fails (beyond: next message)
# Publishes whose reply is awaited at most (a healthy Redis answers within a millisecond, so this many means it
# is hung or cut off): beyond, a message is not sent to Redis but counted as missed (a resync follows once
# Redis answers), so that a flood against a silent Redis can't hold ever more memory.
REPLIES_AWAITED_MAX = 10_000
log = structlog.get_logger(__name__)


def encode(message: Message) -> str:
    """A message's JSON text, as subscribers get it and sockets send it: characters as they are (a Chinese
    message takes 3 bytes a character in UTF-8, not the 6 of an escape like `\\u4f60`; the catch-up's frames,
    which Starlette encodes, are written so too). A text that UTF-8 can't carry (half a surrogate pair, which the
    chat's input refuses but a message built elsewhere might hold) is escaped instead, so that it still
    reaches Redis and the sockets."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return json.dumps(message, separators=(",", ":"))
    return text


class Received(dict[str, Any]):
    """A message as a subscriber gets it: the JSON object, and the text it was published as (`text`), so that a
    socket sends it on without encoding it again. A channel's subscribers share one: read it, never change it."""

    __slots__ = ("text",)

    def __init__(self, message: Message, text: str) -> None:
        super().__init__(message)
        self.text = text


class Subscription(Protocol):
    async def get(self, timeout: float | None) -> Message | None:
        """The next message, or None when none arrives within `timeout` seconds (None: wait for one)."""
        ...


class PubSub(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...

    def send(self, channel: str, message: Message) -> None:
        """`publish` without waiting: when this returns, this process's subscribers have the message and it is
        on its way to the other processes. Nobody waits on the doorbell: Redis's reply is read in the
        background (and `close` waits for what is due)."""
        ...

    def subscribe(self, channel: str, sink: Sink | None = None) -> Any:
        """An async context manager yielding a `Subscription`. With a `sink`, each message is handed to it as it
        arrives (during `send`, for this process's own) instead of queued for `get`: no task waits on a queue
        for it, and no turn of the loop passes between its arrival and whatever the sink does with it (such a
        subscription has no queue: its `get` raises TypeError)."""
        ...

    async def close(self) -> None: ...


class _QueueSubscription:
    """A subscription here: its messages queued for `get`, or with a sink handed to it (and no queue: a chat
    socket's subscriptions, thousands of them, never read one)."""

    def __init__(self, sink: Sink | None = None) -> None:
        self.queue: asyncio.Queue[Message] | None = None
        if sink is None:
            self.queue = asyncio.Queue()
            sink = self.queue.put_nowait
        self.deliver: Sink = sink

    async def get(self, timeout: float | None) -> Message | None:
        if self.queue is None:
            raise TypeError("this subscription hands its messages to its sink")
        if timeout is None:
            return await self.queue.get()
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


def _deliver(subscriptions: set[_QueueSubscription], message: Message) -> None:
    """A message to each of a channel's subscriptions here: queued, or handed to its sink."""
    for subscription in list(subscriptions):
        try:
            subscription.deliver(message)
        except Exception:  # a sink's bug: the others still get the message
            log.exception("pubsub.sink_failed")


class MemoryPubSub:
    """One process: subscribers are queues on the running event loop."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = defaultdict(set)

    async def publish(self, channel: str, message: Message) -> None:
        self.send(channel, message)

    def send(self, channel: str, message: Message) -> None:
        received = Received(message, encode(message))  # encoded here, as with Redis: a bad message fails its sender
        local = self._subscribers.get(channel)
        if local:
            _deliver(local, received)

    @asynccontextmanager
    async def subscribe(self, channel: str, sink: Sink | None = None) -> AsyncIterator[_QueueSubscription]:
        subscription = _QueueSubscription(sink)
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
    fans what arrives out to its local queues; it publishes on a second connection (core/redis_clients.py).

    What a process publishes reaches its own subscribers at once, and the others through Redis: a message
    marked with this process's origin is skipped when Redis brings it back. The round trip through Redis
    (a third of a chat message's delivery time here) is paid only by the processes it has to reach, and the
    PUBLISH is on its way before the local subscribers are served. Messages from one process arrive in the
    order it published them everywhere (but around a lost connection: one sent again may come twice, one
    written just before the loss may come after a later one, and one posted just before it may not come at
    all: its channel gets a resync instead); from two processes, in either order
    (chat messages carry their number, and a socket puts them in order and drops repeats: support/outbox.py)."""

    def __init__(self, url: str, prefix: str = "paydesk:", *, reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self._prefix = prefix
        self._reply_timeout_s = reply_timeout_s
        self._publisher = RedisPublisher(url, reply_timeout_s=reply_timeout_s, connect_timeout_s=reply_timeout_s,
                                         on_post_lost=self._post_lost)
        self._subscriber = RedisSubscriber(url, self._received, reply_timeout_s=reply_timeout_s,
                                           connect_timeout_s=reply_timeout_s, on_recovered=self._recovered)
        self._local: dict[str, set[_QueueSubscription]] = defaultdict(set)
        self._lock = asyncio.Lock()
        self._origin_text = uuid.uuid4().hex  # 32 characters before the JSON of everything published here
        self._origin = self._origin_text.encode()
        self._missed = 0  # messages that didn't reach Redis since the last that did
        self._missed_channels: set[str] = set()  # where they were going (at most MISSED_CHANNELS_KEPT)
        self._announcing: asyncio.Task[None] | None = None
        self._probing: asyncio.Task[None] | None = None  # a PING asking whether Redis answers again
        self._closing = False  # (no probe, no resync announced, once closing)
        self._replies: set[asyncio.Future[None]] = set()  # what `send` awaits in the background

    async def publish(self, channel: str, message: Message) -> None:
        """Deliver here and through Redis. What is published is already saved (the database is the record,
        pub/sub only the doorbell), so a Redis that can't be reached doesn't fail the caller: the local
        subscribers have the message, and the other processes' sockets read it from the database with the
        conversation's next message or when they reconnect. The first failure of a run is logged, and the
        recovery with the number of messages that missed Redis."""
        replied = self._send(channel, message, wait=True)
        if replied is not None:
            await asyncio.shield(replied)  # (a cancelled caller leaves the PUBLISH its place)

    def send(self, channel: str, message: Message) -> None:
        """`publish` without waiting for Redis's reply (a hung Redis holds nobody up). While Redis answers, the
        PUBLISH is posted (RedisPublisher.post): its reply is read and dropped, and only one that fails (an
        error, or none in time) is counted as missed. Otherwise (no connection just now, or messages missed
        since the last that got through) a task of its own awaits the reply, and `close` waits for it: the
        first that gets through says Redis is back."""
        self._send(channel, message, wait=False)

    def _send(self, channel: str, message: Message, *, wait: bool) -> asyncio.Future[None] | None:
        """The PUBLISH written to the socket and the local subscribers served; the task that awaits Redis's
        reply, or None when nothing awaits it (posted, or not sent). Without a connection, the PUBLISH is
        written once there is one, by that task: sent and published messages alike wait in tasks, which start
        in the order they were made (the publisher's queue keeps that order), so none overtakes another."""
        payload = encode(message)
        sent: Awaitable[object] | None = None
        full = len(self._replies) + self._publisher.posted >= REPLIES_AWAITED_MAX
        if not full:
            data = self._origin_text + payload
            if wait or self._missed:
                sent = self._publisher.publish(self._prefix + channel, data)
            else:
                sent = self._publisher.post(self._prefix + channel, data)
        local = self._local.get(channel)
        if local:
            _deliver(local, Received(message, payload))  # what a message from Redis would be
        if full:  # Redis is that far behind (hung, or cut off): this one is not sent, only counted
            self._missed_one(channel, f"{REPLIES_AWAITED_MAX} publishes are waiting for Redis's reply")
            return None
        if sent is None:
            return None  # posted
        task = asyncio.ensure_future(self._reached_redis(channel, sent))
        self._replies.add(task)  # held until done (the loop keeps only weak references to tasks)
        task.add_done_callback(self._replies.discard)
        return task

    async def _reached_redis(self, channel: str, sent: Awaitable[object]) -> None:
        """Redis's reply to a PUBLISH (or the failure to get one), counted for the logs and the resyncs."""
        try:
            await sent
        except (RedisConnectionError, ResponseError) as exc:
            self._missed_one(channel, str(exc))
            return
        self._published_again()

    def _post_lost(self, channel: str, error: Exception) -> None:
        """A posted PUBLISH that Redis refused, or may not have run (its connection was lost, or Redis went
        silent): missed, as one whose reply was awaited."""
        self._missed_one(channel[len(self._prefix):], str(error))

    def _published_again(self) -> None:
        """A PUBLISH got through: the recovery logged if messages had missed Redis, and their channels told."""
        if self._missed:
            log.info("pubsub.publish_recovered", missed=self._missed)
            self._missed = 0
        self._announce_missed()  # (a set found empty, almost always)

    def _missed_one(self, channel: str, error: str) -> None:
        """A message that didn't reach Redis: its channel is remembered for a resync, and the first of a run
        logged."""
        self._missed += 1
        if len(self._missed_channels) < MISSED_CHANNELS_KEPT:
            self._missed_channels.add(channel)
        if self._missed == 1:
            log.warning("pubsub.publish_failed", channel=channel, error=error)
        # Nothing else may come to say when Redis is back (no message sent after this one): a probe asks.
        if not self._closing and (self._probing is None or self._probing.done()):
            self._probing = asyncio.get_running_loop().create_task(self._probe())

    async def _probe(self) -> None:
        """Once a message missed Redis: a PING, behind whatever is still on its way there, and when it is
        answered, the recovery (the channels that missed messages get their resync without waiting for the
        next message). Unanswered, the next message sent waits for its reply instead, and says the same."""
        with contextlib.suppress(RedisConnectionError, ResponseError):
            await self._publisher.call(b"PING")
            self._published_again()

    def _announce_missed(self) -> None:
        """Publishing works again: tell the other processes' subscribers of the channels that missed messages
        to resync (their sockets read the messages from the database), in the background."""
        if self._missed_channels and not self._closing and (self._announcing is None or self._announcing.done()):
            self._announcing = asyncio.get_running_loop().create_task(self._announce())

    async def _announce(self) -> None:
        """A resync to each channel that missed a message, until none is left (channels missed meanwhile
        included). A channel leaves the set once announced; at the first failure the rest wait for the next
        publish that gets through or the next recovery (no burst of tries at a Redis that fails)."""
        payload = self._origin_text + encode({"type": RESYNC, "resync": uuid.uuid4().hex})
        try:
            while self._missed_channels:
                channel = next(iter(self._missed_channels))
                try:  # to Redis only: this process's own subscribers missed nothing
                    await self._publisher.publish(self._prefix + channel, payload)
                except (RedisConnectionError, ResponseError):
                    return  # the rest wait: the next publish that gets through starts this again
                self._missed_channels.discard(channel)
        except Exception:  # not Redis's: logged, and the channels are kept for the next try
            log.exception("pubsub.announce_failed", channels=len(self._missed_channels))

    @asynccontextmanager
    async def subscribe(self, channel: str, sink: Sink | None = None) -> AsyncIterator[_QueueSubscription]:
        subscription = _QueueSubscription(sink)
        async with self._lock:
            first = not self._local.get(channel)
            self._local[channel].add(subscription)
            if first:
                try:
                    await self._subscriber.subscribe(self._prefix + channel)
                except BaseException:
                    self._leave(channel, subscription)
                    raise
        try:
            yield subscription
        finally:
            async with self._lock:
                if self._leave(channel, subscription):
                    await self._subscriber.unsubscribe(self._prefix + channel)

    def _leave(self, channel: str, subscription: _QueueSubscription) -> bool:
        """Drop a local subscription; True when it was the channel's last one here."""
        local = self._local.get(channel)
        if local is None:
            return False
        local.discard(subscription)
        if local:
            return False
        del self._local[channel]
        return True

    def _received(self, channel: bytes, data: bytes) -> None:
        """A message from Redis, handed over as the connection reads it."""
        if data.startswith(self._origin):
            return  # published here: delivered already
        local = self._local.get(channel.decode()[len(self._prefix):])
        if local:  # (a payload without an origin is plain JSON: "{" is not a hex digit)
            text = (data if data.startswith(b"{") else data[len(self._origin):]).decode()
            message = json.loads(text)
            if not isinstance(message, dict):  # not one of ours (anyone with access to Redis can publish)
                raise ValueError("not a JSON object")  # dropped and logged (redis.message_dropped), as bad JSON is
            _deliver(local, Received(message, text))

    def _recovered(self) -> None:
        """The subscriber's connection was lost and is back: whatever was published meanwhile never arrives.
        Each local subscriber is told so with a RESYNC message (chat sockets read what they missed from the
        database, and tell their clients). Redis answers again, so what this process failed to publish
        meanwhile is announced too."""
        token = uuid.uuid4().hex
        for local in self._local.values():
            _deliver(local, {"type": RESYNC, "resync": token})
        self._announce_missed()

    async def ping(self) -> bool:
        return await self._publisher.call(b"PING") == "PONG"

    async def close(self) -> None:
        """Close, once what `send` published has been answered or given up on (a connection to make, then a
        reply to wait for: at most twice the reply timeout; then the posted ones', at most once more)."""
        if self._replies:
            await asyncio.wait(list(self._replies), timeout=2 * self._reply_timeout_s)
        self._closing = True
        await _cancelled(self._probing)
        await _cancelled(self._announcing)  # (read after the probe's end: the probe may have started it)
        await self._subscriber.close()
        await self._publisher.close()


async def _cancelled(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def make_pubsub(redis_url: str | None) -> MemoryPubSub | RedisPubSub:
    return RedisPubSub(redis_url) if redis_url else MemoryPubSub()

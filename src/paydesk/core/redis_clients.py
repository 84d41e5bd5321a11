"""The two Redis connections a process's pub/sub keeps (core/pubsub.py): one that publishes and one that
subscribes, over core/resp.py's connection. Written for the chat's delivery time:

- redis-py's pooled `publish` checked a connection out and probed it before writing, a turn of the event
  loop: the PUBLISH reached the socket after the local sockets had been served, 0.9 ms after the message was
  ready (bench/chat_fanout.py, two processes). Here a PUBLISH is written to the socket the moment it is called.
- redis-py's subscriber took 40 µs of Python a message and a task woken per message; here what arrives is
  parsed where the bytes are received and handed to `on_message` right there.
- A chat message's PUBLISH is posted (`RedisPublisher.post`): nobody waits for its reply, so it costs neither
  a future nor a task, nor a turn of the loop when the reply comes; a reply that is an error or never comes
  is reported instead (`on_post_lost`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from paydesk.core.resp import REPLY_TIMEOUT_S, Connection, Endpoint, RedisSilent, Value, retrieved

log = structlog.get_logger(__name__)

PING_EVERY_S = 10.0  # a subscriber's connection is asked this often whether Redis still answers


class RedisPublisher:
    """Publishes on one connection kept open (named `paydesk-publisher` in CLIENT LIST)."""

    def __init__(self, url: str, *, name: str = "paydesk-publisher", connect_timeout_s: float = 10.0,
                 reply_timeout_s: float = REPLY_TIMEOUT_S,
                 on_post_lost: Callable[[str, Exception], None] | None = None) -> None:
        self._endpoint = Endpoint(url, name, connect_timeout_s)
        self._reply_timeout = reply_timeout_s
        self._on_post_lost = on_post_lost  # (channel, error) of a posted PUBLISH Redis may not have run
        self._connection: Connection | None = None
        self._lock = asyncio.Lock()
        self._queued = 0  # callers waiting for a connection
        self._closed = False
        # When the last try to connect failed, and why.
        self._failure: tuple[float, type[Exception], str] | None = None

    def publish(self, channel: str, data: str) -> Awaitable[Value]:
        """PUBLISH, written to the socket now when connected (the caller may serve its own subscribers while it
        travels); await it for Redis's reply (the number of subscribers reached). A PUBLISH written to a
        connection found gone is written once more on a new one (so, should Redis have run it before the
        connection went, it is delivered twice: chat messages are numbered, and sockets drop repeats); one
        given up because Redis went silent is not (RedisSilent: it may yet run)."""
        connection = self._ready()
        if connection is None:
            return self._in_line(b"PUBLISH", channel, data)
        return self._reply(connection.call(b"PUBLISH", channel, data), b"PUBLISH", channel, data)

    def post(self, channel: str, data: str) -> Awaitable[Value] | None:
        """PUBLISH without waiting for the reply: None when it is written now (connected, nobody in line). Its
        reply is read and dropped; should it be an error, or never come (the connection lost, Redis silent),
        `on_post_lost(channel, error)` is called, once, and the PUBLISH is not sent again. Otherwise (no
        connection just now) it waits in line as `publish` does, and the awaitable is returned."""
        connection = self._ready()
        if connection is None:
            return self._in_line(b"PUBLISH", channel, data)
        connection.post(channel, b"PUBLISH", channel, data)
        return None

    def _ready(self) -> Connection | None:
        """The connection, when a command can be written to it now (open, and nobody waiting in line)."""
        connection = self._connection
        return None if connection is None or connection.closed or self._queued else connection

    @property
    def posted(self) -> int:
        """Posted PUBLISHes whose reply hasn't come yet."""
        connection = self._connection
        return 0 if connection is None else connection.posted

    async def call(self, *parts: bytes | str) -> Value:
        """Any command with a one-line reply (PING, say)."""
        return await self._in_line(*parts)

    async def _reply(self, sent: asyncio.Future[Value], *parts: bytes | str) -> Value:
        try:
            return await sent
        except RedisSilent:
            raise  # it may yet run (when a stopped Redis resumes): sent again, it could arrive twice
        except RedisConnectionError:
            pass  # the connection had gone (a restart, an idle timeout): once more, on a new one
        return await self._in_line(*parts)

    def _in_line(self, *parts: bytes | str) -> Awaitable[Value]:
        """A command that waits for the connection. Its place in line is taken now, when it is asked for, not
        when its caller first runs: a later PUBLISH sees the line and waits behind it instead of overtaking it
        (tasks start, and the lock serves them, in the order they were made)."""
        self._queued += 1
        return self._when_connected(parts)

    async def _when_connected(self, parts: tuple[bytes | str, ...]) -> Value:
        try:
            connection = await self._connect()
            reply = connection.call(*parts)
        finally:
            self._queued -= 1
        return await reply

    async def _connect(self) -> Connection:
        """The connection, opened if needed. Callers that waited while a try failed share its error rather than
        each making one more try in turn (with Redis silent, each takes the timeout: a queue of senders
        would wait for ever longer)."""
        loop = asyncio.get_running_loop()
        asked = loop.time()
        async with self._lock:
            if self._closed:
                raise RedisConnectionError("the publisher is closed")
            if self._connection is None or self._connection.closed:
                if self._failure is not None and self._failure[0] >= asked:
                    _, kind, reason = self._failure
                    raise kind(reason)
                timeout = self._reply_timeout
                try:
                    self._connection = await self._endpoint.open(lambda: Connection(reply_timeout_s=timeout))
                except (RedisConnectionError, ResponseError) as exc:
                    self._failure = (loop.time(), type(exc), str(exc))
                    raise
                self._connection.on_post_lost = self._on_post_lost
            return self._connection

    async def close(self) -> None:
        """Close, once what was posted has been answered (Redis answers in order: a PING's reply comes after
        theirs), or the reply timeout has passed."""
        self._closed = True  # (no new connection from here on)
        connection = self._connection
        if connection is None:
            return
        try:
            if connection.waiting and not connection.closed:
                with contextlib.suppress(RedisConnectionError, ResponseError, TimeoutError):
                    await asyncio.wait_for(connection.call(b"PING"), self._reply_timeout)
        finally:
            self._connection = None
            connection.close()


class RedisSubscriber:
    """Subscribes on one connection (named `paydesk-subscriber`) and calls `on_message(channel, data)` for
    each message as it is received. A lost connection is opened again in the background (waiting 0.1 s,
    then up to 2 s, between tries) with every channel subscribed again, and then `on_recovered()` is called:
    what was published meanwhile is not received (chat sockets then read what they missed from the
    database: support/outbox.py). The connection is pinged
    every `ping_every_s`: a Redis gone silent (no message is no sign of trouble on a quiet channel) counts
    as lost once a PING goes unanswered for `reply_timeout_s`."""

    def __init__(self, url: str, on_message: Callable[[bytes, bytes], None], *,
                 name: str = "paydesk-subscriber", connect_timeout_s: float = 10.0,
                 reply_timeout_s: float = REPLY_TIMEOUT_S, ping_every_s: float = PING_EVERY_S,
                 on_recovered: Callable[[], None] | None = None) -> None:
        self._endpoint = Endpoint(url, name, connect_timeout_s)
        self._on_recovered = on_recovered  # called once a lost connection is back, every channel subscribed
        self._reply_timeout, self._ping_every = reply_timeout_s, ping_every_s
        self._pinger: asyncio.Task[None] | None = None
        self._on_message = on_message
        self._channels: set[str] = set()
        self._connection: Connection | None = None
        self._lock = asyncio.Lock()
        self._recovery: asyncio.Task[None] | None = None
        self._closed = False

    async def subscribe(self, channel: str) -> None:
        """Returns once Redis has confirmed the subscription (what is published after it is received)."""
        async with self._lock:
            connection = await self._connected()
            new = channel not in self._channels
            self._channels.add(channel)
            try:
                await connection.call(b"SUBSCRIBE", channel)
            except BaseException:  # refused, or the caller gave up: not subscribed now, nor after a reconnect
                if new:
                    self._channels.discard(channel)
                    if not connection.closed:  # written after the SUBSCRIBE: Redis undoes it in order
                        connection.call(b"UNSUBSCRIBE", channel).add_done_callback(retrieved)
                raise

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self._channels.discard(channel)
            connection = self._connection
            if connection is not None and not connection.closed:
                with contextlib.suppress(RedisConnectionError):  # gone: nothing left to leave
                    await connection.call(b"UNSUBSCRIBE", channel)

    async def _connected(self) -> Connection:
        """The connection, opened (and every channel subscribed) if needed; the caller holds the lock."""
        if self._connection is None or self._connection.closed:
            connection = await self._endpoint.open(
                lambda: Connection(self._on_message, reply_timeout_s=self._reply_timeout))
            try:
                for channel in sorted(self._channels):
                    await connection.call(b"SUBSCRIBE", channel)
            except BaseException:  # refused or cancelled halfway: not a second subscriber left behind
                connection.close()
                raise
            self._connection = connection
            connection.on_lost = self._lost  # only a connection made whole is recovered (a failed try raises)
            if self._pinger is None:
                self._pinger = asyncio.get_running_loop().create_task(self._ping())
        return self._connection

    async def _ping(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._ping_every)
            connection = self._connection
            if connection is not None and not connection.closed:
                connection.call(b"PING").add_done_callback(retrieved)  # unanswered: the watchdog gives it up

    def _lost(self) -> None:
        if not self._closed and (self._recovery is None or self._recovery.done()):
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        pause = 0.1
        while not self._closed:
            try:
                async with self._lock:
                    await self._connected()
                log.info("redis.subscriber_reconnected", channels=len(self._channels))
                if self._on_recovered is not None:
                    self._on_recovered()
                return
            except (RedisConnectionError, ResponseError, TimeoutError) as exc:
                log.warning("redis.subscriber_reconnect_failed", error=str(exc), retry_in_s=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def close(self) -> None:
        self._closed = True
        for task in (self._recovery, self._pinger):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

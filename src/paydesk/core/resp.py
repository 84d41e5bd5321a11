"""Redis's wire protocol (RESP2), for the two connections a process's pub/sub keeps: one that publishes and
one that subscribes. Written for the chat's delivery time:

- redis-py's pooled `publish` checked a connection out and probed it before writing, a turn of the event
  loop: the PUBLISH reached the socket after the local sockets had been served, 0.9 ms after the message was
  ready (bench/chat_fanout.py, two processes). Here a PUBLISH is written to the socket the moment it is called.
- redis-py's subscriber took 40 µs of Python a message and a task woken per message; here what arrives is
  parsed where the bytes are received and handed to `on_message` right there.

Redis answers a connection's commands in order, so each reply goes to the oldest command still waiting, and
a caller that gave up (cancelled) only has its reply dropped. A subscribing connection also receives pushed
messages, which are no command's reply.

The URL is the one redis-py takes for the same server: `redis://[[user]:password@]host[:port][/db]`,
`rediss://…` (TLS, the server's certificate checked against the system's authorities) or
`unix://[[user]:password@]/path`. The database number doesn't matter: channels are server-wide.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast
from urllib.parse import unquote, urlsplit

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

log = structlog.get_logger(__name__)

Value = int | str | bytes | list["Value"] | ResponseError | None


class RedisSilent(RedisConnectionError):
    """Redis left a command unanswered too long. Unlike a closed connection, what was written may still have
    reached it (a stopped server runs what it had read when it resumes), so such a command is not sent again."""

INCOMPLETE = object()
REPLY_TIMEOUT_S = 5.0  # a command unanswered this long: the connection is taken for lost
PING_EVERY_S = 10.0  # a subscriber's connection is asked this often whether Redis still answers


def command(*parts: bytes | str) -> bytes:
    """A command in Redis's protocol: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(out)


def parse(buffer: bytes | bytearray, start: int = 0) -> tuple[Value | object, int]:
    """One value from `buffer` at `start` and where the next begins; INCOMPLETE (and `start`) when the
    buffer doesn't hold all of it yet. Bulk strings stay bytes; errors are ResponseError values."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        return INCOMPLETE, start
    kind, line, after = buffer[start:start + 1], bytes(buffer[start + 1:end]), end + 2
    if kind == b"+":
        return line.decode(), after
    if kind == b"-":
        return ResponseError(line.decode(errors="replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            return INCOMPLETE, start
        return bytes(buffer[after:after + size]), after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items: list[Value] = []
        for _ in range(count):
            item, after = parse(buffer, after)
            if item is INCOMPLETE:
                return INCOMPLETE, start
            items.append(cast(Value, item))
        return items, after
    raise RedisConnectionError(f"unexpected reply from Redis: {bytes(buffer[start:start + 40])!r}")


class _Connection(asyncio.Protocol):
    """One connection: commands written at once, replies handed to their callers in order; pushed
    messages (`["message", channel, data]`) to `on_message`."""

    def __init__(self, on_message: Callable[[bytes, bytes], None] | None = None, *,
                 reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.closed = False
        self.on_lost: Callable[[], None] | None = None  # called once should the connection be lost (not closed)
        self._on_message = on_message
        self._waiting: deque[tuple[asyncio.Future[Value], float]] = deque()  # each reply, and when it was asked
        self._buffer = bytearray()
        self._reply_timeout = reply_timeout_s
        self._watchdog: asyncio.TimerHandle | None = None
        self._heard = 0.0  # when Redis last sent anything (loop time)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # a stream's (uvloop's isn't asyncio's class)

    def call(self, *parts: bytes | str) -> asyncio.Future[Value]:
        if self.closed or self.transport is None:
            raise RedisConnectionError("the connection to Redis is closed")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Value] = loop.create_future()
        now = loop.time()
        self._waiting.append((reply, now))
        self.transport.write(command(*parts))
        if self._watchdog is None:
            self._watchdog = loop.call_at(now + self._reply_timeout, self._watch)
        return reply

    def _watch(self) -> None:
        """A Redis that stops answering without closing (stopped, hung, cut off by the network) would hold
        every caller for ever: when the oldest command has waited `reply_timeout_s` and Redis has sent nothing
        at all for as long, the connection is given up as lost (its callers get RedisSilent; a subscriber's
        comes back on a new one). Anything received counts as a sign of life: a subscriber that reads a long
        backlog of messages has its PING answered behind them."""
        self._watchdog = None
        if self.closed or not self._waiting:
            return
        loop = asyncio.get_running_loop()
        due = max(self._waiting[0][1], self._heard) + self._reply_timeout
        if loop.time() >= due:
            self._fail(RedisSilent(f"Redis did not answer within {self._reply_timeout:g} s"))
        else:
            self._watchdog = loop.call_at(due, self._watch)

    def data_received(self, data: bytes) -> None:
        self._heard = asyncio.get_running_loop().time()
        self._buffer += data
        start = 0
        try:
            while start < len(self._buffer):
                value, after = parse(self._buffer, start)
                if value is INCOMPLETE:
                    break
                start = after
                self._dispatch(cast(Value, value))
        except Exception as exc:  # a reply this client can't read, or nobody's: the connection is unusable
            self._fail(exc if isinstance(exc, RedisConnectionError) else RedisConnectionError(str(exc)))
            return
        finally:
            del self._buffer[:start]

    def _dispatch(self, value: Value) -> None:
        if isinstance(value, list) and len(value) == 3 and value[0] == b"message":
            channel, data = value[1], value[2]
            if self._on_message is not None and isinstance(channel, bytes) and isinstance(data, bytes):
                try:
                    self._on_message(channel, data)
                except Exception:  # one bad message (anyone may publish) costs neither the connection nor the rest
                    log.exception("redis.message_dropped", channel=channel[:80])
            return
        if not self._waiting:
            raise RedisConnectionError("Redis answered a command nobody sent")
        reply, _ = self._waiting.popleft()
        if reply.done():
            return  # its caller stopped waiting: the reply is dropped, the order kept
        if isinstance(value, ResponseError):
            reply.set_exception(value)
        else:
            reply.set_result(value)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"the connection to Redis was lost{f': {exc}' if exc else ''}"))

    def _fail(self, error: Exception) -> None:
        first = not self.closed
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.transport is not None:
            self.transport.abort()  # not close(): that waits to send what is buffered, for ever if Redis is silent
        while self._waiting:
            reply, _ = self._waiting.popleft()
            if not reply.done():
                reply.set_exception(error)
        if first and self.on_lost is not None:
            self.on_lost()

    def close(self) -> None:
        self.on_lost = None  # closed on purpose: nothing to recover
        self._fail(RedisConnectionError("the connection is closed"))


def _retrieved(reply: asyncio.Future[Value]) -> None:
    """For a reply nobody awaits: its error, if any, is not reported as lost."""
    if not reply.cancelled():
        reply.exception()


class _Endpoint:
    """Where a Redis URL points, and how to open an authenticated, named connection there."""

    def __init__(self, url: str, name: str, connect_timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"a Redis URL is redis://, rediss:// or unix://, not {parts.scheme!r}")
        self.host, self.port = parts.hostname or "localhost", parts.port or 6379
        self.path = parts.path if parts.scheme == "unix" else None
        self.tls = ssl.create_default_context() if parts.scheme == "rediss" else None
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.name, self.timeout = name, connect_timeout_s

    async def open(self, protocol: Callable[[], _Connection]) -> _Connection:
        """A connection, authenticated and named, within `connect_timeout_s` for all of it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            async with asyncio.timeout_at(deadline):
                if self.path is not None:
                    _, connection = await loop.create_unix_connection(protocol, self.path)
                else:
                    _, connection = await loop.create_connection(protocol, self.host, self.port, ssl=self.tls)
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"can't reach Redis: {exc or 'no answer'}") from exc
        try:
            async with asyncio.timeout_at(deadline):
                if self.password is not None:
                    credentials = (self.user, self.password) if self.user else (self.password,)
                    await connection.call(b"AUTH", *credentials)
                await connection.call(b"CLIENT", b"SETNAME", self.name)
        except TimeoutError as exc:  # connected, but nothing answers
            connection.close()
            raise RedisSilent(f"Redis did not answer within {self.timeout:g} s") from exc
        except BaseException:
            connection.close()
            raise
        return connection


class RedisPublisher:
    """Publishes on one connection kept open (named `paydesk-publisher` in CLIENT LIST)."""

    def __init__(self, url: str, *, name: str = "paydesk-publisher", connect_timeout_s: float = 10.0,
                 reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self._endpoint = _Endpoint(url, name, connect_timeout_s)
        self._reply_timeout = reply_timeout_s
        self._connection: _Connection | None = None
        self._lock = asyncio.Lock()
        self._queued = 0  # callers waiting for a connection
        # When the last try to connect failed, and why.
        self._failure: tuple[float, type[Exception], str] | None = None

    def publish(self, channel: str, data: str) -> Awaitable[Value]:
        """PUBLISH, written to the socket now when connected (the caller may serve its own subscribers while it
        travels); await it for Redis's reply (the number of subscribers reached). A PUBLISH written to a
        connection found gone is written once more on a new one (so, should Redis have run it before the
        connection went, it is delivered twice: chat messages are numbered, and sockets drop repeats); one
        given up because Redis went silent is not (RedisSilent: it may yet run)."""
        connection = self._connection
        if connection is None or connection.closed or self._queued:
            return self._reply(None, b"PUBLISH", channel, data)
        return self._reply(connection.call(b"PUBLISH", channel, data), b"PUBLISH", channel, data)

    async def call(self, *parts: bytes | str) -> Value:
        """Any command with a one-line reply (PING, say)."""
        return await self._reply(None, *parts)

    async def _reply(self, sent: asyncio.Future[Value] | None, *parts: bytes | str) -> Value:
        if sent is not None:
            try:
                return await sent
            except RedisSilent:
                raise  # it may yet run (when a stopped Redis resumes): sent again, it could arrive twice
            except RedisConnectionError:
                pass  # the connection had gone (a restart, an idle timeout): once more, on a new one
        self._queued += 1  # later publishes wait their turn behind this one instead of overtaking it
        try:
            connection = await self._connect()
            reply = connection.call(*parts)
        finally:
            self._queued -= 1
        return await reply

    async def _connect(self) -> _Connection:
        """The connection, opened if needed. Callers that waited while a try failed share its error rather than
        each making one more try in turn (with Redis silent, each takes the timeout: a queue of senders
        would wait for ever longer)."""
        loop = asyncio.get_running_loop()
        asked = loop.time()
        async with self._lock:
            if self._connection is None or self._connection.closed:
                if self._failure is not None and self._failure[0] >= asked:
                    _, kind, reason = self._failure
                    raise kind(reason)
                timeout = self._reply_timeout
                try:
                    self._connection = await self._endpoint.open(lambda: _Connection(reply_timeout_s=timeout))
                except (RedisConnectionError, ResponseError) as exc:
                    self._failure = (loop.time(), type(exc), str(exc))
                    raise
            return self._connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class RedisSubscriber:
    """Subscribes on one connection (named `paydesk-subscriber`) and calls `on_message(channel, data)` for
    each message as it is received. A lost connection is opened again in the background (waiting 0.1 s,
    then up to 2 s, between tries) with every channel subscribed again; what was published meanwhile is
    not received (chat sockets fill such gaps from the database: support/ws.py). The connection is pinged
    every `ping_every_s`: a Redis gone silent (no message is no sign of trouble on a quiet channel) counts
    as lost once a PING goes unanswered for `reply_timeout_s`."""

    def __init__(self, url: str, on_message: Callable[[bytes, bytes], None], *,
                 name: str = "paydesk-subscriber", connect_timeout_s: float = 10.0,
                 reply_timeout_s: float = REPLY_TIMEOUT_S, ping_every_s: float = PING_EVERY_S) -> None:
        self._endpoint = _Endpoint(url, name, connect_timeout_s)
        self._reply_timeout, self._ping_every = reply_timeout_s, ping_every_s
        self._pinger: asyncio.Task[None] | None = None
        self._on_message = on_message
        self._channels: set[str] = set()
        self._connection: _Connection | None = None
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
                        connection.call(b"UNSUBSCRIBE", channel).add_done_callback(_retrieved)
                raise

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self._channels.discard(channel)
            connection = self._connection
            if connection is not None and not connection.closed:
                with contextlib.suppress(RedisConnectionError):  # gone: nothing left to leave
                    await connection.call(b"UNSUBSCRIBE", channel)

    async def _connected(self) -> _Connection:
        """The connection, opened (and every channel subscribed) if needed; the caller holds the lock."""
        if self._connection is None or self._connection.closed:
            connection = await self._endpoint.open(
                lambda: _Connection(self._on_message, reply_timeout_s=self._reply_timeout))
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
                connection.call(b"PING").add_done_callback(_retrieved)  # unanswered: the watchdog gives it up

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

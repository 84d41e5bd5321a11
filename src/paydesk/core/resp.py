"""Redis's wire protocol (RESP2) and one connection speaking it, for the publishing and subscribing
connections of core/redis_clients.py.

Redis answers a connection's commands in order, so each reply goes to the oldest command still waiting, and
a caller that gave up (cancelled) only has its reply dropped. A subscribing connection also receives pushed
messages, which are no command's reply.

The URL is the one redis-py takes for the same server: `redis://[[user]:password@]host[:port][/db]`,
`rediss://…` (TLS, the server's certificate checked against the system's authorities) or
`unix://[[user]:password@]/path`. The database number doesn't matter: channels are server-wide.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
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


class Connection(asyncio.Protocol):
    """One connection: commands written at once, replies handed to their callers in order; pushed
    messages (`["message", channel, data]`) to `on_message`."""

    def __init__(self, on_message: Callable[[bytes, bytes], None] | None = None, *,
                 reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.closed = False
        self._loop = asyncio.get_running_loop()  # a protocol is made by its loop, when it opens the connection
        self.on_lost: Callable[[], None] | None = None  # called once should the connection be lost (not closed)
        # Called with a posted command's tag when its reply is an error, or never comes (`post`).
        self.on_post_lost: Callable[[str, Exception], None] | None = None
        self._on_message = on_message
        # Each reply awaited, in order, and when it was asked: a caller's future, or a posted command's tag.
        self._waiting: deque[tuple[asyncio.Future[Value] | str, float]] = deque()
        self._posted = 0  # tags among them
        self._buffer = bytearray()
        self._reply_timeout = reply_timeout_s
        self._watchdog: asyncio.TimerHandle | None = None
        self._heard = 0.0  # when Redis last sent anything (loop time)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # a stream's (uvloop's isn't asyncio's class)

    def call(self, *parts: bytes | str) -> asyncio.Future[Value]:
        reply: asyncio.Future[Value] = self._loop.create_future()
        self._write(reply, parts)
        return reply

    def post(self, tag: str, *parts: bytes | str) -> None:
        """A command whose reply nobody waits for (a chat message's PUBLISH): written now, and its reply read
        and dropped in turn, without a future for it nor a task to await one. Should the reply be an error, or
        never come (the connection lost, or Redis silent), `on_post_lost(tag, error)` says so."""
        self._write(tag, parts)
        self._posted += 1

    @property
    def waiting(self) -> int:
        """Replies not yet received."""
        return len(self._waiting)

    @property
    def posted(self) -> int:
        """Replies not yet received to posted commands."""
        return self._posted

    def _write(self, reply: asyncio.Future[Value] | str, parts: tuple[bytes | str, ...]) -> None:
        if self.closed or self.transport is None:
            raise RedisConnectionError("the connection to Redis is closed")
        now = self._loop.time()
        self._waiting.append((reply, now))
        self.transport.write(command(*parts))
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(now + self._reply_timeout, self._watch)

    def _watch(self) -> None:
        """A Redis that stops answering without closing (stopped, hung, cut off by the network) would hold
        every caller for ever: when the oldest command has waited `reply_timeout_s` and Redis has sent nothing
        at all for as long, the connection is given up as lost (its callers get RedisSilent; a subscriber's
        comes back on a new one). Anything received counts as a sign of life: a subscriber that reads a long
        backlog of messages has its PING answered behind them."""
        self._watchdog = None
        if self.closed or not self._waiting:
            return
        due = max(self._waiting[0][1], self._heard) + self._reply_timeout
        if self._loop.time() >= due:
            self._fail(RedisSilent(f"Redis did not answer within {self._reply_timeout:g} s"))
        else:
            self._watchdog = self._loop.call_at(due, self._watch)

    def data_received(self, data: bytes) -> None:
        self._heard = self._loop.time()
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
        if isinstance(reply, str):  # posted: nobody waits for the reply
            self._posted -= 1
            if isinstance(value, ResponseError):
                self._report_lost(reply, value)
            return
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
        lost: list[str] = []
        while self._waiting:
            reply, _ = self._waiting.popleft()
            if isinstance(reply, str):
                lost.append(reply)
            elif not reply.done():
                reply.set_exception(error)
        self._posted = 0
        for tag in lost:
            self._report_lost(tag, error)
        if first and self.on_lost is not None:
            self.on_lost()

    def _report_lost(self, tag: str, error: Exception) -> None:
        if self.on_post_lost is not None:
            try:
                self.on_post_lost(tag, error)
            except Exception:  # the callback's bug: the connection and the other tags' reports go on
                log.exception("redis.post_lost_report_failed", tag=tag[:80])

    def close(self) -> None:
        self.on_lost = self.on_post_lost = None  # closed on purpose: nothing to recover
        self._fail(RedisConnectionError("the connection is closed"))


def retrieved(reply: asyncio.Future[Value]) -> None:
    """For a reply nobody awaits: its error, if any, is not reported as lost."""
    if not reply.cancelled():
        reply.exception()


class Endpoint:
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

    async def open(self, protocol: Callable[[], Connection]) -> Connection:
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

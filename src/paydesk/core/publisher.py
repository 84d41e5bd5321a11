"""A Redis connection that only publishes, for the chat's delivery time.

redis-py's pooled `publish` checks a connection out and probes it before writing, and that took a turn of the
event loop: the PUBLISH reached the socket after the local sockets had been served, 0.9 ms after the message
was ready (bench/chat_fanout.py, two processes). Here a PUBLISH is written to the socket the moment it is
called, on one connection kept open; Redis answers commands in order, so each reply goes to the oldest caller
still waiting, and a caller that gave up (cancelled) only has its reply dropped.

The URL is the one redis-py takes for the same server: `redis://[[user]:password@]host[:port][/db]`,
`rediss://…` (TLS, the server's certificate checked against the system's authorities) or
`unix://[[user]:password@]/path`. The database number doesn't matter: channels are server-wide.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable
from typing import cast
from urllib.parse import unquote, urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

Reply = int | str


def _command(*parts: bytes | str) -> bytes:
    """A command in Redis's protocol: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(out)


class _Replies(asyncio.Protocol):
    """One connection: commands written at once, their one-line replies (integer, status or error) handed
    to the callers in the order they wrote."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.closed = False
        self._waiting: deque[asyncio.Future[Reply]] = deque()
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # a stream's (uvloop's isn't asyncio's class)

    def call(self, *parts: bytes | str) -> asyncio.Future[Reply]:
        if self.closed or self.transport is None:
            raise RedisConnectionError("the connection to Redis is closed")
        reply: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting.append(reply)
        self.transport.write(_command(*parts))
        return reply

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 2]
            if not self._waiting:
                return self._fail(RedisConnectionError("Redis answered a command nobody sent"))
            reply = self._waiting.popleft()
            kind, text = line[:1], line[1:].decode(errors="replace")
            if kind not in (b":", b"+", b"-"):  # bulk strings and arrays: no command sent here gets one
                return self._fail(RedisConnectionError(f"unexpected reply from Redis: {line[:40]!r}"))
            if reply.done():
                continue  # its caller stopped waiting: the reply is dropped, the order kept
            if kind == b"-":
                reply.set_exception(ResponseError(text))
            else:
                reply.set_result(int(text) if kind == b":" else text)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"the connection to Redis was lost{f': {exc}' if exc else ''}"))

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        while self._waiting:
            reply = self._waiting.popleft()
            if not reply.done():
                reply.set_exception(error)

    def close(self) -> None:
        self._fail(RedisConnectionError("the publisher is closed"))


class RedisPublisher:
    def __init__(self, url: str, *, name: str = "paydesk-publisher", connect_timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"a Redis URL is redis://, rediss:// or unix://, not {parts.scheme!r}")
        self._host, self._port = parts.hostname or "localhost", parts.port or 6379
        self._path = parts.path if parts.scheme == "unix" else None
        self._tls = ssl.create_default_context() if parts.scheme == "rediss" else None
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._name, self._timeout = name, connect_timeout_s
        self._connection: _Replies | None = None
        self._lock = asyncio.Lock()

    def publish(self, channel: str, data: str) -> Awaitable[Reply]:
        """PUBLISH, written to the socket now when connected (the caller may serve its own subscribers while it
        travels); await it for Redis's reply (the number of subscribers reached). A PUBLISH written to a
        connection found gone is written once more on a new one."""
        connection = self._connection
        sent = connection.call(b"PUBLISH", channel, data) if connection and not connection.closed else None
        return self._reply(sent, channel, data)

    async def _reply(self, sent: asyncio.Future[Reply] | None, channel: str, data: str) -> Reply:
        if sent is not None:
            try:
                return await sent
            except RedisConnectionError:
                pass  # the connection had gone (a restart, an idle timeout): once more, on a new one
        connection = await self._connect()
        return await connection.call(b"PUBLISH", channel, data)

    async def _connect(self) -> _Replies:
        async with self._lock:
            if self._connection is not None and not self._connection.closed:
                return self._connection  # another caller connected meanwhile
            loop = asyncio.get_running_loop()
            try:
                if self._path is not None:
                    opening = loop.create_unix_connection(_Replies, self._path)
                else:
                    opening = loop.create_connection(_Replies, self._host, self._port, ssl=self._tls)
                _, connection = await asyncio.wait_for(opening, self._timeout)
            except (OSError, TimeoutError) as exc:
                raise RedisConnectionError(f"can't reach Redis: {exc}") from exc
            try:
                if self._password is not None:
                    credentials = (self._user, self._password) if self._user else (self._password,)
                    await asyncio.wait_for(connection.call(b"AUTH", *credentials), self._timeout)
                await asyncio.wait_for(connection.call(b"CLIENT", b"SETNAME", self._name), self._timeout)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
            return connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

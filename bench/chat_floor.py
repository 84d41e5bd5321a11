"""The floor under bench/chat_fanout.py's Redis mode: the same load and the same raw broadcast server as the
baseline, against a minimal two-process relay that does the work Paydesk's chat path must do and nothing else.

Relay A holds the visitors' sockets: for each message it reads its conversation's head, adds the message and
advances the head in Paydesk's own tables (a temp SQLite file migrated as `paydesk migrate` does, WAL,
synchronous=NORMAL, foreign keys on), commits, writes a PUBLISH to Redis without waiting for its reply, and
sends the sender's copy. Relay B holds the agents' sockets, subscribed to one channel per conversation, and
sends each message it reads from Redis to its agent. No framework, no ASGI, no authentication, no JSON
parsing, no ordering or catch-up: what a server doing this job on this machine can't do without. Both run on
uvloop's event loop where it is installed, as Paydesk's server does (the raw server keeps asyncio's own, as in
chat_fanout.py).

Its ratio to the raw server is the ratio Paydesk's design could reach here; Paydesk's own (chat_fanout.py)
above it is the cost of everything else it does per message. Needs PAYDESK_TEST_REDIS_URL (a TCP URL).
Prints one JSON line, with the same figures as chat_fanout.py's.

    PAYDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/chat_floor.py [--pairs 500] …
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_fanout import (
    Load,
    _client,
    alternate,
    free_port,
    load_arguments,
    raw_server,
    report,
    wait_listening,
)

COMMON = r'''
import asyncio, sqlite3, sys, uuid
from websockets.asyncio.server import serve

def command(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out += [b"$%d\r\n" % len(data), data, b"\r\n"]
    return b"".join(out)

class Quiet(asyncio.Protocol):
    def data_received(self, data):
        pass  # PUBLISH replies, read and dropped

def serve_through_redis(protocol, handler):
    """Serve `handler` on argv[1], with `redis` a connection to Redis (argv[2], argv[3]) speaking `protocol`,
    on uvloop's event loop where it is installed, as Paydesk's server runs (uvicorn's standard extras)."""
    async def main():
        global redis
        redis, _ = await asyncio.get_running_loop().create_connection(protocol, sys.argv[2], int(sys.argv[3]))
        async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_queue=None, compression=None):
            await asyncio.Future()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
'''

# argv: port, Redis host, Redis port, database path
RELAY_A = COMMON + r'''
db = sqlite3.connect(sys.argv[4], isolation_level=None)
for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "cache_size=-65536"):
    db.execute("PRAGMA " + pragma)
AT = "2026-12-05T10:00:00.000000+00:00"
heads = {}

def conversation(room):
    cid, contact = uuid.uuid4().bytes, uuid.uuid4().bytes
    db.execute("INSERT INTO support_contacts (id, channel, external_id, name, locale, created_at) "
               "VALUES (?, 'webchat', ?, 'Visitor', 'en', ?)", (contact, room, AT))
    db.execute("INSERT INTO support_conversations (id, contact_id, channel, kind, subject, status, priority, team, "
               "assignee_id, labels, last_seq, waiting_since, created_at, updated_at) "
               "VALUES (?, ?, 'webchat', 'question', '', 'open', 'normal', 'general', ?, '[]', 0, ?, ?, ?)",
               (cid, contact, uuid.uuid4().bytes, AT, AT, AT))
    return cid

async def handler(ws):
    room = ws.request.path
    cid = heads.get(room) or heads.setdefault(room, conversation(room))
    async for raw in ws:
        db.execute("BEGIN IMMEDIATE")
        status, assignee, seq, waiting, contact = db.execute(
            "SELECT status, assignee_id, last_seq, waiting_since, contact_id FROM support_conversations "
            "WHERE id = ?", (cid,)).fetchone()
        db.execute("INSERT INTO support_messages (id, conversation_id, seq, kind, author_id, author_name, body, "
                   "data, created_at) VALUES (?, ?, ?, 'inbound', NULL, 'Visitor', ?, 'null', ?)",
                   (uuid.uuid4().bytes, cid, seq + 1, raw, AT))
        db.execute("UPDATE support_conversations SET last_seq = ?, waiting_since = ?, updated_at = ? WHERE id = ?",
                   (seq + 1, waiting, AT, cid))
        db.execute("COMMIT")
        redis.write(command(b"PUBLISH", room, raw))
        await ws.send(raw)

serve_through_redis(Quiet, handler)
'''  # noqa: S608 - a program's text, whose SQL takes parameters

# argv: port, Redis host, Redis port (as COMMON reads them)
RELAY_B = COMMON + r'''
rooms = {}

class Subscriber(asyncio.Protocol):
    def __init__(self):
        self.buffer = bytearray()

    def data_received(self, data):
        self.buffer += data
        while (parsed := self.array()) is not None:
            items, end = parsed
            del self.buffer[:end]
            if items[0] == b"message" and (ws := rooms.get(items[1].decode())) is not None:
                asyncio.ensure_future(ws.send(items[2].decode()))

    def array(self):
        """One pushed array of bulk strings and integers, and where it ends; None while incomplete."""
        buffer = self.buffer
        end = buffer.find(b"\r\n")
        if end < 0:
            return None
        count, at, items = int(buffer[1:end]), end + 2, []
        for _ in range(count):
            end = buffer.find(b"\r\n", at)
            if end < 0:
                return None
            if buffer[at:at + 1] == b":":
                items.append(int(buffer[at + 1:end]))
                at = end + 2
                continue
            size, at = int(buffer[at + 1:end]), end + 2
            if len(buffer) < at + size + 2:
                return None
            items.append(bytes(buffer[at:at + size]))
            at += size + 2
        return items, at

async def handler(ws):
    room = ws.request.path
    rooms[room] = ws
    redis.write(command(b"SUBSCRIBE", room))
    try:
        async for _ in ws:
            pass
    finally:
        rooms.pop(room, None)

serve_through_redis(Subscriber, handler)
'''


@contextlib.contextmanager
def relays(redis_host: str, redis_port: int) -> Iterator[tuple[int, int, list[int]]]:
    """Both relays up, on a freshly migrated database: (A's port, B's port, their pids)."""
    from paydesk.core.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        database = f"{tmp}/chat.db"
        upgrade(f"sqlite:///{database}")
        ports = [free_port(), free_port()]
        procs = [subprocess.Popen([sys.executable, "-c", relay, str(port), redis_host, str(redis_port), *more])
                 for relay, port, more in ((RELAY_A, ports[0], [database]), (RELAY_B, ports[1], []))]
        try:
            for port in ports:
                wait_listening(port, "a relay")
            yield ports[0], ports[1], [proc.pid for proc in procs]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)


async def relay_pairs(port_a: int, port_b: int, count: int) -> list[tuple[ClientConnection, ClientConnection]]:
    pairs = [(await _client(f"ws://127.0.0.1:{port_a}/room{i}"), await _client(f"ws://127.0.0.1:{port_b}/room{i}"))
             for i in range(count)]
    await asyncio.sleep(0.5)
    return pairs


async def compare(args: argparse.Namespace, raw_port: int, raw_pid: int, port_a: int, port_b: int,
                  pids: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """As chat_fanout.compare: the same load on the relays and the raw server, in alternating slices."""
    floor = Load(await relay_pairs(port_a, port_b, args.pairs), raw=True, pids=pids)
    return await alternate(args, floor, raw_port, raw_pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser)
    args = parser.parse_args()
    url = os.environ.get("PAYDESK_TEST_REDIS_URL")
    if not url or urlsplit(url).scheme != "redis":
        parser.error("set PAYDESK_TEST_REDIS_URL to a redis:// URL")
    target = urlsplit(url)
    with raw_server() as (raw_port, raw_pid), relays(target.hostname or "127.0.0.1", target.port or 6379) as (
            port_a, port_b, pids):
        floor, raw = asyncio.run(compare(args, raw_port, raw_pid, port_a, port_b, pids))
    print(json.dumps(report("chat_floor", "redis", args, len(pids), floor, raw)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

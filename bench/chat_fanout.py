"""Chat fan-out: N visitor WebSocket clients, each in a conversation with an agent connection joined to it
(the agents' accounts — 50 by default — each serve an equal share), send messages at a steady rate; every
message is received by both sides, and the delivery latency (send → receive, same clock) is measured at each:
over every receipt, and apart for the sender's own copy (`sender_…`) and the other side's (`other_…`; with
Redis only that one crosses it). The same load runs against a minimal raw WebSocket broadcast server (no
database, no auth: a room per pair; neither compresses) in the same run, both servers up and connected
throughout and loaded in turn: `--rounds` slices each, alternating which goes first, `--seconds` of measured
load each in all, so that the host's load, which drifts, weighs on both alike over a round or longer. Each
slice starts with `--warmup` seconds of unmeasured messages (a server coming back from the other's turn finds
its caches cold; a steady rate is what is measured); `sent`, `expected` and the CPU time count the measured
messages. `slices_p99_ms` is each slice's p99; `ratio_p99_by_round` the ratio in each round and
`ratio_p99_median_round` their median: a burst of the host's load shorter than a round lands on one slice,
and shows there as one round out of line, while `ratio_p99` is over all the receipts of the run.
Prints one JSON line per pub/sub mode: embedded (one server process), and Redis when PAYDESK_TEST_REDIS_URL
is set (two server processes on one database, the visitors on one and the agents on the other: every message
reaches its agent through Redis).
On Linux it also reports the CPU time the servers spent during the load per message sent
(`server_cpu_ms_per_message`, each process's in `…_by_process`; Redis's own not counted), the raw
server's (`raw_cpu_ms_per_message`) and their ratio (`ratio_cpu`): figures that move less with the host's
load than the latencies do, and that say what a message costs the processes it passes through; and the
client's own (`client_cpu_ms_per_message`, `raw_client_…`): it shares the two cores with the servers.

    .venv/bin/python bench/chat_fanout.py [--pairs 500] [--agents 50] [--seconds 20] [--rounds 4]
                                          [--warmup 1] [--rate 100] [--modes embedded,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
RAW_SERVER = '''
import asyncio, json, sys
from collections import defaultdict
from websockets.asyncio.server import serve
rooms = defaultdict(set)
async def handler(ws):
    room = ws.request.path
    rooms[room].add(ws)
    try:
        async for raw in ws:
            for peer in list(rooms[room]):
                try:
                    await peer.send(raw)
                except Exception:
                    pass
    finally:
        rooms[room].discard(ws)
async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_queue=None, compression=None):
        await asyncio.Future()
asyncio.run(main())
'''


def cpu_seconds(pids: list[int]) -> list[float] | None:
    """Each process's CPU time so far (user + system, from /proc: Linux only; None elsewhere)."""
    try:
        fields = [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() for pid in pids]
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return [(int(f[11]) + int(f[12])) / tick for f in fields]  # utime and stime, fields 14 and 15 of stat(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def _client(url: str) -> ClientConnection:
    """A bench client: no per-message compression (Paydesk's server declines it, and the raw server too)."""
    return await connect(url, max_queue=None, compression=None)


async def _drain(ws: ClientConnection, latencies: list[float]) -> None:
    # No timeout around recv(): on Python 3.11 a wait_for that times out just as a frame arrives can drop it
    # (a client-side loss, seen once in a Redis run); the readers are cancelled once everything has arrived.
    while True:
        try:
            raw = await ws.recv()
        except Exception:
            return
        event = json.loads(raw)
        body = event.get("body") if isinstance(event, dict) else None
        if isinstance(body, str) and body.startswith("t:"):
            latencies.append(time.perf_counter() - float(body[2:]))


class Load:
    """One server's connection pairs, read all along and sent to during its slices of the run: the visitors in
    turn, `rate` messages a second in all, each message timed from its send to its receipt at both sides."""

    def __init__(self, pairs: list[tuple[ClientConnection, ClientConnection]], *, raw: bool, pids: list[int]
                 ) -> None:
        self.pairs, self.raw, self.pids = pairs, raw, pids
        self.sides: tuple[list[float], list[float]] = ([], [])  # received by the sender (the visitor), the other
        self.readers = [asyncio.create_task(_drain(ws, side)) for pair in pairs
                        for ws, side in zip(pair, self.sides, strict=True)]
        self.sent = 0  # measured messages
        self.turn = 0  # the next visitor to send
        self.cpu: list[float] | None = [0.0] * len(pids)
        self.client_cpu = 0.0  # this process's, over the measured messages (it shares the cores with the servers)
        self.slice_p99s: list[float] = []

    async def slice(self, warmup: int, measured: int, rate: float) -> None:
        """Send `warmup` messages unmeasured (the processes come back from the other server's turn), then
        `measured` ones, timed, in one steady stream; then wait until each of the measured ones has arrived at
        both sides (10 s at most: one still missing then counts as lost)."""
        loop = asyncio.get_running_loop()
        marks = [len(side) for side in self.sides]  # (only the measured messages are timed, and counted)
        begin, cpu_before, client_before = loop.time(), None, None
        for i in range(warmup + measured):
            if (delay := begin + i / rate - loop.time()) > 0:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # behind (the client was held up): the readers still get their turn
            if i == warmup:
                cpu_before, client_before = cpu_seconds(self.pids), time.process_time()
            visitor = self.pairs[self.turn % len(self.pairs)][0]  # each visitor in turn, across the slices
            self.turn += 1
            body = f"{'t' if i >= warmup else 'w'}:{time.perf_counter()}"  # only the "t:" ones are timed
            await visitor.send(json.dumps({"body": body} if self.raw else {"type": "message", "body": body}))
        if client_before is not None:
            self.client_cpu += time.process_time() - client_before
        cpu_after = cpu_seconds(self.pids)
        if self.cpu is not None and cpu_before is not None and cpu_after is not None:
            self.cpu = [total + after - before
                        for total, before, after in zip(self.cpu, cpu_before, cpu_after, strict=True)]
        else:
            self.cpu = None
        self.sent += measured
        deadline = time.monotonic() + 10
        while sum(map(len, self.sides)) - sum(marks) < measured * 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # The slice's receipts: what each side's list grew by (a message lost earlier isn't waited for again).
        fresh = sorted(latency for side, mark in zip(self.sides, marks, strict=True) for latency in side[mark:])
        self.slice_p99s.append(percentiles(fresh, "")["p99_ms"])

    def result(self) -> dict[str, Any]:
        latencies = sorted(self.sides[0] + self.sides[1])
        cpu: dict[str, Any] = {}
        if self.cpu is not None and self.sent:
            spent = [round(seconds * 1000 / self.sent, 3) for seconds in self.cpu]
            cpu = {"server_cpu_ms_per_message": round(sum(spent), 3), "server_cpu_ms_per_message_by_process": spent}
        if self.sent:
            cpu["client_cpu_ms_per_message"] = round(self.client_cpu * 1000 / self.sent, 3)
        return {**cpu, "sent": self.sent, "received": len(latencies), "expected": self.sent * 2,
                **percentiles(latencies, ""), **percentiles(sorted(self.sides[0]), "sender_"),
                **percentiles(sorted(self.sides[1]), "other_"), "slices_p99_ms": self.slice_p99s}

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for pair in self.pairs for ws in pair), return_exceptions=True)


def percentiles(latencies: list[float], prefix: str) -> dict[str, float]:
    """p50/p90/p95/p99 in ms of sorted latencies (nan when there are none)."""
    def pct(q: float) -> float:
        return round(latencies[max(int(len(latencies) * q) - 1, 0)] * 1000, 2) if latencies else float("nan")

    p50 = round(statistics.median(latencies) * 1000, 2) if latencies else float("nan")
    return {f"{prefix}p50_ms": p50, f"{prefix}p90_ms": pct(0.90), f"{prefix}p95_ms": pct(0.95),
            f"{prefix}p99_ms": pct(0.99)}


async def paydesk_pairs(base: str, count: int, agent_tokens: list[str], agent_base: str
                        ) -> list[tuple[ClientConnection, ClientConnection]]:
    ws_base, agent_ws = base.replace("http://", "ws://"), agent_base.replace("http://", "ws://")
    pairs = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(count):
            token = (await http.post("/api/v1/support/visitors")).json()["visitor_token"]
            visitor = await _client(f"{ws_base}/ws/chat?visitor_token={token}")
            hello = json.loads(await visitor.recv())
            agent_token = agent_tokens[i % len(agent_tokens)]
            agent = await _client(f"{agent_ws}/ws/agent?token={agent_token}")
            json.loads(await agent.recv())  # hello
            await agent.send(json.dumps({"type": "join", "conversation_id": hello["conversation_id"], "after": 0}))
            pairs.append((visitor, agent))
    # Warm-up: each conversation's first message assigns it (and tells the agent's sockets); the measurement
    # is of steady-state delivery after every visitor has seen its conversation assigned.
    for visitor, _ in pairs:
        await visitor.send(json.dumps({"type": "message", "body": "hello"}))
    await asyncio.wait_for(asyncio.gather(*(_until_assigned(visitor) for visitor, _ in pairs)), 120)
    await asyncio.sleep(1.0)
    return pairs


async def _until_assigned(visitor: ClientConnection) -> None:
    while True:
        event = json.loads(await visitor.recv())
        if isinstance(event, dict) and (event.get("data") or {}).get("assignee"):
            return


async def raw_pairs(port: int, count: int) -> list[tuple[ClientConnection, ClientConnection]]:
    pairs = []
    for i in range(count):
        pairs.append((await _client(f"ws://127.0.0.1:{port}/room{i}"), await _client(f"ws://127.0.0.1:{port}/room{i}")))
    await asyncio.sleep(0.5)
    return pairs


def wait_listening(port: int, what: str) -> None:
    """Until something accepts connections on this loopback port (20 s at most)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.1)


@contextlib.contextmanager
def raw_server() -> Iterator[tuple[int, int]]:
    """The raw broadcast server: (its port, its pid)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", RAW_SERVER, str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, "the raw server")
        yield port, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def paydesk_servers(args: argparse.Namespace, redis_url: str | None
                    ) -> Iterator[tuple[str, str, list[str], list[int]]]:
    """Paydesk on a fresh SQLite database with its agents registered: (the visitors' base URL, the agents',
    the agents' access tokens, the servers' pids)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PAYDESK_DATABASE_URL": f"sqlite:///{tmp}/chat.db", "PAYDESK_ENV": "production",
               "PAYDESK_SECRET_KEY": "b" * 48}
        env.pop("PAYDESK_REDIS_URL", None)
        if redis_url:
            env["PAYDESK_REDIS_URL"] = redis_url
        paydesk = [sys.executable, "-m", "paydesk.cli"]
        subprocess.run([*paydesk, "migrate"], env=env, check=True, capture_output=True)
        # With Redis, two server processes: the visitors on one, the agents on the other, so every message
        # crosses Redis to reach its agent (a process delivers to its own sockets without it).
        ports = [free_port() for _ in range(2 if redis_url else 1)]
        log = open(os.environ.get("PAYDESK_BENCH_SERVER_LOG", os.devnull), "ab")
        servers = [subprocess.Popen([*paydesk, "serve", "--no-jobs", "--port", str(port)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT) for port in ports]
        try:
            base, agent_base = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[-1]}"
            for port, server in zip(ports, servers, strict=True):
                wait_up(f"http://127.0.0.1:{port}/healthz", server)
            # Agents like a real desk's: each with one console socket per conversation it serves, and room
            # for all of them (no conversation waits in the queue).
            password = "quiet harbour night 2026"
            emails = [f"agent{i}@example.com" for i in range(args.agents)]
            for email in emails:
                httpx.post(f"{base}/api/v1/auth/register", json={"email": email, "password": password,
                                                                 "display_name": email.split("@")[0]}, timeout=30)
            capacity = min(100, -(-args.pairs // args.agents))
            subprocess.run([*paydesk, "create-agent", *emails, "--capacity", str(capacity)], env=env, check=True,
                           capture_output=True)
            tokens = [httpx.post(f"{base}/api/v1/auth/login", json={"login": email, "password": password},
                                 timeout=30).json()["access_token"] for email in emails]
            yield base, agent_base, tokens, [server.pid for server in servers]
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(timeout=30)
            log.close()


async def compare(args: argparse.Namespace, raw_port: int, raw_pid: int,
                  paydesk: tuple[str, str, list[str], list[int]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both servers under the same load in alternating slices, `--rounds` of each (raw then Paydesk, then
    Paydesk then raw, …): the host's load drifts, and what drifts over a round or longer weighs on both alike
    instead of on whichever ran then (a shorter burst still lands on one slice: `ratio_p99_by_round`).
    (Paydesk's results, the raw server's.)"""
    base, agent_base, tokens, pids = paydesk
    ours = Load(await paydesk_pairs(base, args.pairs, tokens, agent_base), raw=False, pids=pids)
    return await alternate(args, ours, raw_port, raw_pid)


async def alternate(args: argparse.Namespace, ours: Load, raw_port: int, raw_pid: int
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """`ours` and the same load on the raw server in turn, `--rounds` slices each (raw first in even rounds);
    then both closed. (Ours' results, the raw server's.)"""
    try:
        raw = Load(await raw_pairs(raw_port, args.pairs), raw=True, pids=[raw_pid])
    except BaseException:
        await ours.close()
        raise
    warmup, measured = round(args.warmup * args.rate), round(args.seconds / args.rounds * args.rate)
    # The client's own heap (2,000 connections) out of its collector's sight: a full collection of it would
    # pause every reader for tens of milliseconds, in whichever slice it fell.
    gc.collect()
    gc.freeze()
    try:
        for turn in range(args.rounds):
            for load in (raw, ours) if turn % 2 == 0 else (ours, raw):
                await load.slice(warmup, measured, args.rate)
                await asyncio.sleep(0.2)
        return ours.result(), raw.result()
    finally:
        await asyncio.gather(ours.close(), raw.close())
        gc.unfreeze()


def ratio(ours: float | None, raw: float | None) -> float | None:
    return round(ours / raw, 2) if ours is not None and raw else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser)
    parser.add_argument("--agents", type=int, default=50, help="agent accounts sharing the conversations")
    parser.add_argument("--modes", default="embedded,redis",
                        help="which of embedded,redis to run (redis only when PAYDESK_TEST_REDIS_URL is set)")
    args = parser.parse_args()
    wanted = set(args.modes.split(","))
    modes: list[tuple[str, str | None]] = [("embedded", None)] if "embedded" in wanted else []
    if os.environ.get("PAYDESK_TEST_REDIS_URL") and "redis" in wanted:
        modes.append(("redis", os.environ["PAYDESK_TEST_REDIS_URL"]))
    for name, url in modes:
        with raw_server() as (raw_port, raw_pid), paydesk_servers(args, url) as paydesk:
            result, raw = asyncio.run(compare(args, raw_port, raw_pid, paydesk))
        print(json.dumps(report("chat_fanout", name, args, len(paydesk[3]), result, raw)), flush=True)
    return 0


def load_arguments(parser: argparse.ArgumentParser) -> None:
    """The load's options (`alternate` and `report` read them)."""
    parser.add_argument("--pairs", type=int, default=500, help="visitor+agent connection pairs (2 clients each)")
    parser.add_argument("--seconds", type=float, default=20.0, help="of load on each server, all slices together")
    parser.add_argument("--rounds", type=int, default=4, help="slices of load each server gets, alternating")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds of load before each slice")
    parser.add_argument("--rate", type=float, default=100.0, help="messages a second, all visitors together")


def report(scenario: str, pubsub: str, args: argparse.Namespace, processes: int, result: dict[str, Any],
           raw: dict[str, Any]) -> dict[str, Any]:
    """The JSON line of a run: the load, our figures, the raw server's, and their ratios."""
    by_round = [ratio(ours, theirs) for ours, theirs in zip(result["slices_p99_ms"], raw["slices_p99_ms"],
                                                             strict=True)]
    known = [value for value in by_round if value is not None]
    return {"scenario": scenario, "pubsub": pubsub, "clients": args.pairs * 2,
            "rate_per_s": args.rate, "seconds": args.seconds, "rounds": args.rounds, "warmup_s": args.warmup,
            "server_processes": processes, **result,
            "raw_p50_ms": raw["p50_ms"], "raw_p99_ms": raw["p99_ms"], "raw_received": raw["received"],
            "raw_expected": raw["expected"], "raw_sender_p99_ms": raw["sender_p99_ms"],
            "raw_other_p99_ms": raw["other_p99_ms"], "raw_slices_p99_ms": raw["slices_p99_ms"],
            "raw_cpu_ms_per_message": raw.get("server_cpu_ms_per_message"),
            "raw_client_cpu_ms_per_message": raw.get("client_cpu_ms_per_message"),
            "ratio_cpu": ratio(result.get("server_cpu_ms_per_message"), raw.get("server_cpu_ms_per_message")),
            "ratio_p99": ratio(result["p99_ms"], raw["p99_ms"]),
            "ratio_p99_by_round": by_round,
            "ratio_p99_median_round": round(statistics.median(known), 2) if known else None}


if __name__ == "__main__":
    raise SystemExit(main())

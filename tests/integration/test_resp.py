"""Redis's wire protocol (core/resp.py) and connections (core/redis_clients.py): the parser on its own, then
the publishing and subscribing connections against a real Redis — replies go to their callers in order, a
lost connection is replaced (the publisher without losing or doubling a message, the subscriber with its
channels), refusals are clear."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from structlog.testing import capture_logs

from paydesk.core import resp
from paydesk.core.pubsub import RedisPubSub
from paydesk.core.redis_clients import RedisPublisher, RedisSubscriber
from paydesk.core.resp import INCOMPLETE, RedisSilent, command, parse
from tests.conftest import REDIS_URL, own_redis


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert command(b"PUBLISH", "chat:1", "你好") == (
        b"*3\r\n$7\r\nPUBLISH\r\n$6\r\nchat:1\r\n$6\r\n\xe4\xbd\xa0\xe5\xa5\xbd\r\n")


def test_replies_parse_whole_or_not_at_all() -> None:
    pushed = b"*3\r\n$7\r\nmessage\r\n$6\r\nchat:1\r\n$11\r\n{\"a\":\"\xe4\xbd\xa0\"}\r\n"
    stream = b":2\r\n+OK\r\n-ERR wrong\r\n" + pushed + b"$-1\r\n*2\r\n*1\r\n:7\r\n$0\r\n\r\n"
    values, start = [], 0
    while start < len(stream):
        value, start = parse(stream, start)
        values.append(value)
    assert values[:2] == [2, "OK"] and isinstance(values[2], ResponseError) and str(values[2]) == "ERR wrong"
    assert values[3:] == [[b"message", b"chat:1", '{"a":"你"}'.encode()], None, [[7], b""]]
    for cut in range(1, len(pushed)):  # a message split anywhere by the network waits for the rest
        assert parse(pushed[:cut]) == (INCOMPLETE, 0)
    with pytest.raises(RedisConnectionError, match="unexpected reply"):
        parse(b"?what\r\n")


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "memory://"])
def test_only_redis_urls(url: str) -> None:
    with pytest.raises(ValueError, match="redis://, rediss:// or unix://"):
        RedisPublisher(url)


def test_an_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens once it is closed

    async def scenario() -> None:
        publisher = RedisPublisher(f"redis://127.0.0.1:{port}/0", connect_timeout_s=2)
        with pytest.raises(RedisConnectionError, match="can't reach Redis"):
            await publisher.publish("chat:1", "hello")
        await publisher.close()

    asyncio.run(scenario())


if REDIS_URL:
    REDIS: str = REDIS_URL

    @asynccontextmanager
    async def listening(channel: str, clients: int) -> AsyncIterator[list[object]]:
        """`clients` subscriber connections on `channel`; yields what the first one receives."""
        admin = Redis.from_url(REDIS)
        subscribers = [admin.pubsub() for _ in range(clients)]
        for subscriber in subscribers:
            await subscriber.subscribe(channel)
            await subscriber.get_message(timeout=2)  # the subscription's confirmation
        received: list[object] = []

        async def read() -> None:
            while True:
                message = await subscribers[0].get_message(ignore_subscribe_messages=True, timeout=None)
                if message is not None:
                    received.append(message["data"])

        reader = asyncio.create_task(read())
        try:
            yield received
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            for subscriber in subscribers:
                await subscriber.aclose()
            await admin.aclose()

    @pytest.mark.redis
    def test_a_posted_command_waits_for_nobody_and_its_reply_keeps_the_others_in_order() -> None:
        channel = f"paydesk-test-{uuid.uuid4().hex}"

        async def scenario() -> None:
            lost: list[tuple[str, Exception]] = []
            publisher = RedisPublisher(REDIS, on_post_lost=lambda tag, error: lost.append((tag, error)))
            nobody = f"paydesk-test-{uuid.uuid4().hex}"
            async with listening(channel, clients=1) as received:
                assert await publisher.publish(channel, "first") == 1  # connected
                assert publisher.post(nobody, "posted") is None  # written: nothing to await (its reply: 0)
                assert publisher.post(channel, "posted") is None
                assert publisher.posted == 2
                assert await publisher.publish(channel, "after") == 1  # its own reply, not a posted one's
                assert publisher.posted == 0
                await _until(lambda: len(received) == 3)
                assert received == [b"first", b"posted", b"after"]
            connection = await resp.Endpoint(REDIS, "paydesk-test", 2).open(resp.Connection)
            connection.on_post_lost = lambda tag, error: lost.append((tag, error))
            connection.post("refused", b"NO-SUCH-COMMAND")  # an error reply: reported, with the tag
            assert await connection.call(b"PING") == "PONG"
            assert [(tag, type(error)) for tag, error in lost] == [("refused", ResponseError)]
            connection.close()
            await publisher.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_each_caller_gets_its_own_reply_even_when_others_gave_up() -> None:
        quiet, busy = f"paydesk-test-{uuid.uuid4().hex}", f"paydesk-test-{uuid.uuid4().hex}"

        async def scenario() -> None:
            publisher = RedisPublisher(REDIS)
            async with listening(busy, clients=2) as received:
                await publisher.publish(quiet, "connect")
                calls = [(channel, asyncio.ensure_future(publisher.publish(channel, str(n))))
                         for n, channel in enumerate([quiet, busy] * 50)]
                await asyncio.sleep(0)  # every call is waiting for its reply now
                given_up = {id(call) for _, call in calls[::3]}
                for _, call in calls[::3]:
                    call.cancel()  # its reply still comes, and must not go to the next caller
                for channel, call in calls:
                    if id(call) not in given_up:
                        assert await call == (2 if channel == busy else 0)  # subscribers reached
                assert await publisher.publish(busy, "after") == 2
                await asyncio.sleep(0.2)
                # a cancelled caller's PUBLISH was written already: every message reached Redis, once
                assert received == [str(n).encode() for n in range(1, 100, 2)] + [b"after"]
            await publisher.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_a_lost_connection_is_replaced_and_the_message_arrives_once() -> None:
        channel, name = f"paydesk-test-{uuid.uuid4().hex}", f"paydesk-test-{uuid.uuid4().hex[:12]}"

        async def scenario() -> None:
            publisher = RedisPublisher(REDIS, name=name)
            admin = Redis.from_url(REDIS)
            async with listening(channel, clients=1) as received:
                assert await publisher.publish(channel, "one") == 1
                ours = await _clients_named(admin, name)
                assert len(ours) == 1  # the connection says whose it is
                await admin.client_kill_filter(_id=ours[0]["id"])  # as a Redis restart or idle timeout would
                assert await publisher.publish(channel, "two") == 1
                assert await publisher.publish(channel, "three") == 1
                await asyncio.sleep(0.2)
                assert received == [b"one", b"two", b"three"]
            await admin.aclose()
            await publisher.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_a_refused_password_is_a_clear_error_and_publishes_nothing() -> None:
        channel = f"paydesk-test-{uuid.uuid4().hex}"
        host_and_rest = REDIS.split("://", 1)[1].rsplit("@", 1)[-1]

        async def scenario() -> None:
            publisher = RedisPublisher(f"redis://nobody:wrong@{host_and_rest}")
            async with listening(channel, clients=1) as received:
                with pytest.raises(ResponseError):
                    await publisher.publish(channel, "hello")
                await asyncio.sleep(0.2)
                assert received == []
            await publisher.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_the_subscriber_hands_over_each_message_as_read_and_comes_back_after_a_lost_connection() -> None:
        one, two = f"paydesk-test-{uuid.uuid4().hex}", f"paydesk-test-{uuid.uuid4().hex}"
        name = f"paydesk-test-{uuid.uuid4().hex[:12]}"

        async def scenario() -> None:
            got: list[tuple[bytes, bytes]] = []
            recovered: list[float] = []
            subscriber = RedisSubscriber(REDIS, lambda channel, data: got.append((channel, data)), name=name,
                                         on_recovered=lambda: recovered.append(time.monotonic()))
            admin = Redis.from_url(REDIS)
            await subscriber.subscribe(one)
            await subscriber.subscribe(two)
            assert await admin.publish(one, "你好 1") == 1  # subscribed once confirmed: Redis counts it
            assert await admin.publish(two, b"\x00\r\n2") == 1  # any bytes, even the protocol's own line end
            await subscriber.unsubscribe(two)
            assert await admin.publish(two, "not any more") == 0
            await _until(lambda: len(got) == 2)
            assert got == [(one.encode(), "你好 1".encode()), (two.encode(), b"\x00\r\n2")]
            ours = await _clients_named(admin, name)
            assert len(ours) == 1
            await admin.client_kill_filter(_id=ours[0]["id"])  # as a Redis restart would
            await _until_subscribed(admin, one)
            await _until(lambda: len(recovered) == 1)  # and says so (what was published meanwhile is lost)
            assert await admin.publish(one, "after") == 1  # subscribed again, on its own
            await _until(lambda: len(got) == 3)
            assert got[2] == (one.encode(), b"after")
            await subscriber.close()
            await asyncio.sleep(0.2)
            assert await admin.publish(one, "closed") == 0
            assert len(recovered) == 1  # not for the first connection, nor for closing
            await admin.aclose()

        asyncio.run(scenario())

    async def _until_subscribed(admin: Redis, channel: str, within_s: float = 5.0) -> None:
        for _ in range(int(within_s / 0.05)):
            if dict(await admin.pubsub_numsub(channel)).get(channel.encode(), 0) == 1:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"nobody subscribed to {channel} again")


async def _clients_named(admin: Redis, name: str) -> list[dict[str, str]]:
    """The connections Redis has from clients that gave it this name (CLIENT SETNAME)."""
    return [client for client in await admin.client_list() if client["name"] == name]


async def _client_ids(admin: Redis, name: str) -> set[str]:
    return {client["id"] for client in await _clients_named(admin, name)}


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(100):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("did not happen in 2 s")


if REDIS_URL:

    @asynccontextmanager
    async def limited_user(channels: str) -> AsyncIterator[tuple[Redis, str]]:
        """A Redis user allowed only `channels` (an ACL pattern); yields an admin client and the user's URL."""
        admin = Redis.from_url(REDIS)
        user, password = f"paydesk-test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        await admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "resetchannels", f"&{channels}",
                                    "+@all", "~*")
        host_and_rest = REDIS.split("://", 1)[1].rsplit("@", 1)[-1]
        try:
            yield admin, f"redis://{user}:{password}@{host_and_rest}"
        finally:
            await admin.execute_command("ACL", "DELUSER", user)
            await admin.aclose()

    @pytest.mark.redis
    def test_a_refused_subscription_is_not_kept_nor_made_again_later() -> None:
        allowed, forbidden = f"ok-{uuid.uuid4().hex}", f"no-{uuid.uuid4().hex}"

        async def scenario() -> None:
            async with limited_user("ok-*") as (admin, url):
                got: list[bytes] = []
                subscriber = RedisSubscriber(url, lambda _c, data: got.append(data))
                await subscriber.subscribe(allowed)
                with pytest.raises(ResponseError, match="NOPERM"):
                    await subscriber.subscribe(forbidden)
                cancelled = asyncio.ensure_future(subscriber.subscribe(f"ok-{uuid.uuid4().hex}"))
                await asyncio.sleep(0)  # its SUBSCRIBE is written; the caller gives up before the answer
                cancelled.cancel()
                await asyncio.gather(cancelled, return_exceptions=True)
                await asyncio.sleep(0.2)
                counts = dict(await admin.pubsub_numsub(allowed, forbidden))
                assert counts == {allowed.encode(): 1, forbidden.encode(): 0}
                assert await admin.pubsub_channels("ok-*") == [allowed.encode()]  # the given-up one is undone
                assert await admin.publish(allowed, "still here") == 1
                await _until(lambda: got == [b"still here"])
                await subscriber.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_a_subscriber_refused_after_a_reconnect_leaves_no_connection_behind_and_recovers() -> None:
        channel = f"ok-{uuid.uuid4().hex}"
        name = f"paydesk-test-{uuid.uuid4().hex[:12]}"

        async def scenario() -> None:
            async with limited_user("ok-*") as (admin, url):
                user = url.split("://", 1)[1].split(":", 1)[0]
                got: list[bytes] = []
                subscriber = RedisSubscriber(url, lambda _c, data: got.append(data), name=name)
                await subscriber.subscribe(channel)
                # The channel is taken away: Redis drops the connection, and every try to subscribe again
                # is refused until it is given back.
                await admin.execute_command("ACL", "SETUSER", user, "resetchannels", "&other-*")
                await asyncio.sleep(1.0)  # tries at 0.1, 0.2, 0.4 and 0.8 s
                ours = await _clients_named(admin, name)
                assert len(ours) <= 1  # each refused try closed its connection
                await admin.execute_command("ACL", "SETUSER", user, "resetchannels", "&ok-*")
                await _until_subscribed(admin, channel, within_s=5)
                assert await admin.publish(channel, "back") == 1
                await _until(lambda: got == [b"back"])
                await subscriber.close()

        asyncio.run(scenario())

    @pytest.mark.redis
    def test_a_message_a_subscriber_cannot_read_costs_neither_the_connection_nor_the_next_one() -> None:
        prefix = f"paydesk-test-{uuid.uuid4().hex[:8]}:"

        async def scenario() -> None:
            bus = RedisPubSub(REDIS, prefix)
            admin = Redis.from_url(REDIS)
            async with bus.subscribe("conv:1") as sub:
                before = {c["id"] for c in await _clients_named(admin, "paydesk-subscriber")}
                await admin.publish(prefix + "conv:1", "not json at all")  # anyone who can publish could send it
                await admin.publish(prefix + "conv:1", '{"seq": 1}')
                assert await sub.get(timeout=2) == {"seq": 1}
                after = {c["id"] for c in await _clients_named(admin, "paydesk-subscriber")}
                assert before <= after  # the connection was kept
            await bus.close()
            await admin.aclose()

        asyncio.run(scenario())


if shutil.which("redis-server"):

    def test_posted_commands_whose_replies_never_come_are_reported_once_each() -> None:
        """Silent (stopped), then gone (killed): each posted PUBLISH is reported lost, once, with its channel."""
        async def scenario() -> None:
            lost: list[tuple[str, type[Exception]]] = []
            for end in ("silent", "killed"):
                lost.clear()
                with own_redis() as (url, server):
                    publisher = RedisPublisher(url, reply_timeout_s=0.3, connect_timeout_s=0.3,
                                               on_post_lost=lambda tag, error: lost.append((tag, type(error))))
                    assert await publisher.call(b"PING") == "PONG"
                    server.send_signal(signal.SIGSTOP)
                    assert publisher.post("chat:1", "one") is None and publisher.post("chat:2", "two") is None
                    if end == "killed":
                        server.kill()
                    await _until(lambda: len(lost) == 2)
                    await asyncio.sleep(0.5)  # and no more
                    kind = RedisSilent if end == "silent" else RedisConnectionError
                    assert lost == [("chat:1", kind), ("chat:2", kind)]
                    assert publisher.posted == 0
                    await publisher.close()

        asyncio.run(scenario())

    def test_a_redis_that_stops_answering_fails_its_callers_in_time_and_is_used_again_when_it_answers() -> None:
        async def scenario() -> None:
            with own_redis() as (url, server):
                publisher = RedisPublisher(url, reply_timeout_s=0.5, connect_timeout_s=0.5)
                assert await publisher.call(b"PING") == "PONG"
                held = len(os.listdir("/proc/self/fd"))
                server.send_signal(signal.SIGSTOP)  # connected still, and silent: a hung or cut-off server
                started = time.monotonic()
                # Twenty senders, one with 16 MB, more than the sockets take: some of it stays in this process.
                sends = [publisher.publish("chat:1", f"hello {n}" * (2_400_000 if n == 0 else 1)) for n in range(20)]
                outcomes = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 5)
                assert all(isinstance(outcome, RedisSilent) for outcome in outcomes)
                assert "did not answer within 0.5 s" in str(outcomes[0])
                assert time.monotonic() - started < 2  # given up in time (and not written again: see below)
                assert len(os.listdir("/proc/self/fd")) == held - 1  # its socket is closed, unsent data and all
                # Senders that come while it is still silent: one new connection is tried for all of them,
                # not one each in turn (20 × 0.5 s).
                started = time.monotonic()
                sends = [publisher.publish("chat:1", f"later {n}") for n in range(20)]
                outcomes = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 15)
                assert all(isinstance(outcome, RedisConnectionError) for outcome in outcomes)
                assert time.monotonic() - started < 3
                with pytest.raises(RedisConnectionError, match="did not answer"):
                    await asyncio.wait_for(publisher.call(b"PING"), 5)  # as /healthz asks: an answer either way
                server.send_signal(signal.SIGCONT)
                assert await asyncio.wait_for(publisher.publish("chat:1", "again"), 5) == 0  # a new connection
                await publisher.close()

        asyncio.run(scenario())

    def test_a_publish_given_up_during_a_stall_is_not_sent_again_after_it() -> None:
        channel = f"paydesk-test-{uuid.uuid4().hex}"

        async def scenario() -> None:
            with own_redis() as (url, server):
                admin = Redis.from_url(url)
                listener = admin.pubsub()
                await listener.subscribe(channel)
                await listener.get_message(timeout=2)  # its confirmation
                publisher = RedisPublisher(url, reply_timeout_s=0.3, connect_timeout_s=0.3)
                assert await publisher.publish(channel, "before") == 1
                server.send_signal(signal.SIGSTOP)
                stalled = asyncio.ensure_future(publisher.publish(channel, "during"))
                await asyncio.sleep(0.5)  # given up at 0.3 s
                server.send_signal(signal.SIGCONT)  # Redis runs the PUBLISH it had read
                with pytest.raises(RedisSilent):
                    await asyncio.wait_for(stalled, 5)
                assert await publisher.publish(channel, "after") == 1
                got = []
                while (message := await listener.get_message(ignore_subscribe_messages=True, timeout=1)) is not None:
                    got.append(message["data"])
                assert got.count(b"during") <= 1 and got[0] == b"before" and got[-1] == b"after"  # none twice
                await listener.aclose()
                await admin.aclose()
                await publisher.close()

        asyncio.run(scenario())

    def test_a_silent_redis_is_found_out_by_the_subscribers_ping_and_left_for_a_new_connection() -> None:
        channel, name = f"paydesk-test-{uuid.uuid4().hex}", f"paydesk-test-{uuid.uuid4().hex[:12]}"

        async def scenario() -> None:
            with own_redis() as (url, server):
                got: list[bytes] = []
                subscriber = RedisSubscriber(url, lambda _c, data: got.append(data), name=name,
                                             reply_timeout_s=0.3, connect_timeout_s=0.3, ping_every_s=0.2)
                admin = Redis.from_url(url)
                await subscriber.subscribe(channel)
                first = await _client_ids(admin, name)
                await asyncio.sleep(0.5)  # pinged, and answered: the quiet connection is kept
                assert await _client_ids(admin, name) == first
                server.send_signal(signal.SIGSTOP)
                await asyncio.sleep(1.0)  # an unanswered PING: the connection is given up, new ones tried
                server.send_signal(signal.SIGCONT)
                for _ in range(100):  # back, subscribed again on a connection of its own
                    ours = await _client_ids(admin, name)
                    if ours and not ours & first and await admin.publish(channel, "back") == 1:
                        break
                    await asyncio.sleep(0.05)
                await _until(lambda: got == [b"back"])
                assert len(await _clients_named(admin, name)) == 1  # the silent one was closed, not kept beside it
                await subscriber.close()
                await admin.aclose()

        asyncio.run(scenario())

    def test_a_subscriber_busy_reading_a_backlog_is_not_taken_for_a_silent_redis() -> None:
        channel, name = f"paydesk-test-{uuid.uuid4().hex}", f"paydesk-test-{uuid.uuid4().hex[:12]}"

        async def scenario() -> None:
            with own_redis() as (url, _):
                got: list[bytes] = []

                def slow(_channel: bytes, data: bytes) -> None:
                    time.sleep(0.001)  # 1 ms of work a message: 1,500 of them take longer than the timeout
                    got.append(data)

                subscriber = RedisSubscriber(url, slow, name=name, reply_timeout_s=0.3, ping_every_s=0.05)
                admin = Redis.from_url(url)
                await subscriber.subscribe(channel)
                first = await _client_ids(admin, name)
                async with admin.pipeline(transaction=False) as burst:
                    for n in range(1500):
                        burst.publish(channel, b"%d:" % n + b"x" * 2000)
                    await burst.execute()
                for _ in range(200):
                    if len(got) == 1500:
                        break
                    await asyncio.sleep(0.05)
                assert len(got) == 1500  # every message, on the first connection: its PINGs waited behind them
                assert await _client_ids(admin, name) == first
                await subscriber.close()
                await admin.aclose()

        asyncio.run(scenario())

    def test_closing_while_redis_is_silent_leaves_no_connection_nor_task_behind() -> None:
        """A posted message given up during the close's last wait starts no probe and no resync, and the
        publisher opens no new connection."""
        async def scenario() -> None:
            with own_redis() as (url, server):
                admin = Redis.from_url(url)
                bus = RedisPubSub(url, reply_timeout_s=0.3)
                assert await bus.ping()
                await admin.client_setname("paydesk-test-admin")
                server.send_signal(signal.SIGSTOP)
                bus.send("conv:1", {"seq": 1})  # posted, and never answered
                started = time.monotonic()
                await bus.close()
                assert time.monotonic() - started < 2
                server.send_signal(signal.SIGCONT)
                await asyncio.sleep(0.5)
                others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
                assert others == []
                assert await _clients_named(admin, "paydesk-publisher") == []
                await admin.aclose()

        asyncio.run(scenario())

    @pytest.mark.parametrize("how", ["publish", "send"])
    def test_a_message_published_while_redis_is_away_is_still_delivered_here_and_the_sender_is_not_failed(
            how: str) -> None:
        """`publish` awaits Redis's reply (given up after the reply timeout); `send` posts the PUBLISH, whose
        reply never comes: either way the message counts as missed once Redis is found silent."""
        async def scenario() -> None:
            with own_redis() as (url, server), capture_logs() as logs:
                bus = RedisPubSub(url, reply_timeout_s=0.3)

                async def out(seq: int) -> None:
                    if how == "send":
                        bus.send("conv:1", {"seq": seq})
                    else:
                        await bus.publish("conv:1", {"seq": seq})

                async with bus.subscribe("conv:1") as here:
                    await out(0)  # connected, then silent
                    assert await here.get(timeout=1) == {"seq": 0}
                    await asyncio.sleep(0.2)  # (a posted one's reply on its way too)
                    server.send_signal(signal.SIGSTOP)
                    started = time.monotonic()
                    # Returns, soon: the message is saved before it is published.
                    await asyncio.wait_for(out(1), 5)
                    assert await here.get(timeout=1) == {"seq": 1}
                    await asyncio.wait_for(out(2), 5)
                    assert await here.get(timeout=1) == {"seq": 2}
                    assert time.monotonic() - started < 3
                    await asyncio.sleep(1.0)  # past the reply timeout: the posted ones are given up too
                    server.send_signal(signal.SIGCONT)
                    other = Redis.from_url(url).pubsub()
                    await other.subscribe("paydesk:conv:1")
                    await other.get_message(timeout=2)  # its confirmation
                    await bus.publish("conv:1", {"seq": 3})
                    assert await here.get(timeout=1) == {"seq": 3}
                    message = await other.get_message(ignore_subscribe_messages=True, timeout=2)
                    assert message is not None and json.loads(message["data"][32:]) == {"seq": 3}  # through Redis again
                    await other.aclose()
                await bus.close()
                said = [(entry["event"], entry.get("missed")) for entry in logs if entry["event"].startswith("pubsub.")]
                assert said == [("pubsub.publish_failed", None), ("pubsub.publish_recovered", 2)]  # once a run

        asyncio.run(scenario())


    def test_channels_a_process_could_not_publish_to_are_told_to_resync_once_it_can() -> None:
        async def scenario() -> None:
            with own_redis() as (url, _):
                admin = Redis.from_url(url)
                await admin.execute_command("ACL", "SETUSER", "b", "on", ">b-secret", "~*", "&*", "+@all")
                here, there = RedisPubSub(url), RedisPubSub(url.replace("redis://", "redis://b:b-secret@"))
                async with here.subscribe("conv:1") as one, here.subscribe("conv:2") as two, \
                        here.subscribe("conv:3") as three:
                    assert await there.ping()
                    await admin.execute_command("ACL", "SETUSER", "b", "off")
                    await admin.execute_command("CLIENT", "KILL", "USER", "b")
                    await there.publish("conv:1", {"seq": 1})  # refused: not raised, remembered
                    await there.publish("conv:2", {"seq": 1})
                    assert await one.get(timeout=0.3) is None
                    await admin.execute_command("ACL", "SETUSER", "b", "on")
                    await there.publish("conv:3", {"seq": 1})  # gets through: the others are told
                    assert await three.get(timeout=2) == {"seq": 1}
                    told = [await one.get(timeout=2), await two.get(timeout=2)]
                    assert [m and m["type"] for m in told] == ["resync", "resync"]
                    assert told[0] and told[1] and told[0]["resync"] == told[1]["resync"]  # one piece of news
                    assert await three.get(timeout=0.3) is None and await one.get(timeout=0.3) is None  # once
                await here.close()
                await there.close()
                await admin.aclose()

        asyncio.run(scenario())

    def test_a_redis_on_this_host_is_reached_over_its_unix_socket_with_a_password() -> None:
        async def scenario(path: str) -> None:
            with own_redis("--unixsocket", path, "--unixsocketperm", "700", "--requirepass", "s3cret"):
                url = f"unix://:s3cret@{path}"
                here, there = RedisPubSub(url), RedisPubSub(url)  # two processes' buses
                assert await there.ping()
                async with here.subscribe("conv:7") as subscription:
                    await there.publish("conv:7", {"seq": 1, "body": "你好"})
                    assert await subscription.get(timeout=2) == {"seq": 1, "body": "你好"}
                await here.close()
                await there.close()
                with pytest.raises(ResponseError, match="WRONGPASS|invalid"):
                    await RedisPublisher(f"unix://:wrong@{path}").call(b"PING")

        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(scenario(f"{tmp}/redis.sock"))


@asynccontextmanager
async def slow_server(delay_s: float) -> AsyncIterator[tuple[str, list[int]]]:
    """A stand-in for a Redis that answers every command "+OK", each after `delay_s` (an overloaded or distant
    server); yields its URL (with a password, so opening takes two commands) and a count of connections made."""
    connections = [0]
    serving: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        serving.add(asyncio.current_task())  # type: ignore[arg-type]
        buffer = bytearray()
        try:
            while data := await reader.read(65536):
                buffer += data
                while (read := parse(buffer))[0] is not INCOMPLETE:
                    del buffer[:read[1]]
                    await asyncio.sleep(delay_s)
                    writer.write(b"+OK\r\n")
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://user:secret@127.0.0.1:{port}/0", connections
    finally:
        server.close()
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
        await server.wait_closed()


def test_opening_a_connection_has_one_deadline_for_all_its_steps() -> None:
    async def scenario() -> None:
        async with slow_server(0.4) as (url, _):
            publisher = RedisPublisher(url, connect_timeout_s=0.5)
            started = time.monotonic()
            with pytest.raises(RedisSilent, match="did not answer within 0.5 s"):
                await publisher.call(b"PING")  # AUTH and CLIENT SETNAME: 0.4 s each, 0.8 s in all
            assert time.monotonic() - started < 0.7
            await publisher.close()

    asyncio.run(scenario())


def test_a_subscriber_whose_first_connection_fails_raises_and_tries_no_more_on_its_own() -> None:
    async def scenario() -> None:
        async with slow_server(0.4) as (url, connections):
            subscriber = RedisSubscriber(url, lambda _c, _d: None, reply_timeout_s=0.2, connect_timeout_s=2)
            with pytest.raises(RedisSilent):
                await subscriber.subscribe("chat:1")  # its AUTH outlasts the reply timeout
            await asyncio.sleep(0.6)  # a background recovery would have tried again by now (after 0.1 s)
            assert connections == [1]
            await subscriber.close()

    asyncio.run(scenario())

"""Live chat with real WebSocket clients against a running server: visitor → agent → visitor, a reconnect
that resumes from the last number seen, private notes, and visitors kept apart."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from redis import Redis as SyncRedis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from paydesk.app import create_app
from paydesk.config import Settings
from paydesk.core.writers import WriterBusy
from paydesk.support import service as support_service
from paydesk.support import ws as support_ws
from tests.conftest import own_redis
from tests.e2e.conftest import PASSWORD
from tests.e2e.server import free_port, serve


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, Any]]:
    app = create_app(settings, run_jobs=False)
    with serve(app) as base:
        yield base, app


def _token(http: httpx.Client, email: str) -> str:
    assert http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD,
                                                    "display_name": email.split("@")[0].title()}).status_code == 201
    return str(http.post("/api/v1/auth/login", json={"login": email, "password": PASSWORD}).json()["access_token"])


def _until(ws: ClientConnection, wanted: str, within_s: float = 10.0, **match: Any) -> dict[str, Any]:
    """The next event of type `wanted` (matching `match`), skipping others; TimeoutError after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        event = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.001)))
        if event["type"] == wanted and all(event.get(k) == v for k, v in match.items()):
            return dict(event)


def _asked(agent_ws: ClientConnection, chat: ClientConnection, body: str) -> str:
    """Both sockets greeted, the visitor's first message sent and its conversation assigned to the agent (who
    hears of it); the conversation's id."""
    _until(agent_ws, "hello")
    cid = str(_until(chat, "hello")["conversation_id"])
    chat.send(json.dumps({"type": "message", "body": body}))
    assert _until(agent_ws, "assigned")["conversation_id"] == cid
    return cid


def _agent_and_visitor(base: str, app: Any, email: str) -> tuple[str, str]:
    """An agent of the general team (their access token) and a new visitor's token."""
    with httpx.Client(base_url=base, timeout=30) as http:
        agent_token = _token(http, email)
        app.state.container.support.create_agent(email, "general", 2)
        return agent_token, http.post("/api/v1/support/visitors").json()["visitor_token"]


def _ws(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


def test_visitor_agent_visitor_with_a_resume_after_a_gap(server: tuple[str, Any]) -> None:
    base, app = server
    with httpx.Client(base_url=base, timeout=30) as http:
        agent_token = _token(http, "mei@example.com")
        app.state.container.support.create_agent("mei@example.com", "general", 3)
        visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
        stranger = http.post("/api/v1/support/visitors").json()["visitor_token"]

    with connect(_ws(base, f"/ws/agent?token={agent_token}")) as agent_ws:
        assert _until(agent_ws, "hello")["agent"]
        with connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
            hello = _until(chat, "hello")
            cid = hello["conversation_id"]
            chat.send(json.dumps({"type": "message", "body": "我的提现还没到账"}))
            first = _until(chat, "message", kind="inbound")
            assert first["seq"] == 1 and first["body"] == "我的提现还没到账"
            assigned = _until(agent_ws, "assigned")
            assert assigned["conversation_id"] == cid
            agent_ws.send(json.dumps({"type": "join", "conversation_id": cid, "after": 0}))
            got = _until(agent_ws, "message", seq=1)
            assert got["body"] == "我的提现还没到账"
            assert _until(agent_ws, "message", seq=2)["kind"] == "event"  # "assigned to Mei"
            agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "我来查一下"}))
            reply = _until(chat, "message", kind="outbound")
            assert reply["body"] == "我来查一下" and reply["author"] == "Mei"
            seen = reply["seq"]
        # the visitor is away: two replies and a private note meanwhile
        agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "找到了，银行处理中"}))
        agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "VIP? check KYC",
                                  "private": True}))
        agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "预计明天到账"}))
        last = _until(agent_ws, "message", body="预计明天到账")["seq"]
        with connect(_ws(base, f"/ws/chat?visitor_token={visitor}&after={seen}")) as again:
            assert _until(again, "hello")["conversation_id"] == cid
            missed = [_until(again, "message") for _ in range(2)]
            assert [m["body"] for m in missed] == ["找到了，银行处理中", "预计明天到账"]  # in order, no note
            assert missed[-1]["seq"] == last and all(m["seq"] > seen for m in missed)
            again.send(json.dumps({"type": "message", "body": "谢谢"}))
            thanks = _until(again, "message", kind="inbound")
            assert thanks["seq"] == last + 1  # nothing doubled: the next number is the next message
        with connect(_ws(base, f"/ws/chat?visitor_token={stranger}")) as other:
            mine = _until(other, "hello")
            assert mine["conversation_id"] != cid and mine["last_seq"] == 0  # a new conversation of their own
        # an agent joining a conversation id that doesn't exist learns nothing
        agent_ws.send(json.dumps({"type": "join", "conversation_id": "00000000-0000-0000-0000-000000000000"}))
        assert _until(agent_ws, "error")["code"] == "not_found"


def test_a_visitor_without_a_token_or_a_customer_on_the_agent_socket_is_turned_away(
    server: tuple[str, Any],
) -> None:
    base, _ = server
    with connect(_ws(base, "/ws/chat")) as chat:
        assert _until(chat, "error")["code"] == "invalid_request"
    with httpx.Client(base_url=base, timeout=30) as http:
        customer = _token(http, "pat@example.com")
    with connect(_ws(base, f"/ws/agent?token={customer}")) as ws:
        assert _until(ws, "error")["code"] == "not_an_agent"
    with connect(_ws(base, "/ws/agent")) as ws:
        assert _until(ws, "error")["code"] == "not_an_agent"


def test_with_redis_unreachable_a_socket_hears_at_once_that_live_chat_is_unavailable(settings: Settings) -> None:
    nobody = free_port()  # nothing listens there
    app = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{nobody}/0"}), run_jobs=False)
    with serve(app) as base:
        with httpx.Client(base_url=base, timeout=30) as http:
            agent_token = _token(http, "mei@example.com")
            app.state.container.support.create_agent("mei@example.com", "general", 3)
            visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
            assert http.get("/healthz").status_code == 503
        for path in (f"/ws/chat?visitor_token={visitor}", f"/ws/agent?token={agent_token}"):
            started = time.monotonic()
            with connect(_ws(base, path)) as socket:
                event = json.loads(socket.recv(timeout=5))
                assert (event["type"], event["code"]) == ("error", "service_unavailable")
                with pytest.raises(ConnectionClosed) as closed:
                    socket.recv(timeout=5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013  # try again later
            assert time.monotonic() - started < 3  # not the 10 s a subscription may take


REDIS_URL = os.environ.get("PAYDESK_TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="needs PAYDESK_TEST_REDIS_URL (CI sets it)")
def test_two_server_processes_share_a_conversation_over_redis(tmp_path: Path) -> None:
    """The visitor talks to one process, the agent to another; Redis carries the messages between them."""
    env = {**os.environ, "PAYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}", "PAYDESK_REDIS_URL":
           str(REDIS_URL), "PAYDESK_ENV": "test", "PAYDESK_SECRET_KEY": "s" * 40}
    paydesk = [sys.executable, "-m", "paydesk.cli"]
    with _processes(env, 2) as bases:
        with httpx.Client(base_url=bases[1], timeout=30) as http:
            agent_token = _token(http, "lin@example.com")
            visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
        made = subprocess.run([*paydesk, "create-agent", "lin@example.com", "--team", "general"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        with connect(_ws(bases[1], f"/ws/agent?token={agent_token}")) as agent_ws, \
                connect(_ws(bases[0], f"/ws/chat?visitor_token={visitor}")) as chat:
            cid = _asked(agent_ws, chat, "hello from process A")  # the assignment: published by A, heard on B
            agent_ws.send(json.dumps({"type": "join", "conversation_id": cid, "after": 0}))
            assert _until(agent_ws, "message", seq=1)["body"] == "hello from process A"
            agent_ws.send(json.dumps({"type": "typing", "conversation_id": cid}))
            assert _until(chat, "typing")["who"] == "Lin"
            agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "hi from process B"}))
            assert _until(chat, "message", kind="outbound")["body"] == "hi from process B"


@contextlib.contextmanager
def _processes(env: dict[str, str], count: int) -> Iterator[list[str]]:
    """`count` server processes (`paydesk serve`) on one migrated database; their base URLs."""
    paydesk = [sys.executable, "-m", "paydesk.cli"]
    assert subprocess.run([*paydesk, "migrate"], env=env, capture_output=True, timeout=120).returncode == 0
    ports = [free_port() for _ in range(count)]
    servers = [subprocess.Popen([*paydesk, "serve", "--no-jobs", "--port", str(p)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base in bases:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "a server did not start"
                time.sleep(0.2)
        yield bases
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


if shutil.which("redis-server"):

    def test_a_message_published_while_a_process_was_cut_off_from_redis_reaches_it_when_it_is_back(
            settings: Settings) -> None:
        """Two apps on one database, each with its own Redis connections (two processes). The agent's is cut off
        from Redis — its connections dropped, and its Redis user refused for a while — as both write; once it
        is back, each socket reads the message it missed from the database, without waiting for a next one,
        and hears `resync` (the agent's process tells the visitor's of the message it couldn't publish)."""
        with own_redis() as (url, _):
            admin = SyncRedis.from_url(url)
            admin.execute_command("ACL", "SETUSER", "b", "on", ">b-secret", "~*", "&*", "+@all")
            apps = [create_app(settings.model_copy(update={"redis_url": address}), run_jobs=False)
                    for address in (url, url.replace("redis://", "redis://b:b-secret@"))]
            with serve(apps[0]) as visitors, serve(apps[1]) as agents, \
                    httpx.Client(base_url=agents, timeout=30) as http:
                agent_token = _token(http, "lin@example.com")
                apps[1].state.container.support.create_agent("lin@example.com", "general", 3)
                visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
                with connect(_ws(agents, f"/ws/agent?token={agent_token}")) as agent_ws, \
                        connect(_ws(visitors, f"/ws/chat?visitor_token={visitor}")) as chat:
                    cid = _asked(agent_ws, chat, "hello")
                    agent_ws.send(json.dumps({"type": "join", "conversation_id": cid, "after": 0}))
                    _until(agent_ws, "message", seq=2)  # the first message, then its assignment
                    def cut() -> None:  # the agents' app loses Redis, until `admin` lets user b in again
                        admin.execute_command("ACL", "SETUSER", "b", "off")
                        admin.execute_command("CLIENT", "KILL", "USER", "b")

                    cut()  # the visitor writes: the agents' app can't hear it
                    chat.send(json.dumps({"type": "message", "body": "are you there?"}))
                    assert _until(chat, "message", seq=3)["body"] == "are you there?"  # saved, and published
                    with pytest.raises(TimeoutError):
                        _until(agent_ws, "message", within_s=1.0)
                    admin.execute_command("ACL", "SETUSER", "b", "on")
                    assert _until(agent_ws, "message", seq=3)["body"] == "are you there?"  # read from the database
                    _until(agent_ws, "resync")
                    cut()  # the agent writes: the agents' app can't publish it
                    agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "one moment"}))
                    assert _until(agent_ws, "message", seq=4)["body"] == "one moment"  # saved, shown there
                    with pytest.raises(TimeoutError):
                        _until(chat, "message", within_s=1.0)
                    admin.execute_command("ACL", "SETUSER", "b", "on")
                    assert _until(chat, "message", seq=4)["body"] == "one moment"  # told by B, read from the database
                    _until(chat, "resync")
                    agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "yes"}))
                    assert _until(chat, "message", kind="outbound")["body"] == "yes"  # live both ways again
            admin.close()


    def test_a_hung_redis_does_not_hold_up_a_sockets_next_message(settings: Settings) -> None:
        """The database is the record and Redis only the doorbell: with Redis hung (stopped, its connections
        open), a visitor's messages are saved and shown on their socket one after the other at once, not each
        after Redis has answered the last one's PUBLISH (or been given up on, 5 s later)."""
        with own_redis() as (url, redis_server):
            app = create_app(settings.model_copy(update={"redis_url": url}), run_jobs=False)
            with serve(app) as base, httpx.Client(base_url=base, timeout=30) as http:
                visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
                with connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
                    _until(chat, "hello")
                    chat.send(json.dumps({"type": "message", "body": "before"}))
                    _until(chat, "message", body="before")  # (the publisher is connected)
                    redis_server.send_signal(signal.SIGSTOP)
                    try:
                        started = time.monotonic()
                        for body in ("one", "two", "three"):
                            chat.send(json.dumps({"type": "message", "body": body}))
                            _until(chat, "message", within_s=2.0, body=body)
                        assert time.monotonic() - started < 2.0
                    finally:
                        redis_server.send_signal(signal.SIGCONT)
                support = app.state.container.support
                bodies = [m["body"] for m in support.messages_after(support.visitor_conversation_id(visitor), 0,
                                                                      with_notes=True) if m["kind"] == "inbound"]
                assert bodies == ["before", "one", "two", "three"]


def test_a_socket_sending_a_flood_does_not_keep_the_others_waiting(tmp_path: Path) -> None:
    """Typing events need no database and no wait: a socket's handler could run through every frame it has
    received without letting the loop serve anyone else. Another visitor is answered while the flood goes on
    (a server process of its own: one in this process would share the interpreter lock with the flood)."""
    import threading

    env = {**os.environ, "PAYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'chat.db'}", "PAYDESK_ENV": "test",
           "PAYDESK_SECRET_KEY": "s" * 40}
    env.pop("PAYDESK_REDIS_URL", None)
    with _processes(env, 1) as (base,):
        with httpx.Client(base_url=base, timeout=30) as http:
            flooder, other = (http.post("/api/v1/support/visitors").json()["visitor_token"] for _ in range(2))
        with connect(_ws(base, f"/ws/chat?visitor_token={flooder}")) as flood, \
                connect(_ws(base, f"/ws/chat?visitor_token={other}")) as chat:
            _until(flood, "hello")
            _until(chat, "hello")
            frame = json.dumps({"type": "typing", "seq": 1})
            stop = threading.Event()

            def send_flood() -> None:
                while not stop.is_set():
                    for _ in range(500):
                        flood.send(frame)

            sender = threading.Thread(target=send_flood, daemon=True)
            sender.start()
            try:
                time.sleep(1.5)  # the server is behind: frames wait in its buffers
                for n in range(3):
                    asked = time.monotonic()
                    chat.send(json.dumps({"type": "message", "body": f"still there? {n}"}))
                    _until(chat, "message", within_s=10.0, body=f"still there? {n}")
                    assert time.monotonic() - asked < 1.0  # (a few ms; 1.7–1.9 s when the flood held the loop)
            finally:
                stop.set()
                sender.join(timeout=10)


def test_the_console_is_for_agents_and_lists_the_inbox(server: tuple[str, Any]) -> None:
    base, app = server
    with httpx.Client(base_url=base, timeout=30) as http:
        agent_token = _token(http, "ana@example.com")
        customer_token = _token(http, "bo@example.com")
        app.state.container.support.create_agent("ana@example.com", "general", 2)
        assert http.get("/agent", headers={"Authorization": f"Bearer {customer_token}"}).status_code in (303, 404)
        visitor = http.post("/api/v1/support/visitors")
        assert visitor.headers["access-control-allow-origin"] == "*"  # the widget runs on other sites
        with connect(_ws(base, f"/ws/chat?visitor_token={visitor.json()['visitor_token']}")) as chat:
            cid = _until(chat, "hello")["conversation_id"]
            chat.send(json.dumps({"type": "message", "body": "nobody is online yet"}))
            _until(chat, "message", kind="inbound")
        conversations = app.state.container.support
        agent_user = app.state.container.identity.find_user("ana@example.com")
        waiting = conversations.inbox(agent_user, "unassigned")
        assert [c["id"] for c in waiting] == [cid]  # nobody online: it waits in the queue
        with connect(_ws(base, f"/ws/agent?token={agent_token}")) as agent_ws:
            _until(agent_ws, "hello")
            assert _until(agent_ws, "assigned")["conversation_id"] == cid  # coming online serves the queue
        assert [c["id"] for c in conversations.inbox(agent_user, "mine")] == [cid]
        widget = http.get("/widget.js")
        assert widget.status_code == 200 and "attachShadow" in widget.text
        assert http.get("/api/v1/help/search?q=提现&locale=zh-CN").json()["items"] == []  # no articles here


def test_the_agent_sees_a_signed_in_customers_wallet_beside_the_chat(server: tuple[str, Any]) -> None:
    import re

    base, app = server
    with httpx.Client(base_url=base, timeout=30) as http:
        _token(http, "ana@example.com")
        app.state.container.support.create_agent("ana@example.com", "general", 2)
        customer = _token(http, "zhou@example.com")
        auth = {"Authorization": f"Bearer {customer}", "Idempotency-Key": "t1"}
        assert http.post("/api/v1/deposits", headers=auth, json={"currency": "CNY", "amount": "888",
                                                                 "method": "bank_domestic"}).status_code == 201
        visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
        # linked by the session (the bearer token here), never by what the visitor types
        with connect(_ws(base, f"/ws/chat?visitor_token={visitor}&token={customer}")) as chat:
            cid = _until(chat, "hello")["conversation_id"]
            chat.send(json.dumps({"type": "message", "body": "where is my money?"}))
            _until(chat, "message", kind="inbound")
        page = http.get("/login?lang=en")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        http.post("/login", data={"login": "ana@example.com", "password": PASSWORD, "csrf_token": csrf.group(1)})
        console = http.get(f"/agent?view=open&c={cid}&lang=en")
        assert console.status_code == 200 and 'data-testid="customer-panel"' in console.text
        assert "CNY 888.00" in console.text and "Zhou" in console.text and "where is my money?" in console.text
        assert "Signed in" in console.text  # a security event from the customer's activity log


def test_a_chat_linked_to_an_account_stays_with_it_on_a_shared_browser(server: tuple[str, Any]) -> None:
    """A signed-in customer's chat is linked to their account; the same browser's visitor token, presented
    signed out or by another account, opens nothing of it (not the socket, not its attachments)."""
    base, _ = server
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5b1a6d90000000049454e44ae426082")
    with httpx.Client(base_url=base, timeout=30) as http:
        zhou, wu = _token(http, "zhou@example.com"), _token(http, "wu@example.com")
        shared = http.post("/api/v1/support/visitors").json()["visitor_token"]
        with connect(_ws(base, f"/ws/chat?visitor_token={shared}&token={zhou}")) as chat:
            cid = _until(chat, "hello")["conversation_id"]
            chat.send(json.dumps({"type": "message", "body": "my card ending 4242 was charged twice"}))
            _until(chat, "message", kind="inbound")
        receipt = http.post("/api/v1/support/attachments?name=receipt.png", content=png,
                            headers={"X-Visitor-Token": shared, "Authorization": f"Bearer {zhou}"})
        assert receipt.status_code == 201
        image = f"/api/v1/support/attachments/{receipt.json()['data']['attachment']['id']}?visitor_token={shared}"
        for who in ("", f"&token={wu}"):  # signed out, then another account, on the same browser
            with connect(_ws(base, f"/ws/chat?visitor_token={shared}{who}")) as chat:
                refused = json.loads(chat.recv(timeout=10))
                assert refused["type"] == "error" and refused["code"] == "chat_of_another_account"
                with pytest.raises(ConnectionClosed) as closed:
                    chat.recv(timeout=10)  # nothing of the chat follows: the socket closes
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
        for headers in ({}, {"Authorization": f"Bearer {wu}"}):
            got = http.get(image, headers=headers)
            assert got.status_code == 403 and got.json()["code"] == "chat_of_another_account"
            sent = http.post("/api/v1/support/attachments?name=more.png", content=png,
                             headers={"X-Visitor-Token": shared, **headers})
            assert sent.status_code == 403 and sent.json()["code"] == "chat_of_another_account"
        assert http.get(image, headers={"Authorization": f"Bearer {zhou}"}).content == png  # still its owner's
        with connect(_ws(base, f"/ws/chat?visitor_token={shared}&token={zhou}")) as chat:
            assert _until(chat, "hello")["conversation_id"] == cid
            assert _until(chat, "message", kind="inbound")["body"] == "my card ending 4242 was charged twice"
        # The other way round: someone chats signed out, then an account signs in on that browser: the chat
        # isn't handed to the account (it starts its own), so it can't read what was said before.
        anonymous = http.post("/api/v1/support/visitors").json()["visitor_token"]
        with connect(_ws(base, f"/ws/chat?visitor_token={anonymous}")) as chat:
            _until(chat, "hello")
            chat.send(json.dumps({"type": "message", "body": "my neighbour's question"}))
            _until(chat, "message", kind="inbound")
        with connect(_ws(base, f"/ws/chat?visitor_token={anonymous}&token={wu}")) as chat:
            assert _until(chat, "error")["code"] == "chat_of_another_account"


def test_a_closed_conversation_gives_way_to_a_new_one_from_its_first_message(server: tuple[str, Any]) -> None:
    """The widget keeps the last number it saw; after its conversation is closed, the same browser gets a new
    conversation, and the number it kept (past the new one's) doesn't skip the new one's first messages."""
    base, app = server
    agent_token, visitor = _agent_and_visitor(base, app, "ana@example.com")
    with connect(_ws(base, f"/ws/agent?token={agent_token}")) as agent_ws, \
            connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
        cid = _asked(agent_ws, chat, "first question")
        for status in ("resolved", "closed"):
            agent_ws.send(json.dumps({"type": "status", "conversation_id": cid, "status": status}))
            kept = _until(chat, "message", kind="event", data={"status": status})["seq"]
    with connect(_ws(base, f"/ws/chat?visitor_token={visitor}&after={kept}")) as chat:
        hello = _until(chat, "hello")
        assert hello["conversation_id"] != cid and hello["last_seq"] == 0
        chat.send(json.dumps({"type": "message", "body": "a new question"}))
        assert _until(chat, "message", kind="inbound")["seq"] == 1  # (kept was 3: not skipped)


def test_nobody_online_the_visitor_leaves_an_email_and_the_reply_goes_there(server: tuple[str, Any]) -> None:
    base, app = server
    with httpx.Client(base_url=base, timeout=30) as http:
        agent_token = _token(http, "ana@example.com")
        app.state.container.support.create_agent("ana@example.com", "general", 2)
        visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
    with connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
        hello = _until(chat, "hello")
        assert hello["agents_online"] is False and hello["email"] is False
        chat.send(json.dumps({"type": "email", "address": "not an address"}))
        assert _until(chat, "error")["code"] == "invalid_email"
        chat.send(json.dumps({"type": "email", "address": "Guest@Example.com", "locale": "zh-CN"}))
        _until(chat, "message", kind="event")
        chat.send(json.dumps({"type": "message", "body": "我的卡被锁了"}))
        _until(chat, "message", kind="inbound")
    with connect(_ws(base, f"/ws/agent?token={agent_token}")) as agent_ws:
        cid = _until(agent_ws, "assigned")["conversation_id"]
        agent_ws.send(json.dumps({"type": "join", "conversation_id": cid, "after": 0}))
        agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "已为您解锁，请重试。"}))
        _until(agent_ws, "message", kind="outbound")
    outbox = app.state.container.notify.recent()
    [mail] = [m for m in outbox if m.template == "support_reply"]
    assert mail.recipient == "Guest@example.com" and "已为您解锁，请重试。" in mail.body and mail.locale == "zh-CN"


def test_the_fan_out_benchmark_runs_and_reports_both_servers() -> None:
    """A small run of bench/chat_fanout.py: it must deliver every message to both sides on both servers, loaded in
    turn."""
    result = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "bench" / "chat_fanout.py"),
                             "--pairs", "5", "--seconds", "2", "--rate", "10"], capture_output=True, text=True,
                            timeout=240, env={k: v for k, v in os.environ.items() if k != "PAYDESK_TEST_REDIS_URL"})
    assert result.returncode == 0, result.stderr[-2000:]
    line = json.loads(result.stdout.strip().splitlines()[-1])
    # 2 s at 10 a second, after each slice's unmeasured warm-up: only the measured messages are timed and counted.
    assert line["sent"] == 20 and line["received"] == line["expected"] == 40 == line["raw_received"]
    assert line["raw_expected"] == 40
    assert line["ratio_p99"] > 0
    # Both servers loaded in alternating slices: each slice's p99 reported, all of them measured.
    assert len(line["slices_p99_ms"]) == len(line["raw_slices_p99_ms"]) == line["rounds"] == 4
    assert len(line["ratio_p99_by_round"]) == 4 and line["ratio_p99_median_round"] > 0
    assert all(p99 > 0 for p99 in line["slices_p99_ms"] + line["raw_slices_p99_ms"])
    # The client's own CPU time (it sends and reads every message: 20 sends and 40 frames cost something).
    assert line["client_cpu_ms_per_message"] > 0 and line["raw_client_cpu_ms_per_message"] > 0
    if sys.platform == "linux":  # the servers' CPU time per message, read from /proc (10 ms ticks) during the load
        assert line["server_cpu_ms_per_message_by_process"] == [line["server_cpu_ms_per_message"]]
        assert line["server_cpu_ms_per_message"] >= 0 and line["raw_cpu_ms_per_message"] >= 0


@pytest.mark.skipif(not REDIS_URL, reason="needs PAYDESK_TEST_REDIS_URL (CI sets it)")
def test_the_floor_benchmark_relays_every_message_through_redis_and_its_database() -> None:
    """A small run of bench/chat_floor.py (the minimal relay that bounds what the chat bench's Redis mode can
    reach): every message reaches both sides, the relays' and the raw server's, in alternating slices."""
    result = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "bench" / "chat_floor.py"),
                             "--pairs", "5", "--seconds", "2", "--rate", "10"], capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["scenario"] == "chat_floor" and line["server_processes"] == 2
    assert line["sent"] == 20 and line["received"] == line["expected"] == 40 == line["raw_received"]
    assert len(line["slices_p99_ms"]) == len(line["raw_slices_p99_ms"]) == 4 and line["ratio_p99"] > 0


def test_an_agent_snoozes_a_conversation_until_a_time_and_both_sides_hear_it_wake(server: tuple[str, Any]) -> None:
    base, app = server
    support = app.state.container.support
    agent_token, visitor = _agent_and_visitor(base, app, "lin@example.com")
    with connect(_ws(base, f"/ws/agent?token={agent_token}")) as agent_ws, \
            connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
        cid = _asked(agent_ws, chat, "I'll send the receipt when I find it")
        agent_ws.send(json.dumps({"type": "join", "conversation_id": cid}))
        for bad in ({}, {"until": "in an hour"}, {"until": "2020-01-01T00:00:00Z"}):  # none, not a time, past
            agent_ws.send(json.dumps({"type": "status", "conversation_id": cid, "status": "snoozed", **bad}))
            assert "until" in _until(agent_ws, "error", code="invalid_request")["detail"]
        until = datetime.now(UTC) + timedelta(seconds=1)
        agent_ws.send(json.dumps({"type": "status", "conversation_id": cid, "status": "snoozed",
                                  "until": until.isoformat()}))
        _until(chat, "message", kind="event", data={"status": "snoozed", "until": until.isoformat()})
        statuses = [m for m in support.messages_after(UUID(cid), 0, with_notes=True) if "status" in (m["data"] or {})]
        assert len(statuses) == 1  # the refused snoozes wrote nothing
        time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
        assert support.wake_snoozed() == 1  # the job's tick (its thread, as the job runner's)
        for ws in (chat, agent_ws):  # published live by the serving app, not read at the next message
            assert _until(ws, "message", kind="event", data={"status": "open", "woke": True})
        agent = support.identity.authenticate(agent_token).user
        assert support.conversation(agent, UUID(cid))["status"] == "open"


def test_a_resolved_conversation_asks_for_a_rating_once(server: tuple[str, Any]) -> None:
    base, app = server
    with httpx.Client(base_url=base, timeout=30) as http:
        agent_token = _token(http, "ana@example.com")
        app.state.container.support.create_agent("ana@example.com", "general", 2)
        visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
    with connect(_ws(base, f"/ws/agent?token={agent_token}")) as agent_ws, \
            connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
        _until(agent_ws, "hello")
        cid = _until(chat, "hello")["conversation_id"]
        chat.send(json.dumps({"type": "csat", "score": 5}))
        assert _until(chat, "error")["code"] == "status_move_not_allowed"  # not resolved yet
        chat.send(json.dumps({"type": "message", "body": "thanks, that's all"}))
        _until(agent_ws, "assigned")
        agent_ws.send(json.dumps({"type": "status", "conversation_id": cid, "status": "resolved"}))
        assert _until(chat, "message", kind="event", data={"status": "resolved"})
        chat.send(json.dumps({"type": "csat", "score": 9}))
        assert _until(chat, "error")["code"] == "invalid_request"
        chat.send(json.dumps({"type": "csat", "score": 4, "comment": "quick and kind"}))
        rated = _until(chat, "message", kind="event", data={"csat": 4})
        assert rated["body"] == "rated 4/5: quick and kind"
        chat.send(json.dumps({"type": "csat", "score": 1}))
        assert _until(chat, "error")["code"] == "status_move_not_allowed"  # once
        chat.send(json.dumps({"type": "message", "body": "one more thing"}))  # writing again reopens it,
        written = _until(chat, "message", kind="inbound")  # and the timeline says so, after the message
        reopened = _until(chat, "message", kind="event", data={"status": "open", "reopened": True})
        assert reopened["seq"] == written["seq"] + 1 and reopened["body"] == "status: open (the customer wrote)"


def test_saved_replies_labels_and_a_transcript_by_email(server: tuple[str, Any]) -> None:
    base, app = server
    with httpx.Client(base_url=base, timeout=30) as http:
        agent_token = _token(http, "ana@example.com")
        app.state.container.support.create_agent("ana@example.com", "general", 2)
        auth = {"Authorization": f"Bearer {agent_token}"}
        saved = http.post("/api/v1/support/canned", headers=auth,
                          json={"shortcut": "/hello", "body": "您好 {customer_name}，您的钱包号是 {wallet_id}。"})
        assert saved.status_code == 201 and saved.json()["shortcut"] == "hello"
        assert http.post("/api/v1/support/canned", headers=auth, json={"shortcut": "bad key!", "body": "x"}
                         ).status_code == 422
        customer = _token(http, "zhou@example.com")
        wallet_id = http.get("/api/v1/wallet", headers={"Authorization": f"Bearer {customer}"}).json()["wallet_id"]
        visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
    with connect(_ws(base, f"/ws/agent?token={agent_token}")) as agent_ws, \
            connect(_ws(base, f"/ws/chat?visitor_token={visitor}&token={customer}")) as chat:
        cid = _asked(agent_ws, chat, "你好")
        agent_ws.send(json.dumps({"type": "canned", "conversation_id": cid, "shortcut": "hello"}))
        filled = _until(chat, "message", kind="outbound")["body"]
        assert filled == f"您好 Zhou，您的钱包号是 {wallet_id}。"
        agent_ws.send(json.dumps({"type": "labels", "conversation_id": cid, "labels": ["Withdrawal", "vip"]}))
        assert _until(chat, "message", kind="event", body="labels: vip, withdrawal")
        agent_ws.send(json.dumps({"type": "labels", "conversation_id": cid, "labels": "vip"}))
        assert _until(agent_ws, "error")["code"] == "invalid_request"
        agent_ws.send(json.dumps({"type": "message", "conversation_id": cid, "body": "secret", "private": True}))
        chat.send(json.dumps({"type": "transcript", "address": "zhou@example.com", "locale": "zh-CN"}))
        _until(chat, "transcript_sent")
    [mail] = [m for m in app.state.container.notify.recent() if m.template == "support_transcript"]
    assert "你好" in mail.body and filled in mail.body and "secret" not in mail.body


def test_supervisors_see_agent_load_and_the_queues(server: tuple[str, Any]) -> None:
    import re

    base, app = server
    support = app.state.container.support
    with httpx.Client(base_url=base, timeout=30) as http:
        _token(http, "sam@example.com")
        _token(http, "ana@example.com")
        support.create_agent("ana@example.com", "general", 4)
        support.create_agent("sam@example.com", "general", 2)
        app.state.container.identity.grant_role("sam@example.com", "supervisor")
        visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
        with connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
            _until(chat, "hello")
            chat.send(json.dumps({"type": "message", "body": "anyone?"}))
            _until(chat, "message", kind="inbound")

        def console_as(email: str) -> str:
            http.cookies.clear()
            page = http.get("/login?lang=en")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            http.post("/login", data={"login": email, "password": PASSWORD, "csrf_token": csrf.group(1)})
            return http.get("/agent?lang=en").text

        board = console_as("sam@example.com")
        assert 'data-testid="board"' in board and "general: 1 waiting." in board
        assert "Ana · general · offline · 0/4" in board
        assert 'data-testid="board"' not in console_as("ana@example.com")


def test_the_console_filters_its_inbox_by_team_rules_and_offers_the_moves_a_status_allows(
        server: tuple[str, Any]) -> None:
    import re

    base, app = server
    support, identity = app.state.container.support, app.state.container.identity
    with httpx.Client(base_url=base, timeout=30) as http:
        for email in ("ana@example.com", "vic@example.com", "sam@example.com"):
            _token(http, email)
        support.create_agent("ana@example.com", "general", 4)
        support.create_agent("vic@example.com", "vip", 4)
        support.create_agent("sam@example.com", "vip", 4)
        identity.grant_role("sam@example.com", "supervisor")
        ana = identity.find_user("ana@example.com")
        card, other = (UUID(support.visitor_conversation(support.new_visitor_token())["conversation_id"])
                       for _ in range(2))
        for cid in (card, other):
            support.post(cid, kind="inbound", body="hello", author=None, author_name="Visitor")
        support.set_labels(card, ["card"], ana)
        support.set_status(ana.id, "away")

        def console_as(email: str, query: str) -> str:
            http.cookies.clear()
            page = http.get("/login?lang=en")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            http.post("/login", data={"login": email, "password": PASSWORD, "csrf_token": csrf.group(1)})
            return http.get(f"/agent?{query}&lang=en").text

        page = console_as("ana@example.com", "view=open&label=card")
        inbox = page.split('data-testid="inbox"')[1].split("</ul>")[0]
        assert f"c={card}&amp;label=card" in inbox and str(other) not in inbox  # filtered, and links keep it
        assert 'id="q-label" name="label" value="card"' in page
        assert '<option value="away" selected>Away</option>' in page  # the agent's own status, to change
        untouched = support.visitor_conversation(support.new_visitor_token())["conversation_id"]  # nothing said
        both = console_as("ana@example.com", "view=open")
        assert str(card) in both and str(other) in both and untouched not in both  # (nobody's work yet)
        assert str(card) not in console_as("vic@example.com", "view=open")  # another team's: not listed
        assert str(card) in console_as("sam@example.com", "view=open&team=general")  # a supervisor: every team
        assert str(card) not in console_as("sam@example.com", "view=open&team=vip")

        def shown(page: str) -> set[str]:  # the moves a conversation's page offers (the others are hidden)
            moves = re.findall(r'<(?:button type="button" data-command="status" data-status|form data-testid)='
                               r'"(\w+)"([^>]*)>', page)
            return {name for name, rest in moves if name not in ("filters", "labels", "assign", "composer")
                    and " hidden" not in rest}

        assert shown(console_as("ana@example.com", f"view=open&c={card}")) == {"pending", "resolved", "snooze"}
        support.change_status(card, "resolved", ana)
        assert shown(console_as("ana@example.com", f"view=open&c={card}")) == {"open", "closed"}


def test_teams_priority_presence_and_filters(server: tuple[str, Any]) -> None:
    base, app = server
    support = app.state.container.support
    identity = app.state.container.identity
    with httpx.Client(base_url=base, timeout=30) as http:
        ana_token = _token(http, "ana@example.com")
        vic_token = _token(http, "vic@example.com")
        support.create_agent("ana@example.com", "general", 2)
        support.create_agent("vic@example.com", "vip", 2)
        visitor = http.post("/api/v1/support/visitors").json()["visitor_token"]
    with connect(_ws(base, f"/ws/agent?token={ana_token}")) as ana, \
            connect(_ws(base, f"/ws/agent?token={vic_token}")) as vic, \
            connect(_ws(base, f"/ws/chat?visitor_token={visitor}")) as chat:
        _until(ana, "hello")
        _until(vic, "hello")
        cid = _until(chat, "hello")["conversation_id"]
        chat.send(json.dumps({"type": "message", "body": "help"}))
        assert _until(ana, "assigned")["conversation_id"] == cid  # the general team's agent
        vic.send(json.dumps({"type": "join", "conversation_id": cid}))
        assert _until(vic, "error")["code"] == "not_found"  # another team's conversation: not visible
        ana.send(json.dumps({"type": "priority", "conversation_id": cid, "priority": "urgent"}))
        ana.send(json.dumps({"type": "labels", "conversation_id": cid, "labels": ["card"]}))
        assert _until(chat, "message", kind="event", body="labels: card")
        ana_user = identity.find_user("ana@example.com")
        assert [c["priority"] for c in support.inbox(ana_user, "mine")] == ["urgent"]
        assert support.inbox(ana_user, "mine", {"label": "card"}) and not support.inbox(ana_user, "mine",
                                                                                         {"label": "kyc"})
        ana.send(json.dumps({"type": "presence", "status": "away"}))
        assert _until(ana, "presence")["status"] == "away"
        assert not [a for a in support.board()["agents"] if a["name"] == "Ana"][0]["online"]
        with connect(_ws(base, f"/ws/chat?visitor_token={support.new_visitor_token()}")) as later:
            waiting = _until(later, "hello")["conversation_id"]
            later.send(json.dumps({"type": "message", "body": "anyone there?"}))  # nobody online: it waits
            assert _until(ana, "queued") == {"type": "queued", "conversation_id": waiting}  # the team hears
        vic.send(json.dumps({"type": "join", "conversation_id": waiting}))
        refused = json.loads(vic.recv(timeout=10))  # the next thing Vic (team vip) gets: no `queued` of general's
        assert (refused["type"], refused["code"]) == ("error", "not_found")
        ana.send(json.dumps({"type": "assign", "conversation_id": cid, "agent_id": str(identity.find_user(
            "vic@example.com").id)}))
        assert _until(vic, "assigned")["conversation_id"] == cid  # reassigned across teams by hand
        vic.send(json.dumps({"type": "join", "conversation_id": cid, "after": 0}))
        assert _until(vic, "message", seq=1)["body"] == "help"  # now theirs: visible


def _slow_batches(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every message goes to the batcher's thread (as when another writer is at work), whose batches take
    `seconds` to write."""
    real = support_service.process_posts

    def slow(support: Any, jobs: Any, *, wait: bool = True) -> Any:
        if not wait:
            raise WriterBusy()
        time.sleep(seconds)
        return real(support, jobs)

    def busy(*_: Any) -> Any:
        raise WriterBusy()

    monkeypatch.setattr(support_service, "process_posts", slow)
    monkeypatch.setattr(support_service, "post_direct", busy)


def test_a_socket_closed_while_its_message_is_written_leaves_the_desk_working(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _slow_batches(monkeypatch, 0.3)  # the batch is still being written when the socket goes
    app = create_app(settings, run_jobs=False)
    with TestClient(app) as client:
        token = client.post("/api/v1/support/visitors").json()["visitor_token"]
        with client.websocket_connect(f"/ws/chat?visitor_token={token}") as ws:
            conversation = UUID(ws.receive_json()["conversation_id"])
            ws.send_json({"type": "message", "body": "hi"})
            time.sleep(0.05)
        # Leaving the block closed the socket and cancelled its handler mid-post (as a server shutting down
        # does). The desk must go on: a batcher thread that died there would leave every later post waiting.
        support = app.state.container.support
        support.post(conversation, kind="inbound", body="again", author=None, author_name="Visitor")
        inbound = [m["body"] for m in support.messages_after(conversation, 0, with_notes=True)
                   if m["kind"] == "inbound"]
        assert inbound == ["hi", "again"]


def test_a_slow_save_tells_the_sender_and_the_message_still_arrives(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _slow_batches(monkeypatch, 0.5)
    monkeypatch.setattr(support_ws, "POST_WAIT_S", 0.1)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        token = client.post("/api/v1/support/visitors").json()["visitor_token"]
        with client.websocket_connect(f"/ws/chat?visitor_token={token}") as ws:
            ws.receive_json()  # hello
            ws.send_json({"type": "message", "body": "hi"})
            events = [ws.receive_json() for _ in range(2)]
            assert events[0]["type"] == "error" and events[0]["code"] == "service_unavailable"
            assert events[1]["type"] == "message" and events[1]["body"] == "hi"  # announced once written
            ws.send_json({"type": "message", "body": "still here"})  # the socket goes on
            assert ws.receive_json()["code"] == "service_unavailable"
            assert ws.receive_json()["body"] == "still here"

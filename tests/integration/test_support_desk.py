"""The desk's service on SQLite and PostgreSQL: messages posted together are numbered without gaps, one
refused message fails only its sender, the queue is served when capacity appears, and presence fades when
the process holding a console stops vouching for it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.exc import OperationalError

from paydesk.config import Settings
from paydesk.container import Container, build
from paydesk.core.clock import FrozenClock
from paydesk.core.errors import DomainError, InvalidRequest
from paydesk.core.writers import WriterBusy
from paydesk.identity.service import User
from paydesk.support import messages, store
from paydesk.support.agents import PRESENCE_TTL
from paydesk.support.events import conversation_channel
from paydesk.support.messages import PostJob
from paydesk.support.tools import TooManyTranscripts
from paydesk.support.visitors import ChatOfAnotherAccount

PASSWORD = "support desk passphrase"


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    container = build(settings, clock)
    yield container
    container.close()


def _agent(app: Container, email: str, capacity: int = 3) -> User:
    user = app.identity.register(email=email, phone=None, password=PASSWORD, display_name=email.split("@")[0],
                                 locale="en")
    app.support.create_agent(email, "general", capacity)
    return app.identity.user(user.id)


def _conversation(app: Container) -> UUID:
    return UUID(app.support.visitor_conversation(app.support.new_visitor_token())["conversation_id"])


def test_concurrent_messages_are_numbered_without_gaps_or_repeats(app: Container) -> None:
    first, second = _conversation(app), _conversation(app)
    jobs = [(first if i % 3 else second, f"message {i}") for i in range(90)]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda job: app.support.post(job[0], kind="inbound", body=job[1], author=None,
                                                   author_name="Visitor"), jobs))
    assert app.support.posts.batches < 90  # written together, not one transaction each
    for cid, count in ((first, 60), (second, 30)):
        messages = app.support.messages_after(cid, 0, with_notes=True)
        inbound = [m for m in messages if m["kind"] == "inbound"]
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        assert sorted(m["body"] for m in inbound) == sorted(b for c, b in jobs if c == cid)
        assert len(inbound) == count


def test_a_refused_message_in_a_batch_fails_only_its_sender(app: Container) -> None:
    agent = _agent(app, "mei@example.com")
    open_one, closed = _conversation(app), _conversation(app)
    app.support.post(closed, kind="inbound", body="hello", author=None)
    app.support.change_status(closed, "resolved", agent)
    app.support.change_status(closed, "closed", agent)

    def reply(cid: UUID) -> str:
        try:
            app.support.post(cid, kind="outbound", body="an answer", author=agent)
            return "ok"
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(reply, [open_one, closed] * 16))
    assert results == ["ok", "status_move_not_allowed"] * 16
    assert results.count("ok") == 16
    answered = app.support.messages_after(open_one, 0, with_notes=True)
    assert [m["seq"] for m in answered] == list(range(1, 17))  # undone batches left no gaps in the numbering
    assert not any(m["body"] == "an answer" for m in app.support.messages_after(closed, 0, with_notes=True))


def test_a_batch_undone_halfway_gives_each_message_one_outcome_and_writes_none_twice(
    app: Container, monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b, c = _conversation(app), _conversation(app), _conversation(app)
    real_post_in, real_process = messages.post_in, messages.process_posts
    failed: list[UUID] = []

    def post_in(support: object, s: object, conversation: object, job: PostJob, now: object, **kw: Any) -> object:
        if job.body == "B" and not failed:  # refused after writing (nothing does that today; if it ever does)
            failed.append(job.conversation_id)
            raise DomainError("halfway")
        return real_post_in(support, s, conversation, job, now, **kw)  # type: ignore[arg-type]

    def process_posts(support: object, jobs: list[PostJob]) -> object:
        if [j.body for j in jobs] == ["C"]:  # and the database fails C's own transaction
            raise OperationalError("INSERT", {}, Exception("deadlock detected"))
        return real_process(support, jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(messages, "post_in", post_in)
    monkeypatch.setattr(messages, "process_posts", process_posts)
    jobs = [PostJob(a, "inbound", "A", None, "V"), PostJob(b, "inbound", "B", None, "V"),
            PostJob(c, "inbound", "C", None, "V")]
    outcomes = real_process(app.support, jobs)
    assert isinstance(outcomes[0], list) and isinstance(outcomes[1], list)  # B went through on its own
    assert isinstance(outcomes[2], OperationalError)
    for cid, bodies in ((a, ["A"]), (b, ["B"]), (c, [])):
        assert [m["body"] for m in app.support.messages_after(cid, 0, with_notes=True) if m["kind"] == "inbound"
                ] == bodies


def test_the_queue_is_served_when_an_agent_resolves_a_conversation(app: Container) -> None:
    agent = _agent(app, "mei@example.com", capacity=1)
    app.support.connected(agent.id, 1)
    first, second = _conversation(app), _conversation(app)
    assigned = app.support.post(first, kind="inbound", body="first", author=None)
    assert ("agent:" + str(agent.id), {"type": "assigned", "conversation_id": str(first)}) in assigned
    queued = app.support.post(second, kind="inbound", body="second", author=None)
    assert queued[-1][1]["type"] == "queued"
    # more messages while it waits don't look for an agent again (the queue is served when one is free)
    assert len(app.support.post(second, kind="inbound", body="still there?", author=None)) == 1
    events = app.support.change_status(first, "resolved", agent)
    assert ("agent:" + str(agent.id), {"type": "assigned", "conversation_id": str(second)}) in events
    assert app.support.conversation(agent, second)["assignee_id"] == str(agent.id)


def test_new_conversations_in_one_batch_fill_an_agent_only_to_capacity(app: Container) -> None:
    agent = _agent(app, "mei@example.com", capacity=2)
    app.support.connected(agent.id, 1)
    new = [_conversation(app) for _ in range(4)]
    # One transaction for all four first messages: each assignment must count the ones made before it in
    # the same batch (they are written before the agents' loads are read).
    jobs = [PostJob(cid, "inbound", f"hello {i}", None, "Visitor") for i, cid in enumerate(new)]
    outcomes = messages.process_posts(app.support, jobs)
    kinds = [[event["type"] for _, event in outcome] for outcome in outcomes]  # type: ignore[union-attr]
    assert sorted(kinds) == [["message", "message", "assigned"]] * 2 + [["message", "queued"]] * 2
    assigned = [cid for cid, k in zip(new, kinds, strict=True) if "assigned" in k]
    for cid in new:
        thread = app.support.messages_after(cid, 0, with_notes=True)
        assert [m["seq"] for m in thread] == list(range(1, len(thread) + 1))
        assert thread[0]["body"].startswith("hello")
        expected = str(agent.id) if cid in assigned else None
        assert app.support.conversation(agent, cid)["assignee_id"] == expected


def test_an_agent_whose_process_stops_vouching_goes_offline(app: Container, clock: FrozenClock) -> None:
    agent = _agent(app, "mei@example.com")
    app.support.connected(agent.id, 1)  # the process then dies: no disconnect, no more beats
    clock.advance(PRESENCE_TTL + timedelta(seconds=1))
    waiting = _conversation(app)
    assert app.support.post(waiting, kind="inbound", body="anyone?", author=None)[-1][1]["type"] == "queued"
    assert app.support.visitor_conversation(app.support.new_visitor_token())["agents_online"] is False
    app.support.heartbeat([agent.id])  # a live process vouches again
    assert app.support.board()["agents"][0]["online"] is True
    assert app.support.visitor_conversation(app.support.new_visitor_token())["agents_online"] is True


def test_a_chat_message_is_written_at_once_only_when_nothing_would_wait(app: Container) -> None:
    cid = _conversation(app)
    at_once = partial(app.support.post_at_once, cid, kind="inbound", author=None, author_name="Visitor")

    def inbound() -> list[str]:
        return [m["body"] for m in app.support.messages_after(cid, 0, with_notes=True) if m["kind"] == "inbound"]

    if app.db.dialect != "sqlite":
        assert at_once(body="now") is None and inbound() == []  # a round trip per statement: never on the loop
        return
    events = at_once(body="now")
    assert events is not None and events[0][1]["body"] == "now" and events[0][1]["seq"] == 1
    with app.db.writer():  # another writer at work: nothing is written, the caller goes to the batcher
        assert at_once(body="later") is None
    with pytest.raises(InvalidRequest):
        at_once(body="  ")
    assert inbound() == ["now"]


def _stored(app: Container, cid: UUID) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """A conversation's messages and head as SQLite holds them (types included), without its ids."""
    with app.db.engine.connect() as c:
        rows = c.exec_driver_sql(
            "SELECT seq, kind, author_id, author_name, body, data, typeof(data), created_at, length(id) "
            "FROM support_messages WHERE conversation_id = ? ORDER BY seq", (cid.bytes,)).all()
        head = c.exec_driver_sql("SELECT status, assignee_id, last_seq, waiting_since, updated_at "
                                 "FROM support_conversations WHERE id = ?", (cid.bytes,)).one()
    return [tuple(row) for row in rows], tuple(head)


def test_a_chat_message_written_straight_through_the_driver_is_the_one_the_full_way_writes(
    app: Container, clock: FrozenClock,
) -> None:
    job = partial(PostJob, author=None, author_name="Visitor")
    if app.db.dialect != "sqlite":
        with pytest.raises(WriterBusy):  # PostgreSQL: always the batch, off the loop
            messages.post_direct(app.support, job(_conversation(app), "inbound", "hi"))
        return
    agent = _agent(app, "lin@example.com")
    app.support.connected(agent.id, 1)
    direct, full = _conversation(app), _conversation(app)
    for cid in (direct, full):  # a first message is assigned: that takes the full way
        assert messages.post_direct(app.support, job(cid, "inbound", "first")) is None
        app.support.post(cid, kind="inbound", body="first", author=None, author_name="Visitor")
    assert _stored(app, direct)[0][0][1:] == _stored(app, full)[0][0][1:]
    steps: list[tuple[str, str, User | None]] = [
        ("inbound", "where is my money?", None), ("outbound", "checking now", agent), ("note", "KYC ok", agent),
        ("pending", "", agent), ("inbound", "hello? 你好", None)]  # the customer writing reopens it
    kept = app.db._nowait.connection
    for kind, body, author in steps:
        clock.advance(timedelta(seconds=7))
        if kind == "pending":
            for cid in (direct, full):
                app.support.change_status(cid, "pending", agent)
            continue
        if kind == "inbound" and author is None and body.startswith("hello?"):  # it reopens the conversation:
            assert messages.post_direct(app.support, PostJob(direct, kind, body, author, "Visitor")) is None
            for cid in (direct, full):  # the full way, which adds the change's event after the message
                outcome = messages.process_posts(app.support, [PostJob(cid, kind, body, author, "Visitor")])[0]
                assert not isinstance(outcome, BaseException)
                assert [(e["kind"], e["data"]) for _, e in outcome] == [
                    ("inbound", None), ("event", {"status": "open", "reopened": True})]
            continue
        events = messages.post_direct(app.support, PostJob(direct, kind, body, author, "Visitor"))
        outcome = messages.process_posts(app.support, [PostJob(full, kind, body, author, "Visitor")])[0]
        assert events is not None and not isinstance(outcome, BaseException)
        assert [(channel.replace(str(direct), str(full)), {**event, "conversation_id": str(full)})
                for channel, event in events] == outcome
    assert _stored(app, direct) == _stored(app, full)  # the same rows, of the same types, the same head
    assert _stored(app, direct)[1][:2] == ("open", agent.id.bytes) and app.db._nowait.connection is kept

    # What it leaves to the full way, or refuses, writes nothing (and keeps its connection).
    app.support.connected(agent.id, -1)
    waiting = _conversation(app)  # nobody online: it waits unassigned
    app.support.post(waiting, kind="inbound", body="first", author=None, author_name="Visitor")
    assert messages.post_direct(app.support, job(waiting, "inbound", "anyone?")) is not None  # waits on
    app.support.change_status(waiting, "resolved", agent)
    unchanged = _stored(app, waiting)  # the customer reopening it: it looks for an agent, the full way
    assert messages.post_direct(app.support, job(waiting, "inbound", "one more thing")) is None
    assert _stored(app, waiting) == unchanged
    before = _stored(app, direct)
    app.support.leave_email(direct, "ana@example.com")
    assert messages.post_direct(app.support, PostJob(direct, "outbound", "mailed too", agent, "")) is None
    for status in ("resolved", "closed"):
        app.support.change_status(direct, status, agent)
    with pytest.raises(DomainError, match="closed"):
        messages.post_direct(app.support, PostJob(direct, "note", "too late", agent, ""))
    with pytest.raises(DomainError, match="no such conversation"):
        messages.post_direct(app.support, job(UUID(int=7), "inbound", "anyone?"))
    posted = [[m for m in rows if m[1] != "event"] for rows in (before[0], _stored(app, direct)[0])]
    assert posted[0] == posted[1] and _stored(app, direct)[1][0] == "closed"  # (its moves are events)
    assert app.db._nowait.connection is kept


def test_a_chat_message_never_holds_the_event_loop_waiting_for_another_writer(app: Container) -> None:
    cid = _conversation(app)
    post = partial(app.support.post_from_loop, cid, kind="inbound", author=None, author_name="Visitor")

    async def scenario() -> None:
        batches = app.support.posts.batches
        await post(body="first")  # nobody else writing: on SQLite it is written on the loop, no batch
        assert app.support.posts.batches == batches + (0 if app.db.dialect == "sqlite" else 1)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        holding, release = threading.Event(), threading.Event()

        def other_writer() -> None:  # holds the database (and this conversation's row) for a while
            with app.db.writer() as w:
                messages.LOCK_HEAD.rows(w.connection, {"head": cid})
                holding.set()
                release.wait(10)

        ticking = asyncio.create_task(ticker())
        holder = threading.Thread(target=other_writer)
        holder.start()
        assert await asyncio.to_thread(holding.wait, 5)
        waiting = asyncio.create_task(post(body="second"))
        await asyncio.sleep(0.3)
        assert not waiting.done() and ticks >= 15  # the message waits; the loop goes on serving the others
        release.set()
        events = await asyncio.wait_for(waiting, 10)
        assert events[0][1]["body"] == "second" and events[0][1]["seq"] == 2
        ticking.cancel()
        holder.join()

    asyncio.run(scenario())
    bodies = [m["body"] for m in app.support.messages_after(cid, 0, with_notes=True) if m["kind"] == "inbound"]
    assert bodies == ["first", "second"]


def test_a_snooze_needs_its_end_and_the_conversation_wakes_then_heard_live(app: Container, clock: FrozenClock
                                                                          ) -> None:
    agent = _agent(app, "lin@example.com")
    cid = _conversation(app)
    app.support.post(cid, kind="inbound", body="back tomorrow with the receipt", author=None)
    before = app.support.messages_after(cid, 0, with_notes=True)
    now = clock.now()
    # No end, not a time, no offset, past, too far, not text: refused, and nothing changes.
    for bad in (None, "tomorrow", "2026-01-05T12:00:00", (now - timedelta(minutes=1)).isoformat(),
                (now + timedelta(days=31)).isoformat(), 1767610800):
        with pytest.raises(InvalidRequest, match="until"):
            app.support.change_status(cid, "snoozed", agent, bad)
    assert app.support.messages_after(cid, 0, with_notes=True) == before
    assert app.support.conversation(agent, cid)["status"] == "open"

    heard: list[Any] = []
    app.support.announce = heard.append
    events = app.support.change_status(cid, "snoozed", agent, "2026-01-05T10:00:00.000Z")  # a browser's toISOString
    assert events[0][1]["data"] == {"status": "snoozed", "until": "2026-01-05T10:00:00+00:00"}
    assert "until 2026-01-05 10:00 UTC" in events[0][1]["body"]
    assert app.support.conversation(agent, cid)["status"] == "snoozed"
    clock.advance(timedelta(minutes=59))
    assert app.support.wake_snoozed() == 0 and heard == []  # not yet
    clock.advance(timedelta(minutes=1))
    assert app.support.wake_snoozed() == 1
    assert app.support.conversation(agent, cid)["status"] == "open"
    woke = app.support.messages_after(cid, 0, with_notes=True)[-1]
    assert woke["kind"] == "event" and woke["data"] == {"status": "open", "woke": True}
    assert heard == [[(conversation_channel(cid), woke)]]  # told to whoever publishes it live
    assert app.support.wake_snoozed() == 0  # once


def test_a_conversation_snoozed_before_snoozes_had_an_end_wakes_at_the_next_tick(app: Container) -> None:
    agent = _agent(app, "lin@example.com")
    cid = _conversation(app)
    app.support.post(cid, kind="inbound", body="hello", author=None)
    app.support.change_status(cid, "snoozed", agent, "2026-01-06T09:00:00Z")
    with app.db.transaction() as s:  # as an older release left it: no end
        row = s.get(store.ConversationRow, cid)
        assert row is not None
        row.snoozed_until = None
    assert app.support.wake_snoozed() == 1
    assert app.support.conversation(agent, cid)["status"] == "open"


def test_a_chat_is_emailed_at_most_three_times_an_hour_each_in_its_timeline(app: Container, clock: FrozenClock
                                                                            ) -> None:
    cid = _conversation(app)
    app.support.post(cid, kind="inbound", body="please send me this", author=None)
    for _ in range(3):
        [(_, event)] = app.support.send_transcript(cid, "zhou@example.com")
        assert event["data"] == {"transcript": True}
    with pytest.raises(TooManyTranscripts):
        app.support.send_transcript(cid, "someone.else@example.com")
    mails = [m for m in app.notify.recent() if m.template == "support_transcript"]
    assert [m.recipient for m in mails] == ["zhou@example.com"] * 3  # the refused one mailed nothing
    clock.advance(timedelta(minutes=61))
    assert app.support.send_transcript(cid, "zhou@example.com")


def test_a_chat_begun_signed_out_is_not_handed_to_the_account_that_signs_in_even_once_closed(
        app: Container) -> None:
    agent = _agent(app, "lin@example.com")
    someone = app.identity.register(email="zhou@example.com", phone=None, password=PASSWORD, display_name="Zhou",
                                    locale="en")
    token = app.support.new_visitor_token()
    first = UUID(app.support.visitor_conversation(token)["conversation_id"])
    app.support.post(first, kind="inbound", body="a stranger's words", author=None)
    for status in ("resolved", "closed"):
        app.support.change_status(first, status, agent)
    with pytest.raises(DomainError, match="closed"):  # nothing more goes into a closed conversation
        app.support.post(first, kind="inbound", body="one more", author=None)
    assert [m["body"] for m in app.support.messages_after(first, 0, with_notes=True)][-1] == "status: closed"
    empty = UUID(app.support.visitor_conversation(token)["conversation_id"])  # the widget's next socket
    assert empty != first and app.support.conversations_of_user(someone.id) == []
    with pytest.raises(ChatOfAnotherAccount):  # the account signs in on that browser: not its chat
        app.support.visitor_conversation(token, someone)
    with pytest.raises(ChatOfAnotherAccount):  # (nor its attachments)
        app.support.visitor_conversation_id(token, someone)
    assert app.support.conversations_of_user(someone.id) == []
    assert app.support.visitor_conversation_id(token) == empty  # the browser, signed out, keeps it

"""The security policy, row by row, with a controlled clock, on each backend."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes
from typing import Any

import pytest
from sqlalchemy import func, select

from paydesk.config import Settings
from paydesk.container import Container, build
from paydesk.core.clock import FrozenClock
from paydesk.core.errors import DomainError
from paydesk.identity import policy
from paydesk.identity.attempts import ResetRequestRow
from paydesk.identity.service import Principal
from tests.integration.test_notify_smtp import Inbox, smtp  # noqa: F401 - the fixture

PASSWORD = "a long enough passphrase"
EMAIL = "mei@example.com"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    container = build(settings, clock)
    container.identity.register(email=EMAIL, phone="+8613900139000", password=PASSWORD, display_name="Mei",
                                locale="zh-CN")
    yield container
    container.close()


def code_of(call: Callable[[], Any]) -> str:
    try:
        call()
    except DomainError as exc:
        return exc.code
    return "ok"


def login(app: Container, password: str = PASSWORD, otp: str | None = None, ip: str = "203.0.113.9",
          ua: str = "phone") -> str:
    return code_of(lambda: app.security.login(EMAIL, password, otp=otp, ip=ip, user_agent=ua))


def principal(app: Container, otp: str | None = None) -> Principal:
    token = app.security.login(EMAIL, PASSWORD, otp=otp, ip="203.0.113.9", user_agent="phone").token
    return app.identity.authenticate(token)


def test_five_wrong_passwords_lock_the_account_and_only_the_right_one_learns_it(app: Container,
                                                                                 clock: FrozenClock) -> None:
    assert [login(app, "wrong password!") for _ in range(5)] == ["invalid_credentials"] * 5
    assert login(app) == "account_locked"
    assert login(app, "still the wrong one") == "invalid_credentials"  # not counted while locked
    events = [e["kind"] for e in app.security.activity(app.identity.find_user(EMAIL).id)]  # type: ignore[union-attr]
    assert events.count("login_failed") == 5 and events.count("account_locked") == 1
    clock.advance(timedelta(seconds=61))
    assert login(app) == "ok"
    events = [e["kind"] for e in app.security.activity(app.identity.find_user(EMAIL).id)]  # type: ignore[union-attr]
    assert "account_unlocked" in events
    assert login(app) == "ok"  # a later login unlocks nothing
    events = [e["kind"] for e in app.security.activity(app.identity.find_user(EMAIL).id)]  # type: ignore[union-attr]
    assert events.count("account_unlocked") == 1


def test_locks_double_up_to_an_hour(app: Container, clock: FrozenClock) -> None:
    for minutes in (1, 2, 4, 8, 16, 32, 60, 60):
        for _ in range(5):
            login(app, "wrong password!")
        clock.advance(timedelta(minutes=minutes) - timedelta(seconds=1))
        assert login(app) == "account_locked", minutes
        clock.advance(timedelta(seconds=2))
    assert login(app) == "ok"


def test_too_many_failures_from_one_address_are_refused(app: Container) -> None:
    for i in range(100):
        assert code_of(lambda i=i: app.security.login(f"nobody{i}@example.com", PASSWORD, ip="198.51.100.7")) == \
            "invalid_credentials"
    assert code_of(lambda: app.security.login(EMAIL, PASSWORD, ip="198.51.100.7")) == "too_many_attempts"
    assert login(app, ip="198.51.100.8") == "ok"  # another address is not affected


def test_the_address_caps_count_an_ipv6_network_together(app: Container) -> None:
    """A connection with IPv6 has a whole /64 to itself: stepping through its addresses doesn't escape the caps
    on reset requests and failed logins; another /64, and the full address in the activity log, are as they
    were."""
    for i in range(policy.MAX_RESET_REQUESTS_PER_HOUR):
        app.security.request_reset(f"someone{i}@example.com", ip=f"2001:db8:7:1::{i + 1:x}")
    assert code_of(lambda: app.security.request_reset(EMAIL, ip="2001:db8:7:1:ffff::9")) == "too_many_reset_requests"
    assert code_of(lambda: app.security.request_reset(EMAIL, ip="2001:db8:7:2::1")) == "ok"  # the next /64
    app.security.send_reset_links()
    who = principal(app)
    requested = [e for e in app.security.activity(who.user.id, 10) if e["kind"] == "password_reset_requested"]
    assert requested[0]["ip"] == "2001:db8:7:2::1"  # the log keeps the address itself
    for i in range(policy.MAX_FAILURES_PER_HOUR):
        assert code_of(lambda i=i: app.security.login(f"nobody{i}@example.com", PASSWORD,
                                                      ip=f"2001:db8:9:1:{i:x}::1")) == "invalid_credentials"
    assert code_of(lambda: app.security.login(EMAIL, PASSWORD, ip="2001:db8:9:1:abcd::2")) == "too_many_attempts"
    assert login(app, ip="2001:db8:9:2::1") == "ok"


def test_sessions_end_after_30_idle_minutes_or_12_hours(app: Container, clock: FrozenClock) -> None:
    token = app.security.login(EMAIL, PASSWORD).token
    clock.advance(timedelta(minutes=29))
    assert app.identity.authenticate(token)
    clock.advance(timedelta(minutes=31))
    assert code_of(lambda: app.identity.authenticate(token)) == "not_authenticated"
    token = app.security.login(EMAIL, PASSWORD).token
    for _ in range(30):  # active every 29 minutes, for more than 12 hours...
        clock.advance(timedelta(minutes=29))
        if code_of(lambda: app.identity.authenticate(token)) != "ok":
            break
    assert code_of(lambda: app.identity.authenticate(token)) == "not_authenticated"  # ...still ends at 12 h


def test_two_step_login_needs_a_fresh_code_each_time(app: Container, clock: FrozenClock) -> None:
    who = principal(app)
    enrol = app.security.start_totp(who)
    assert enrol["otpauth_uri"].startswith("otpauth://totp/Paydesk:") and "<svg" in enrol["qr_svg"]
    secret = enrol["secret"]
    codes = app.security.confirm_totp(who, policy.totp_code(secret, clock.now()))
    assert len(codes) == 10
    assert login(app) == "otp_required"
    assert login(app, otp="000000") in ("invalid_otp",)
    clock.advance(30)
    code = policy.totp_code(secret, clock.now())
    assert login(app, otp=code) == "ok"
    assert login(app, otp=code) == "invalid_otp"  # never twice
    assert login(app, otp=policy.totp_code(secret, clock.now() - timedelta(seconds=30))) == "invalid_otp"
    clock.advance(30)
    assert login(app, otp=policy.totp_code(secret, clock.now() + timedelta(seconds=30))) == "ok"  # +1 step
    assert login(app, otp=codes[0].lower()) == "ok"  # a recovery code, once
    assert login(app, otp=codes[0]) == "invalid_otp"
    new_codes = app.security.regenerate_recovery_codes(principal(app, codes[1]), PASSWORD, codes[2])
    assert login(app, otp=codes[3]) == "invalid_otp"  # the old set is void
    assert login(app, otp=new_codes[0]) == "ok"


def test_reset_tokens_work_once_for_30_minutes_end_sessions_and_respect_2_step(app: Container,
                                                                              clock: FrozenClock) -> None:
    old = app.security.login(EMAIL, PASSWORD).token

    def token() -> str:
        app.security.request_reset(EMAIL)
        app.security.send_reset_links()
        body = app.notify.recent(1)[0].body
        found = re.search(r"token=([\w-]+)", body)
        assert found
        return found.group(1)

    first = token()
    clock.advance(timedelta(minutes=30))
    assert code_of(lambda: app.security.confirm_reset(first, "a brand new passphrase")) == "invalid_reset_token"
    second = token()
    assert code_of(lambda: app.security.confirm_reset(second, "short")) == "weak_password"
    assert code_of(lambda: app.security.confirm_reset(second, "a brand new passphrase")) == "ok"
    assert code_of(lambda: app.security.confirm_reset(second, "another new passphrase")) == "invalid_reset_token"
    assert code_of(lambda: app.identity.authenticate(old)) == "not_authenticated"
    assert login(app, "a brand new passphrase") == "ok"
    assert code_of(lambda: app.security.request_reset("ghost@example.com")) == "ok"  # same answer for strangers


def test_a_wrong_2_step_code_uses_up_the_reset_link(app: Container, clock: FrozenClock) -> None:
    who = principal(app)
    secret = app.security.start_totp(who)["secret"]
    app.security.confirm_totp(who, policy.totp_code(secret, clock.now()))
    clock.advance(timedelta(minutes=2))
    app.security.request_reset(EMAIL)
    app.security.send_reset_links()
    link = re.search(r"token=([\w-]+)", app.notify.recent(1)[0].body).group(1)  # type: ignore[union-attr]
    assert code_of(lambda: app.security.confirm_reset(link, "a brand new passphrase")) == "otp_required"
    assert code_of(lambda: app.security.confirm_reset(link, "a brand new passphrase", "000000")) == "invalid_otp"
    right = policy.totp_code(secret, clock.now())
    assert code_of(lambda: app.security.confirm_reset(link, "a brand new passphrase", right)) == "invalid_reset_token"
    assert login(app) == "otp_required"  # the old password still stands
    assert "reset_code_failed" in [e["kind"] for e in app.security.activity(who.user.id, 5)]


def test_a_reset_request_writes_the_same_for_anyone_and_a_job_sends_the_link(app: Container,
                                                                             clock: FrozenClock) -> None:
    before = len(app.notify.recent())
    for login in (EMAIL, "ghost@example.com", "+86 139 0013 9000"):
        app.security.request_reset(login, ip="198.51.100.20", user_agent="phone")
    assert len(app.notify.recent()) == before  # nothing sent, nothing looked up beyond the account's id yet
    assert app.security.send_reset_links() == 3 and app.security.send_reset_links() == 0  # each handled once
    links = [m for m in app.notify.recent() if "/reset?token=" in m.body]
    assert [m.recipient for m in links] == [EMAIL]  # the stranger got nothing; the owner one link, not two
    who = principal(app)
    requested = [e for e in app.security.activity(who.user.id, 10) if e["kind"] == "password_reset_requested"]
    assert len(requested) == 2 and requested[0]["ip"] == "198.51.100.20"  # but both requests are in the log
    clock.advance(policy.RESET_LINK_GAP)
    app.security.request_reset(EMAIL, ip="198.51.100.20")
    app.security.send_reset_links()
    assert len([m for m in app.notify.recent() if "/reset?token=" in m.body]) == 2  # a while later: a new one
    for i in range(policy.MAX_RESET_REQUESTS_PER_HOUR - 4):  # the cap counts every request from an address
        app.security.request_reset(f"someone{i}@example.com", ip="198.51.100.20")
    assert code_of(lambda: app.security.request_reset(EMAIL, ip="198.51.100.20")) == "too_many_reset_requests"
    assert code_of(lambda: app.security.request_reset("ghost@example.com", ip="198.51.100.20")
                   ) == "too_many_reset_requests"  # the same for strangers
    assert code_of(lambda: app.security.request_reset(EMAIL, ip="198.51.100.21")) == "ok"  # other addresses
    clock.advance(timedelta(hours=1, seconds=1))
    assert code_of(lambda: app.security.request_reset(EMAIL, ip="198.51.100.20")) == "ok"  # and after an hour
    clock.advance(timedelta(days=1, seconds=1))
    app.security.send_reset_links()
    with app.db.reader() as uow:  # handled requests are kept a day (the cap needs an hour of them), no longer
        assert uow.session.scalar(select(func.count()).select_from(ResetRequestRow)) == 0


def test_a_used_link_does_not_hold_back_the_next_one(app: Container, clock: FrozenClock) -> None:
    def link() -> str | None:
        app.security.request_reset(EMAIL)
        app.security.send_reset_links()
        found = re.search(r"token=([\w-]+)", app.notify.recent(1)[0].body)
        return found.group(1) if found else None

    first = link()
    assert first and link() == first  # a second ask within minutes: the first link (still good) is the answer
    app.security.confirm_reset(first, "a brand new passphrase")
    clock.advance(timedelta(minutes=1))
    second = link()
    assert second and second != first  # once it is used, a new ask gets a new link at once


def _all_at_once(n: int, call: Callable[[], Any]) -> list[str]:
    barrier = threading.Barrier(n)

    def one(_: int) -> str:
        barrier.wait()
        return code_of(call)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_64_concurrent_uses_of_one_secret_succeed_once(app: Container, clock: FrozenClock) -> None:
    app.security.request_reset(EMAIL)
    app.security.send_reset_links()
    reset = re.search(r"token=([\w-]+)", app.notify.recent(1)[0].body).group(1)  # type: ignore[union-attr]
    results = _all_at_once(64, lambda: app.security.confirm_reset(reset, "a brand new passphrase"))
    assert results.count("ok") == 1 and results.count("invalid_reset_token") == 63

    password = "a brand new passphrase"
    token = app.security.login(EMAIL, password).token
    who = app.identity.authenticate(token)
    secret = app.security.start_totp(who)["secret"]
    codes = app.security.confirm_totp(who, policy.totp_code(secret, clock.now()))
    results = _all_at_once(64, lambda: app.security.login(EMAIL, password, otp=codes[5]))
    assert results.count("ok") == 1, results
    clock.advance(timedelta(minutes=2))  # the 63 losers were wrong second factors: the account locked a minute
    totp = policy.totp_code(secret, clock.now())
    results = _all_at_once(64, lambda: app.security.login(EMAIL, password, otp=totp))
    assert results.count("ok") == 1, results


def test_unknown_and_known_accounts_look_alike_in_answer_and_time(app: Container) -> None:
    def timed(call: Callable[[], Any]) -> tuple[str, float]:
        started = time.perf_counter()
        outcome = code_of(call)
        return outcome, time.perf_counter() - started

    known, unknown = [], []
    for i in range(200):  # interleaved, so machine noise hits both alike; fresh addresses avoid the throttle
        known.append(timed(lambda i=i: app.security.login(EMAIL, f"wrong {i:04d} passphrase", ip=f"10.0.{i}.1")))
        unknown.append(timed(lambda i=i: app.security.login("ghost@example.com", "wrong passphrase",
                                                            ip=f"10.1.{i}.1")))
        if i % 4 == 3:  # keep the real account out of its lock
            app.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    assert {o for o, _ in known} == {o for o, _ in unknown} == {"invalid_credentials"}
    gap = abs(statistics.median(t for _, t in known) - statistics.median(t for _, t in unknown))
    assert gap < 0.005, f"median login times differ by {gap * 1000:.1f} ms"
    known_r = [timed(lambda: app.security.request_reset(EMAIL))[1] for _ in range(200)]
    unknown_r = [timed(lambda: app.security.request_reset("ghost@example.com"))[1] for _ in range(200)]
    gap = abs(statistics.median(known_r) - statistics.median(unknown_r))
    assert gap < 0.005, f"median reset times differ by {gap * 1000:.1f} ms"


def test_the_lock_email_arrives_over_smtp_and_its_link_works_once(
    settings: Settings, clock: FrozenClock, smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp
    app = build(settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{port}"}), clock)
    try:
        app.identity.register(email=EMAIL, phone=None, password=PASSWORD, display_name="Mei", locale="en")
        for _ in range(5):
            login(app, "wrong password!")
        assert app.notify.deliver_due() >= 1
        mails = [message_from_bytes(raw) for raw in inbox.messages]
        lock = next(m for m in mails if "locked" in str(m["Subject"]))
        body = lock.get_payload(decode=True).decode()  # type: ignore[union-attr]
        token = re.search(r"token=([\w-]+)", body).group(1)  # type: ignore[union-attr]
        assert code_of(lambda: app.security.confirm_reset(token, "a brand new passphrase")) == "ok"
        assert code_of(lambda: app.security.confirm_reset(token, "a brand new passphrase")) == "invalid_reset_token"
        assert login(app, "a brand new passphrase") == "ok"  # the reset also lifted the lock
    finally:
        app.close()



"""The security policy's pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paydesk.identity import policy
from paydesk.identity.domain import WeakPassword, check_password

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_five_failures_lock_for_a_minute_then_doubling_up_to_an_hour() -> None:
    state = policy.LockState(0, 0, None)
    durations, now = [], NOW
    for _ in range(8):
        for _ in range(4):
            state = policy.after_failure(state, now, 0)
            assert not state.locked(now)
        state = policy.after_failure(state, now, 0)
        assert state.locked_until is not None
        durations.append(state.locked_until - now)
        now = state.locked_until  # the next tries come once the lock has passed
    minutes = [int(d.total_seconds() // 60) for d in durations]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60]


def test_an_account_locked_for_days_stays_at_the_longest_lock() -> None:
    state, now = policy.LockState(0, 1_000, None), NOW  # stored before the cap, or after weeks of attack
    for _ in range(100):
        for _ in range(5):
            state = policy.after_failure(state, now, 0)
        assert state.locked_until == now + policy.LONGEST_LOCK and state.locks <= policy.LOCKS_CAP
        now = state.locked_until
    assert policy.after_failure(state, now, 99).locks == policy.LOCKS_CAP


def test_the_hundredth_failure_in_an_hour_locks_for_the_rest_of_the_hour() -> None:
    state = policy.after_failure(policy.LockState(0, 0, None), NOW, 99)
    assert state.locked_until == NOW + timedelta(hours=1)


def test_totp_accepts_one_step_either_side_and_never_a_step_twice() -> None:
    secret = policy.new_totp_secret()
    now_code = policy.totp_code(secret, NOW)
    step = policy.totp_step(NOW)
    assert policy.matching_step(secret, now_code, NOW, 0) == step
    assert policy.matching_step(secret, policy.totp_code(secret, NOW - timedelta(seconds=30)), NOW, 0) == step - 1
    assert policy.matching_step(secret, policy.totp_code(secret, NOW + timedelta(seconds=30)), NOW, 0) == step + 1
    assert policy.matching_step(secret, policy.totp_code(secret, NOW - timedelta(seconds=60)), NOW, 0) is None
    assert policy.matching_step(secret, now_code, NOW, step) is None  # already used
    earlier = policy.totp_code(secret, NOW - timedelta(seconds=30))
    assert policy.matching_step(secret, earlier, NOW, step) is None  # an earlier step after a later one
    assert policy.matching_step(secret, "12345", NOW, 0) is None
    assert policy.matching_step(secret, "abcdef", NOW, 0) is None


def test_totp_matches_the_rfc_6238_test_vector() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # "12345678901234567890"
    moment = datetime.fromtimestamp(59, UTC)
    assert policy.totp_code(secret, moment) == "287082"  # the 8-digit vector 94287082, last 6 digits


def test_recovery_codes_are_ten_distinct_readable_codes() -> None:
    codes = policy.new_recovery_codes()
    assert len(set(codes)) == 10
    assert all(len(c) == 12 and c.count("-") == 2 for c in codes)
    assert policy.normalize_recovery_code(codes[0].lower().replace("-", " ")) == codes[0]


@pytest.mark.parametrize(("password", "reason"), [
    ("short", "too_short"), ("qwerty123456", "common_password"), ("1QAZ2WSX3EDC", "common_password"),
    ("alice-has-a-long-secret", "contains_personal_info"), ("my paydesk passphrase", "contains_personal_info"),
])
def test_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        check_password(password, email="alice@example.com", display_name="Alice")
    assert caught.value.extra["reason"] == reason


def test_long_passphrases_are_welcome_and_not_truncated() -> None:
    long = "correct horse battery staple " * 8
    assert check_password(long, email="bob@example.com", display_name="Bob") == long
    assert len(policy.common_passwords()) == 10_000


@pytest.mark.parametrize(("ip", "group"), [
    ("198.51.100.7", "198.51.100.7"),  # an IPv4 address is a group of its own
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # an IPv6 address counts with its /64…
    ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # …however it is written
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64 is another group
    ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4 carried in IPv6 is that IPv4 address: mapped…
    ("64:ff9b::c633:6407", "198.51.100.7"), ("64:ff9b::198.51.100.8", "198.51.100.8"),  # …or through NAT64
    ("64:ff9b:1::1", "64:ff9b:1::/64"),  # (a local NAT64 prefix isn't known here: an IPv6 address like any)
    ("fe80::1%eth0", "fe80::/64"),
    ("testclient", "testclient"), ("", ""),  # not an address: itself
])
def test_the_per_address_caps_count_an_ipv6_address_with_its_64(ip: str, group: str) -> None:
    assert policy.address_group(ip) == group

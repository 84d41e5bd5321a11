from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from paydesk.config import DEV_SECRET, Settings
from paydesk.core import i18n
from paydesk.core.clock import FrozenClock
from paydesk.core.db import sqlite_time
from paydesk.core.ids import uuid7, uuid7_time_ms
from paydesk.core.logs import HideSecretsInUrls, hide_secrets


def test_uuid7_has_the_right_version_and_sorts_by_creation() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_carries_its_time() -> None:
    assert uuid7_time_ms(uuid7(1_700_000_000_000)) >= 1_700_000_000_000


def test_uuid7_random_bits_differ_between_ids_of_one_millisecond() -> None:
    first, second = uuid7(1_700_000_000_000), uuid7(1_700_000_000_000)
    counted, borrowed = ((first.int >> 64) & 0xFFF) + 1, 0xFFF + 1  # counts up, or borrows the next millisecond
    assert (second.int >> 64) & 0xFFF == counted % borrowed and second > first
    assert first.int & ((1 << 62) - 1) != second.int & ((1 << 62) - 1)  # rand_b is drawn anew


def test_sqlite_times_are_fixed_width_utc_so_text_order_is_time_order() -> None:
    moments = [datetime(2026, 12, 5, 6, 0, tzinfo=UTC), datetime(2026, 12, 5, 6, 0, 0, 1, tzinfo=UTC),
               datetime(2026, 12, 5, 14, 0, 0, 2, tzinfo=timezone(timedelta(hours=8))),  # 06:00 UTC, later
               datetime(2026, 12, 5, 6, 0, 0, 999_999, tzinfo=UTC)]
    texts = [sqlite_time(moment) for moment in moments]
    assert texts[0] == "2026-12-05T06:00:00.000000+00:00"  # whole seconds keep their microseconds
    assert texts[2] == "2026-12-05T06:00:00.000002+00:00"  # another zone, written in UTC
    assert {len(text) for text in texts} == {32} and sorted(texts) == texts
    assert [datetime.fromisoformat(text) for text in texts] == moments


def test_settings_refuse_the_default_secret_outside_development() -> None:
    assert Settings(env="development").secret_key == DEV_SECRET
    with pytest.raises(ValidationError, match="PAYDESK_SECRET_KEY"):
        Settings(env="production")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", secret_key="short")
    assert Settings(env="production", secret_key="x" * 40).env == "production"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("PAYDESK_CURRENCIES", "USD:2,SOL:9:crypto")
    s = Settings()
    assert s.database_url == "sqlite:////tmp/x.db"
    assert list(s.currencies) == ["USD", "SOL"]


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(minutes=1))
    assert clock.now() == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(("header", "locale"), [
    ("zh-CN,zh;q=0.9", "zh-CN"), ("en-GB,en;q=0.8", "en"), ("fr-FR, zh-TW;q=0.5", "zh-CN"),
    ("fr-FR", "en"), ("", "en"), (None, "en"), ("en;q=0.2, zh;q=0.9", "zh-CN"), ("zh;q=0", "en"),
    ("en;q=bogus, zh", "zh-CN"),
])
def test_accept_language_picks_one_of_our_locales(header: str | None, locale: str) -> None:
    assert i18n.negotiate(header) == locale


def test_both_locales_have_every_message() -> None:
    assert i18n.catalog("en").keys() == i18n.catalog("zh-CN").keys()
    assert i18n.translate("zh-CN", "nav.home") == "首页"
    assert i18n.translate("xx", "nav.home") == "Home"


@pytest.mark.parametrize(("line", "logged"), [
    ("/reset?token=abc&lang=en", "/reset?token=[hidden]&lang=en"),
    ("/ws/chat?after=3&visitor_token=v%2Fx", "/ws/chat?after=3&visitor_token=[hidden]"),
    ("/ws/agent?Token=abc", "/ws/agent?Token=[hidden]"),
    ("/reset?tok%65n=abc&x=1", "/reset?tok%65n=[hidden]&x=1"),  # the app reads the name decoded
    ("/reset?token=a%26b#c", "/reset?token=[hidden]"),
    ("/login?next=/reset?token=abc", "/login?next=/reset?token=[hidden]"),  # a link inside a link
    ('"GET /reset?token=abc HTTP/1.1" 200', '"GET /reset?token=[hidden] HTTP/1.1" 200'),
    ("/api/v1/transactions?cursor=abc&limit=5", "/api/v1/transactions?cursor=abc&limit=5"),
    ("/help?q=token", "/help?q=token"),
])
def test_logs_hide_the_value_of_token_parameters(line: str, logged: str) -> None:
    assert hide_secrets(line) == logged


def test_uvicorn_records_are_rewritten_before_formatting() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
                               ("127.0.0.1:5", "/ws/agent?token=s3cret"), None)
    assert HideSecretsInUrls().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "WebSocket /ws/agent?token=[hidden]" [accepted]'

"""`paydesk serve` on an empty SQLite file: it migrates, listens, and answers like `make run` promises."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback server
        return response.status, response.read().decode()


def test_serve_migrates_a_fresh_database_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PAYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'paydesk.db'}"}
    paydesk = [sys.executable, "-m", "paydesk.cli"]
    demo = subprocess.run([*paydesk, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert "alice@example.com" in demo.stdout and "correct horse battery staple" in demo.stdout
    check = subprocess.run([*paydesk, "ledger", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "passed" in check.stdout
    with subprocess.Popen(
        [*paydesk, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    status, body = _get(f"http://127.0.0.1:{port}/healthz")
                    break
                except OSError:
                    assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                    assert time.monotonic() < deadline, "the server did not start in 30 s"
                    time.sleep(0.2)
            assert status == 200 and '"status":"ok"' in body
            status, page = _get(f"http://127.0.0.1:{port}/?lang=zh-CN")
            assert status == 200 and "自带客服的钱包" in page
            status, help_page = _get(f"http://127.0.0.1:{port}/help/zh-CN/articles/locked-account")
            assert status == 200 and "账户被锁定" in help_page  # the demo imported the help center
            # chat sockets: the client offers per-message compression, the server declines it (small frames)
            from websockets.sync.client import connect

            with connect(f"ws://127.0.0.1:{port}/ws/chat?visitor_token=short") as ws:
                assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers
            # secrets in URLs stay out of the log: a reset link, a visitor's key, an agent console's token
            assert _get(f"http://127.0.0.1:{port}/reset?token=RESET-SECRET&lang=en")[0] == 200
            with connect(f"ws://127.0.0.1:{port}/ws/chat?visitor_token=VISITOR-SECRET&after=0") as ws:
                assert json.loads(ws.recv(timeout=10))["code"] == "invalid_request"  # not a token we issued
            with connect(f"ws://127.0.0.1:{port}/ws/agent?token=AGENT-SECRET") as ws:
                assert json.loads(ws.recv(timeout=10))["code"] == "not_an_agent"
        finally:
            server.terminate()
            out, err = server.communicate(timeout=30)
    log = out.decode() + err.decode()
    assert '"GET /reset?token=[hidden]&lang=en HTTP/1.1" 200' in log
    assert '"WebSocket /ws/chat?visitor_token=[hidden]&after=0" [accepted]' in log
    assert '"WebSocket /ws/agent?token=[hidden]" [accepted]' in log
    assert "SECRET" not in log


def test_ledger_check_exits_non_zero_and_names_the_problem(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "p.db"
    env = {**os.environ, "PAYDESK_DATABASE_URL": f"sqlite:///{db}"}
    paydesk = [sys.executable, "-m", "paydesk.cli"]
    assert subprocess.run([*paydesk, "demo"], env=env, capture_output=True, timeout=120).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE ledger_accounts SET credits_posted = credits_posted + 7 WHERE code = 'wallet'")
    result = subprocess.run([*paydesk, "ledger", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "posted_balanced" in result.stdout and "totals_match_transfers" in result.stdout

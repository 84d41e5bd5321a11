"""A person in a real browser (Debian's Chromium driven by Playwright): sign up, top up, send to a demo user,
see the history. The dashboard's screenshot is kept under test-artifacts/."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2 as httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from redis import Redis as SyncRedis
from websockets.sync.client import connect

from paydesk.app import create_app
from paydesk.config import Settings
from paydesk.core.errors import NotFound
from paydesk.demo import PEOPLE, load_demo
from tests.conftest import own_redis
from tests.e2e.server import serve

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


# CI installs Debian's Chromium and sets PAYDESK_TEST_BROWSER=1, so there the test must run. A developer's
# bare machine without Chromium skips it with this reason rather than failing `make test`.
REQUIRED = bool(os.environ.get("PAYDESK_TEST_BROWSER"))


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("PAYDESK_TEST_BROWSER is set but Debian's chromium is not installed")
        pytest.skip("no Chromium here: apt-get install -y chromium fonts-noto-cjk (CI always runs this test)")
    return CHROMIUM


def test_sign_up_top_up_send_to_a_demo_user_and_see_the_history(settings: Settings, chromium_path: str) -> None:
    load_demo(settings)
    li_wei = PEOPLE[0]
    app = create_app(settings, run_jobs=False)
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
        page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
        try:
            _journey(page, base, li_wei.email)
            ARTIFACTS.mkdir(exist_ok=True)
            page.goto(f"{base}/wallet")
            backend = "sqlite" if settings.is_sqlite else "postgresql"
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{backend}.png"),
                            full_page=True)
        finally:
            browser.close()
    assert not app.state.container.ledger.check()


def _journey(page: Page, base: str, recipient: str) -> None:
    page.goto(f"{base}/signup")
    expect(page.get_by_role("heading", level=1)).to_have_text("开通您的 Paydesk 钱包")
    page.get_by_label("电子邮箱").fill("zhang.min@example.com")
    page.get_by_label("您的称呼").fill("张敏")
    page.get_by_label("密码").fill("short")
    page.get_by_role("button", name="创建钱包").click()
    expect(page.locator("#e-password")).to_contain_text("12")  # the error sits next to the field
    page.get_by_label("密码").fill("qiuyue chunfeng 2026")
    page.get_by_role("button", name="创建钱包").click()
    expect(page).to_have_url(f"{base}/wallet?lang=zh-CN")
    expect(page.get_by_text("钱包还是空的")).to_be_visible()

    page.get_by_role("link", name="充值", exact=True).first.click()
    page.get_by_label("支付方式").select_option("card")
    page.get_by_label("币种").select_option("CNY")
    page.get_by_label("金额").fill("500")
    page.get_by_role("button", name="确认充值").click()
    expect(page.get_by_test_id("quote-fee")).to_contain_text("7.50 CNY")  # 1.5 %, shown before confirming
    expect(page.get_by_test_id("quote-credit")).to_contain_text("492.50 CNY")
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已完成")

    page.goto(f"{base}/wallet/send")
    page.get_by_label("收款人").fill(recipient)
    page.get_by_label("币种").select_option("CNY")
    page.get_by_label("金额").fill("600")
    page.get_by_role("button", name="确认转账").click()
    expect(page.get_by_test_id("quote-fee")).to_contain_text("0.00 CNY")
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.locator("#e-amount")).to_have_text("可用余额不足。")
    page.get_by_label("金额").fill("123.45")
    page.get_by_label("附言").fill("谢谢你的书")
    page.get_by_role("button", name="确认转账").click()
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("123.45 CNY")

    page.goto(f"{base}/wallet/exchange")  # the quote first, then exactly that
    page.get_by_label("从").select_option("CNY")
    page.get_by_label("兑换为").select_option("USD")
    page.get_by_label("金额").fill("100")
    expect(page.get_by_test_id("live-quote")).to_contain_text("1 CNY =")  # live, as the amount is typed
    page.get_by_role("button", name="查看汇率和手续费").click()
    expect(page.get_by_test_id("quote-rate")).to_contain_text("1 CNY =")
    quoted = page.get_by_test_id("quote-credit").inner_text().split()[0]
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"{quoted} USD")
    page.goto(f"{base}/wallet")
    expect(page.get_by_test_id("available-USD")).to_contain_text(quoted)

    page.get_by_role("link", name="交易记录", exact=True).click()
    items = page.locator(".tx-list li")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text(f"−100.00 CNY → +{quoted} USD")
    expect(items.nth(1)).to_contain_text("−123.45 CNY")
    expect(items.nth(1)).to_contain_text("谢谢你的书")
    expect(items.nth(2)).to_contain_text("+500.00 CNY")
    page.goto(f"{base}/wallet")
    expect(page.get_by_test_id("available-CNY")).to_contain_text("269.05")  # 500 − 7.50 fee − 123.45 − 100


def test_turn_on_2_step_log_out_and_log_in_with_a_code(settings: Settings, chromium_path: str) -> None:
    from datetime import UTC, datetime, timedelta

    from paydesk.identity import policy

    app = create_app(settings, run_jobs=False)
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
        page = browser.new_page(locale="en-GB", viewport={"width": 1100, "height": 900})
        try:
            page.goto(f"{base}/signup?lang=en")
            page.get_by_label("Email").fill("sam@example.com")
            page.get_by_label("Password").fill("quiet harbour lanterns 7")
            page.get_by_label("Language", exact=True).select_option("en")
            page.get_by_role("button", name="Create my wallet").click()
            page.get_by_role("link", name="Security").click()
            page.get_by_role("button", name="Turn on 2-step verification").click()
            expect(page.locator(".qr svg")).to_be_visible()
            secret = page.get_by_test_id("totp-secret").inner_text()
            page.get_by_label("2-step code").fill(policy.totp_code(secret, datetime.now(UTC)))
            page.get_by_role("button", name="Confirm and turn on").click()
            expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
            recovery = page.get_by_test_id("recovery-codes").locator("li").first.inner_text().strip()
            page.get_by_role("button", name="Log out").click()

            page.goto(f"{base}/login?lang=en")
            page.get_by_label("Email or mobile phone").fill("sam@example.com")
            page.get_by_label("Password").fill("quiet harbour lanterns 7")
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("#e-otp")).to_contain_text("authenticator")
            page.get_by_label("Password").fill("quiet harbour lanterns 7")
            next_step = datetime.now(UTC) + timedelta(seconds=30)  # the current step was used to turn it on
            page.get_by_label("Code from your authenticator app").fill(policy.totp_code(secret, next_step))
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{base}/wallet")
            page.goto(f"{base}/settings/security")
            activity = page.get_by_test_id("activity")
            expect(activity).to_contain_text("Signed in")
            expect(activity).to_contain_text("2-step turned on")
            ARTIFACTS.mkdir(exist_ok=True)
            backend = "sqlite" if settings.is_sqlite else "postgresql"
            page.screenshot(path=str(ARTIFACTS / f"security-{backend}.png"), full_page=True)

            # a payment above the exemption asks for a code on its own page; a recovery code answers it
            app.state.container.identity.register(email="kim@example.com", phone=None, password="a long passphrase 42",
                                                  display_name="Kim", locale="en")
            page.goto(f"{base}/wallet/topup")
            page.get_by_label("Payment method").select_option("card")
            page.get_by_label("Currency").select_option("EUR")
            page.get_by_label("Amount").fill("200")
            page.get_by_role("button", name="Top up").click()
            expect(page.get_by_test_id("quote-credit")).to_contain_text("197.00 EUR")  # 200 − 1.5 % card fee
            page.get_by_role("button", name="Confirm", exact=True).click()
            page.goto(f"{base}/wallet/send")
            page.get_by_label("Recipient").fill("kim@example.com")
            page.get_by_label("Currency").select_option("EUR")
            page.get_by_label("Amount").fill("80")
            page.get_by_role("button", name="Send").click()
            page.get_by_role("button", name="Confirm", exact=True).click()
            expect(page.get_by_test_id("confirm-summary")).to_contain_text("80.00 EUR")
            page.get_by_label("Code").fill("999999")
            page.get_by_role("button", name="Confirm and pay").click()
            expect(page.locator("#e-otp")).to_be_visible()
            page.get_by_label("Code").fill(recovery)
            page.get_by_role("button", name="Confirm and pay").click()
            expect(page.get_by_role("status")).to_contain_text("80.00 EUR")
            page.screenshot(path=str(ARTIFACTS / f"payment-confirmed-{backend}.png"), full_page=True)
        finally:
            browser.close()


def test_a_visitor_asks_through_the_widget_on_another_site_and_an_agent_answers_live(
    settings: Settings, chromium_path: str, tmp_path: Path,
) -> None:
    app = create_app(settings, run_jobs=False)
    container = app.state.container
    mei = container.identity.register(email="mei@example.com", phone=None, password="support desk passphrase",
                                      display_name="Mei", locale="zh-CN")
    container.support.create_agent("mei@example.com", "general", 3)
    mei = container.identity.user(mei.id)  # with the agent role
    container.support.save_canned(mei, "arrived", "{customer_name}，您的款项已经到账，请查收。")
    with serve(app) as base, sync_playwright() as pw:
        # a plain page on another origin that embeds the widget, as a merchant's or a blog's site would
        site = another_site(tmp_path, f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                            f'<title>某个网站</title><style>* {{ font-size: 40px !important; color: red !important; }}'
                            f'</style></head><body><h1>欢迎</h1><script src="{base}/widget.js" defer></script></body>'
                            f'</html>')
        browser = pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
        try:
            agent = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 800}).new_page()
            agent.goto(f"{base}/login?next=/agent")
            agent.get_by_label("电子邮箱或手机号码").fill("mei@example.com")
            agent.get_by_label("密码").fill("support desk passphrase")
            agent.get_by_role("button", name="登录").click()
            expect(agent.get_by_test_id("console")).to_be_visible()

            visitor = browser.new_context(locale="zh-CN", viewport={"width": 420, "height": 760}).new_page()
            visitor.goto(f"http://127.0.0.1:{site.server_address[1]}/index.html")
            visitor.get_by_role("button", name="在线客服").click()
            box = visitor.get_by_role("textbox", name="请输入您的问题…")
            box.fill("我的提现三天了还没到账")
            box.press("Enter")
            expect(visitor.get_by_role("log")).to_contain_text("我的提现三天了还没到账")
            assert box.evaluate("el => getComputedStyle(el).fontSize") != "40px"  # the host's styles stay out

            expect(agent.get_by_test_id("timeline")).to_contain_text("我的提现三天了还没到账", timeout=10000)
            expect(visitor.locator(".status")).to_have_text("客服已读", timeout=10000)  # the console's read receipt
            agent.get_by_label("回复").fill("您好，我来帮您查一下这笔提现。")
            agent.get_by_label("回复").press("Control+Enter")
            expect(visitor.get_by_role("log")).to_contain_text("您好，我来帮您查一下这笔提现。", timeout=10000)
            expect(agent.locator("#live-note")).to_have_text("访客已读。", timeout=10000)  # the widget's
            expect(agent.get_by_test_id("timeline")).to_contain_text("您好，我来帮您查一下这笔提现。")
            visitor.get_by_role("button", name="发送聊天记录副本").click()  # the chat so far, by email
            visitor.get_by_role("textbox", name="您的邮箱").fill("li.lei@example.com")
            visitor.get_by_role("button", name="发送记录").click()
            expect(visitor.get_by_role("log")).to_contain_text("聊天记录已发送到您的邮箱。", timeout=10000)
            [mail] = [m for m in container.notify.recent() if m.template == "support_transcript"]
            assert mail.recipient == "li.lei@example.com" and "您好，我来帮您查一下这笔提现。" in mail.body
            receipt = tmp_path / "回单.png"  # a real 1×1 PNG: the server reads the type from the bytes
            receipt.write_bytes(bytes.fromhex(
                "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5b1a6d90000000049454e44ae426082"))
            visitor.locator("input[type=file]").set_input_files(str(receipt))
            expect(agent.get_by_test_id("timeline").locator("img.preview")).to_have_count(1, timeout=10000)
            expect(visitor.get_by_role("log").locator("img")).to_have_count(1)
            # the console's tools: priority, labels, a saved reply (placeholders filled), resolve by key
            agent.get_by_label("优先级").select_option("urgent")
            agent.get_by_label("标签（用逗号分隔）").fill("提现, 加急")
            agent.get_by_test_id("labels").get_by_role("button", name="保存").click()
            expect(agent.get_by_test_id("timeline")).to_contain_text("labels: 加急, 提现", timeout=10000)
            agent.get_by_label("常用语").select_option("arrived")
            agent.get_by_role("button", name="发送常用语").click()
            expect(visitor.get_by_role("log")).to_contain_text("您的款项已经到账，请查收。", timeout=10000)
            agent.get_by_label("暂缓时长").select_option("4")  # snoozed for 4 hours, then resolved by key
            agent.get_by_role("button", name="暂缓处理").click()
            expect(agent.get_by_test_id("timeline")).to_contain_text("status: snoozed until", timeout=10000)
            agent.keyboard.press("Alt+r")
            expect(agent.get_by_test_id("timeline")).to_contain_text("status: resolved", timeout=10000)
            cid = agent.get_by_test_id("console").get_attribute("data-conversation")
            shown = container.support.conversation(mei, UUID(cid))
            assert (shown["priority"], shown["labels"], shown["status"]) == ("urgent", ["加急", "提现"], "resolved")
            until = [datetime.fromisoformat(m["data"]["until"]) for m in shown["messages"]
                     if (m["data"] or {}).get("status") == "snoozed"]
            assert len(until) == 1 and abs(until[0] - datetime.now(UTC) - timedelta(hours=4)) < timedelta(minutes=5)
            # the moves follow the status: resolved, it can be reopened or closed, not resolved or snoozed again
            expect(agent.get_by_role("button", name="重新打开")).to_be_visible()
            expect(agent.get_by_role("button", name="标记解决")).to_be_hidden()
            expect(agent.get_by_role("button", name="暂缓处理")).to_be_hidden()
            agent.get_by_role("button", name="关闭会话").click()
            expect(visitor.get_by_role("log")).to_contain_text("会话已结束", timeout=10000)
            agent.keyboard.press("Alt+r")  # refused (closed): the console says why
            expect(agent.locator("#live-note")).to_contain_text("closed", timeout=10000)
            # the visitor writes again: a new conversation, from its first message
            box.fill("还有一个问题")
            box.press("Enter")
            deadline = time.monotonic() + 10
            token = visitor.evaluate("localStorage.getItem('paydesk.visitor')")
            fresh = None
            while time.monotonic() < deadline:
                with contextlib.suppress(NotFound):  # (until the widget's next socket opens the new one)
                    fresh = container.support.visitor_conversation_id(token)
                if fresh is not None and container.support.messages_after(fresh, 0, with_notes=True):
                    break
                time.sleep(0.05)
            assert fresh is not None and fresh != UUID(cid)
            assert [m["body"] for m in container.support.messages_after(fresh, 0, with_notes=True)
                    if m["kind"] == "inbound"] == ["还有一个问题"]

            def mei_online() -> bool:
                return bool([a for a in container.support.board()["agents"] if a["name"] == "Mei"][0]["online"])

            assert mei_online()
            agent.get_by_label("我的状态").select_option("away")  # the agent steps away: no new chats for now
            deadline = time.monotonic() + 10
            while mei_online() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not mei_online()
            ARTIFACTS.mkdir(exist_ok=True)
            backend = "sqlite" if settings.is_sqlite else "postgresql"
            visitor.screenshot(path=str(ARTIFACTS / f"chat-visitor-{backend}.png"))
            agent.screenshot(path=str(ARTIFACTS / f"chat-agent-{backend}.png"))
        finally:
            browser.close()
            site.shutdown()
            site.server_close()


def test_the_widget_in_english_starts_a_new_chat_when_the_browsers_belongs_to_another_account(
    settings: Settings, chromium_path: str, tmp_path: Path,
) -> None:
    """A shared browser: its visitor token's chat was linked to Zhou's account when Zhou chatted signed in.
    Someone else opens the widget (an English page): the server refuses them that chat, and the widget starts
    a new one, where their question goes; Zhou's chat gets none of it."""
    app = create_app(settings, run_jobs=False)
    support = app.state.container.support
    zhou = app.state.container.identity.register(email="zhou@example.com", phone=None, password="a long passphrase 42",
                                                 display_name="Zhou", locale="en")
    shared = support.new_visitor_token()
    linked = support.visitor_conversation(shared, zhou)["conversation_id"]
    with serve(app) as base, sync_playwright() as pw:
        site = another_site(tmp_path, f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A shop'
                            f'</title></head><body><h1>Welcome</h1><script src="{base}/widget.js" defer></script>'
                            f'</body></html>')
        browser = pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
        try:
            context = browser.new_context(locale="en-GB")
            context.add_init_script(f"localStorage.setItem('paydesk.visitor', {json.dumps(shared)});"
                                    "localStorage.setItem('paydesk.seq', '9');")
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{site.server_address[1]}/index.html")
            page.get_by_role("button", name="Chat with us").click()
            box = page.get_by_role("textbox", name="Type your question…")
            box.fill("Do you ship to Lisbon?")
            box.press("Enter")  # at once: sent while the refused socket may still be open, it waits for the next
            expect(page.get_by_role("log")).to_contain_text("Do you ship to Lisbon?", timeout=15000)
            page.wait_for_function(f"(localStorage.getItem('paydesk.visitor') || {json.dumps(shared)}) !== "
                                   f"{json.dumps(shared)}", timeout=15000)  # a new chat's token
            own = conversation_of(support, page)
            deadline = time.monotonic() + 15
            while not support.messages_after(own, 0, with_notes=False) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [m["body"] for m in support.messages_after(own, 0, with_notes=False)] == ["Do you ship to Lisbon?"]
            assert support.messages_after(UUID(linked), 0, with_notes=True) == []  # Zhou's chat: untouched
        finally:
            browser.close()
            site.shutdown()
            site.server_close()


def test_a_console_cut_off_from_redis_shows_what_it_missed_once_it_is_back(
    settings: Settings, chromium_path: str,
) -> None:
    """Two apps (two processes) on one database and a Redis of the test's own. The agent's console is on the
    second, whose Redis user is refused for a while and its connections dropped, as a visitor on the first
    writes: the conversation is assigned to the agent, and the news of it missed. Once the second app is
    back on Redis, the console hears `resync` and reloads its inbox, which lists the conversation."""
    with own_redis() as (url, _):
        admin = SyncRedis.from_url(url)
        admin.execute_command("ACL", "SETUSER", "b", "on", ">b-secret", "~*", "&*", "+@all")
        apps = [create_app(settings.model_copy(update={"redis_url": address}), run_jobs=False)
                for address in (url, url.replace("redis://", "redis://b:b-secret@"))]
        container = apps[1].state.container
        container.identity.register(email="mei@example.com", phone=None, password="support desk passphrase",
                                    display_name="Mei", locale="en")
        container.support.create_agent("mei@example.com", "general", 3)
        with serve(apps[0]) as visitors, serve(apps[1]) as agents, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
            try:
                page = browser.new_page(locale="en")
                page.goto(f"{agents}/login?next=/agent")
                page.get_by_label("Email or mobile phone").fill("mei@example.com")
                page.get_by_label("Password").fill("support desk passphrase")
                page.get_by_role("button", name="Log in").click()
                expect(page.get_by_test_id("console")).to_be_visible()
                page.evaluate("window.loadedBefore = true")
                for _ in range(100):  # the console's socket is open: the agent is online
                    if container.support.agents_online():
                        break
                    time.sleep(0.05)
                admin.execute_command("ACL", "SETUSER", "b", "off")
                admin.execute_command("CLIENT", "KILL", "USER", "b")
                token = httpx.post(f"{visitors}/api/v1/support/visitors").json()["visitor_token"]
                with connect(visitors.replace("http://", "ws://") + f"/ws/chat?visitor_token={token}") as chat:
                    cid = json.loads(chat.recv(timeout=10))["conversation_id"]
                    chat.send(json.dumps({"type": "message", "body": "Where is my refund?"}))
                    while (json.loads(chat.recv(timeout=10)).get("data") or {}).get("assignee") is None:
                        pass  # assigned to Mei, on the first app
                    time.sleep(1.0)
                    assert page.evaluate("window.loadedBefore === true")  # the console heard nothing yet
                    admin.execute_command("ACL", "SETUSER", "b", "on")
                    expect(page.get_by_test_id("inbox").locator(f"a[href*='{cid}']")).to_have_count(1, timeout=10000)
                    assert page.evaluate("window.loadedBefore === undefined")  # reloaded
            finally:
                browser.close()
        admin.close()


def test_another_site_cannot_show_our_pages_in_a_frame(settings: Settings, chromium_path: str,
                                                       tmp_path: Path) -> None:
    """Clickjacking: a page elsewhere frames the wallet's sign-in and send pages; the browser refuses to show them."""
    with serve(create_app(settings, run_jobs=False)) as base, sync_playwright() as pw:
        site = another_site(tmp_path, f'<!doctype html><html><body><iframe name="login" src="{base}/login"></iframe>'
                            f'<iframe name="send" src="{base}/wallet/send"></iframe></body></html>')
        browser = pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
        try:
            page = browser.new_page(locale="en")
            page.goto(f"http://127.0.0.1:{site.server_address[1]}/index.html", wait_until="load")
            for name in ("login", "send"):
                frame = page.frame(name=name)
                assert frame is not None
                assert "password" not in frame.content().lower()  # our sign-in form never rendered there
            ours = browser.new_page(locale="en")
            ours.goto(f"{base}/login")
            assert "password" in ours.content().lower()  # (the same page, opened directly, has the form)
        finally:
            browser.close()
            site.shutdown()
            site.server_close()


def conversation_of(support: Any, page: Page) -> UUID:
    """The conversation of the widget's visitor token on `page`, once the widget's socket has opened it."""
    deadline = time.monotonic() + 10
    while True:
        token = page.evaluate("localStorage.getItem('paydesk.visitor')")
        if token:
            with contextlib.suppress(NotFound):
                return UUID(str(support.visitor_conversation_id(token)))
        if time.monotonic() > deadline:
            raise AssertionError("the widget opened no conversation")
        time.sleep(0.05)


def another_site(directory: Path, html: str) -> Any:
    """A site on another origin (a static server on loopback, running until its `shutdown`) whose index page
    is `html`."""
    import functools
    import http.server
    import threading

    from tests.e2e.server import free_port

    (directory / "index.html").write_text(html, encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


def test_a_reader_searches_the_help_center_in_chinese_and_opens_the_answer(
    settings: Settings, chromium_path: str,
) -> None:
    app = create_app(settings, run_jobs=False)
    app.state.container.help.import_starter()
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=FLAGS)
        page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
        try:
            page.goto(f"{base}/help")
            expect(page.get_by_role("heading", name="帮助中心", exact=True)).to_be_visible()
            box = page.get_by_role("searchbox", name="搜索帮助中心")
            box.fill("帳戶被鎖定了怎麼辦")  # Traditional characters: folded to the articles' Simplified
            box.press("Enter")
            results = page.get_by_test_id("help-results")
            expect(results.locator("mark").first).to_be_visible()
            results.get_by_role("link").first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text("账户被锁定的原因和解锁方法")
            expect(page.get_by_test_id("article")).to_contain_text("重设密码")
            ARTIFACTS.mkdir(exist_ok=True)
            backend = "sqlite" if settings.is_sqlite else "postgresql"
            page.screenshot(path=str(ARTIFACTS / f"help-article-{backend}.png"), full_page=True)
            # the chat bubble on the same page suggests articles for what the visitor types
            page.get_by_role("button", name="在线客服").click()
            question = page.get_by_role("textbox", name="请输入您的问题…")
            question.fill("提现多久到账")
            question.press("Enter")
            expect(page.get_by_role("log").get_by_role("link").first).to_be_visible(timeout=10000)
            page.screenshot(path=str(ARTIFACTS / f"help-chat-suggestions-{backend}.png"))
            # ... before the question goes to an agent: it waits until the visitor asks for one
            support = app.state.container.support
            chat = conversation_of(support, page)
            time.sleep(0.3)
            assert support.messages_after(chat, 0, with_notes=True) == []  # nothing sent to the desk yet
            page.get_by_role("button", name="联系客服").click()
            deadline = time.monotonic() + 10
            while not support.messages_after(chat, 0, with_notes=True) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [m["body"] for m in support.messages_after(chat, 0, with_notes=True)
                    if m["kind"] == "inbound"] == ["提现多久到账"]
            expect(page.get_by_role("log")).to_contain_text("提现多久到账")
            expect(page.get_by_role("button", name="联系客服")).to_have_count(0)
            # another reader, in English, whom an article answers: nothing reaches the desk
            other = browser.new_page(locale="en-GB")
            other.goto(f"{base}/help?lang=en")
            other.get_by_role("button", name="Chat with us").click()
            other.get_by_role("textbox", name="Type your question…").fill("how long does a withdrawal take")
            other.get_by_role("textbox", name="Type your question…").press("Enter")
            other.get_by_role("button", name="That answers it").click(timeout=10000)
            expect(other.get_by_role("log")).to_contain_text("Glad it helped!")
            theirs = conversation_of(support, other)
            time.sleep(0.3)
            assert support.messages_after(theirs, 0, with_notes=True) == []
        finally:
            browser.close()

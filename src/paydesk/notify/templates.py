"""Message texts in both languages. Each template has a subject and a body with `{placeholders}`."""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "payment_received": {
        "en": ("You received {amount} {currency}",
               "Hello {name},\n\n{sender} sent you {amount} {currency}.{note_line}\n\n"
               "It is already in your Paydesk wallet.\n\nPaydesk"),
        "zh-CN": ("您收到了 {amount} {currency}",
                  "{name}，您好：\n\n{sender} 向您转账 {amount} {currency}。{note_line}\n\n"
                  "这笔钱已经存入您的 Paydesk 钱包。\n\nPaydesk"),
    },
    "topup_completed": {
        "en": ("Your top-up of {amount} {currency} arrived",
               "Hello {name},\n\n{amount} {currency} from your {method} top-up is now in your wallet.\n\nPaydesk"),
        "zh-CN": ("您充值的 {amount} {currency} 已到账",
                  "{name}，您好：\n\n您通过{method}充值的 {amount} {currency} 已存入钱包。\n\nPaydesk"),
    },
    "withdrawal_settled": {
        "en": ("Your withdrawal of {amount} {currency}: {outcome}",
               "Hello {name},\n\nYour withdrawal of {amount} {currency} to {destination} {outcome}.\n\nPaydesk"),
        "zh-CN": ("您提现的 {amount} {currency}：{outcome}",
                  "{name}，您好：\n\n您向 {destination} 提现的 {amount} {currency}{outcome}。\n\nPaydesk"),
    },
    "account_locked": {
        "en": ("Your Paydesk account was locked",
               "Hello {name},\n\nAfter several wrong passwords, from {ip} at {when}, your account is locked until "
               "{until}.\n\nIf this was you, wait and try again. If not, reset your password now (the link works "
               "once, for 30 minutes):\n{link}\n\nPaydesk"),
        "zh-CN": ("您的 Paydesk 账户已被锁定",
                  "{name}，您好：\n\n{when}，来自 {ip} 的多次密码错误使您的账户被锁定至 {until}。\n\n"
                  "如果是您本人，请稍后再试；如果不是，请立即重设密码（链接 30 分钟内有效，仅可使用一次）：\n{link}"
                  "\n\nPaydesk"),
    },
    "password_reset": {
        "en": ("Reset your Paydesk password",
               "Hello {name},\n\nSomeone (from {ip}) asked to reset your password at {when}. To choose a new one, "
               "open this link within 30 minutes (it works once):\n{link}\n\nIf it wasn't you, ignore this "
               "message: your password stays as it is.\n\nPaydesk"),
        "zh-CN": ("重设您的 Paydesk 密码",
                  "{name}，您好：\n\n{when} 有人（来自 {ip}）申请重设您的密码。请在 30 分钟内打开以下链接设置新密码"
                  "（仅可使用一次）：\n{link}\n\n如果不是您本人操作，请忽略本邮件，您的密码不会改变。\n\nPaydesk"),
    },
    "password_changed": {
        "en": ("Your Paydesk password was changed",
               "Hello {name},\n\nYour password was changed at {when}. Every other session was signed out.\n\n"
               "If this wasn't you, reset your password and contact support at once.\n\nPaydesk"),
        "zh-CN": ("您的 Paydesk 密码已修改",
                  "{name}，您好：\n\n您的密码已于 {when} 修改，其他设备上的登录均已退出。\n\n"
                  "如果不是您本人操作，请立即重设密码并联系客服。\n\nPaydesk"),
    },
    "new_device": {
        "en": ("New sign-in to your Paydesk account",
               "Hello {name},\n\nYour account was signed in to at {when} from {ip} on a device we hadn't seen:\n"
               "{device}\n\nIf this wasn't you, change your password and review your activity.\n\nPaydesk"),
        "zh-CN": ("您的 Paydesk 账户在新设备上登录",
                  "{name}，您好：\n\n您的账户于 {when} 在一台新设备上登录（来自 {ip}）：\n{device}\n\n"
                  "如果不是您本人，请立即修改密码并查看账户活动。\n\nPaydesk"),
    },
    "two_step_changed": {
        "en": ("2-step verification turned {state}",
               "Hello {name},\n\n2-step verification was turned {state} for your account at {when}. Other "
               "sessions were signed out.\n\nIf this wasn't you, contact support at once.\n\nPaydesk"),
        "zh-CN": ("两步验证已{state}",
                  "{name}，您好：\n\n您的账户已于 {when} {state}两步验证，其他设备上的登录均已退出。\n\n"
                  "如果不是您本人操作，请立即联系客服。\n\nPaydesk"),
    },
    "account_frozen": {
        "en": ("We froze outgoing money on your Paydesk account",
               "Hello {name},\n\nYou told us at {when} that you didn't make some activity. We have stopped all "
               "outgoing payments and withdrawals (money can still come in) and signed out every session.\n\n"
               "What happens next: our support team reviews the case, contacts you to confirm who you are, and "
               "lifts the freeze with you. Reset your password now if you haven't.\n\nPaydesk"),
        "zh-CN": ("我们已冻结您 Paydesk 账户的转出功能",
                  "{name}，您好：\n\n您于 {when} 报告了非本人操作的活动。我们已停止所有转出和提现（仍可收款），"
                  "并退出了所有设备上的登录。\n\n接下来：客服团队会审核此事，联系您核实身份，并与您一起解除冻结。"
                  "如尚未重设密码，请立即重设。\n\nPaydesk"),
    },
    "payment_confirmation": {
        "en": ("Your code to pay {amount} {currency} to {payee}",
               "Hello {name},\n\nTo confirm paying {amount} {currency} to {payee} (with the fee of {fee}, "
               "{total} {currency} leave your wallet), enter this code:\n\n"
               "    {code}\n\nIt works for this payment only, for 5 minutes. Never tell it to anyone, including "
               "people who say they are from Paydesk. If you are not making this payment, ignore this message and "
               "change your password.\n\nPaydesk"),
        "zh-CN": ("向 {payee} 支付 {amount} {currency} 的验证码",
                  "{name}，您好：\n\n您正在向 {payee} 支付 {amount} {currency}（含手续费 {fee}，共从钱包扣除 "
                  "{total} {currency}），请输入验证码：\n\n    {code}\n\n"
                  "此验证码仅用于这笔付款，5 分钟内有效。请勿告诉任何人，包括自称 Paydesk 工作人员的人。"
                  "如果不是您本人在付款，请忽略本邮件并修改密码。\n\nPaydesk"),
    },
    "payment_confirmation_blocked": {
        "en": ("A payment of {amount} {currency} was blocked",
               "Hello {name},\n\nAt {when}, the confirmation of a payment of {amount} {currency} to {payee} got "
               "the wrong code five times, so we blocked it. No money moved.\n\nIf this was you, start the "
               "payment again. If not, someone may know your password: change it, and use \"This wasn't me\" on "
               "your activity page to freeze outgoing money.\n\nPaydesk"),
        "zh-CN": ("一笔 {amount} {currency} 的付款已被拦截",
                  "{name}，您好：\n\n{when}，一笔向 {payee} 支付 {amount} {currency} 的付款连续五次输错验证码，"
                  "我们已拦截，资金没有转出。\n\n如果是您本人，请重新发起付款；如果不是，可能有人知道了您的密码："
                  "请立即修改密码，并在账户活动页面点击“不是我本人”冻结转出。\n\nPaydesk"),
    },
    "new_country": {
        "en": ("Sign-in to your Paydesk account from a new country ({country})",
               "Hello {name},\n\nYour account was signed in to at {when} from {ip}, in a country we hadn't seen "
               "for you: {country}.\n\nIf this wasn't you, change your password and use \"This wasn't me\" on "
               "your activity page.\n\nPaydesk"),
        "zh-CN": ("您的 Paydesk 账户在新的国家或地区（{country}）登录",
                  "{name}，您好：\n\n您的账户于 {when} 在一个您从未登录过的国家或地区（{country}）登录，"
                  "来自 {ip}。\n\n如果不是您本人，请立即修改密码，并在账户活动页面点击“不是我本人”。\n\nPaydesk"),
    },
    "login_changed": {
        "en": ("Your Paydesk {what} was changed",
               "Hello {name},\n\nThe {what} you sign in with was changed at {when}, to {new}.\n\nIf this wasn't "
               "you, contact support at once: reply to this message or use the chat on our website.\n\nPaydesk"),
        "zh-CN": ("您的 Paydesk {what}已修改",
                  "{name}，您好：\n\n您用于登录的{what}已于 {when} 修改为 {new}。\n\n如果不是您本人操作，"
                  "请立即联系客服：回复本邮件，或使用网站上的在线客服。\n\nPaydesk"),
    },
    "destination_added": {
        "en": ("A withdrawal destination was added",
               "Hello {name},\n\nA withdrawal destination, “{label}” ({method}, {destination}), was added to your "
               "account at {when}.\n\nIf this wasn't you, remove it, change your password and use \"This wasn't "
               "me\" on your activity page.\n\nPaydesk"),
        "zh-CN": ("已添加提现账户",
                  "{name}，您好：\n\n您的账户于 {when} 添加了提现账户“{label}”（{method}，{destination}）。\n\n"
                  "如果不是您本人操作，请删除该账户、修改密码，并在账户活动页面点击“不是我本人”。\n\nPaydesk"),
    },
    "support_transcript": {
        "en": ("Your Paydesk chat", "Here is your conversation with Paydesk support:\n\n{transcript}\n\nPaydesk"),
        "zh-CN": ("您的 Paydesk 在线客服记录", "以下是您与 Paydesk 客服的对话记录：\n\n{transcript}\n\nPaydesk"),
    },
    "support_reply": {
        "en": ("Paydesk support replied",
               "Hello {name},\n\n{agent} from Paydesk support answered your chat message:\n\n{body}\n\n"
               "Open the chat on our website to continue, or reply to this email.\n\nPaydesk"),
        "zh-CN": ("Paydesk 客服回复了您",
                  "{name}您好：\n\nPaydesk 客服 {agent} 回复了您在线咨询的问题：\n\n{body}\n\n"
                  "您可以在网站上打开在线客服继续沟通，或直接回复本邮件。\n\nPaydesk"),
    },
}

NOTE_LINE = {"en": "\nTheir note: “{note}”", "zh-CN": "\n附言：“{note}”"}
OUTCOMES = {
    "en": {"succeeded": "has been paid out", "failed": "did not go through; the money is back in your wallet"},
    "zh-CN": {"succeeded": "已经汇出", "failed": "未能完成，款项已退回您的钱包"},
}
METHODS = {
    "en": {"bank_domestic": "bank transfer", "bank_international": "international bank transfer (SWIFT)",
           "card": "card", "btc": "Bitcoin", "eth": "Ethereum", "tron": "TRON"},
    "zh-CN": {"bank_domestic": "银行转账", "bank_international": "国际电汇（SWIFT）", "card": "银行卡",
              "btc": "比特币", "eth": "以太坊", "tron": "波场"},
}


def render(template: str, locale: str, context: dict[str, Any]) -> tuple[str, str]:
    texts = TEMPLATES[template]
    subject, body = texts.get(locale) or texts["en"]
    return subject.format(**context), body.format(**context)

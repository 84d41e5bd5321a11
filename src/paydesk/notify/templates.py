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

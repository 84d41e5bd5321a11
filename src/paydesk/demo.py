"""Demo data: a few ledger accounts with money moving between them. Running it twice adds nothing twice:
every account is found by (owner, code, currency) and every transfer has a fixed id."""

from __future__ import annotations

import uuid

from paydesk.container import Container
from paydesk.core.money import format_amount, parse_amount
from paydesk.ledger.domain import AccountFlags, Kind, Result, TransferRequest

_DEMO = uuid.UUID("0b7e4f52-3c1a-4d9e-8f20-6a5b4c3d2e1f")
USER = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(_DEMO, name)


def load_demo(container: Container) -> list[str]:
    ledger, currencies = container.ledger, container.settings.currencies
    usd, cny = currencies["USD"], currencies["CNY"]
    alice_usd = ledger.open_account("demo:alice", "wallet", "USD", USER)
    bob_usd = ledger.open_account("demo:bob", "wallet", "USD", USER)
    alice_cny = ledger.open_account("demo:alice", "wallet", "CNY", USER)
    card_usd = ledger.system_account("settlement:card", "USD")
    bank_cny = ledger.system_account("settlement:bank_domestic", "CNY")
    bank_usd = ledger.system_account("settlement:bank_domestic", "USD")
    fees_usd = ledger.system_account("fees", "USD")
    for currency in currencies:
        for code in ("fees", "fx_pool", "suspense"):
            ledger.system_account(code, currency)
    requests = [
        TransferRequest(_id("alice-topup-usd"), card_usd, alice_usd, parse_amount("500.00", usd), "USD", "topup"),
        TransferRequest(_id("alice-topup-cny"), bank_cny, alice_cny, parse_amount("3000.00", cny), "CNY", "topup"),
        TransferRequest(_id("alice-to-bob"), alice_usd, bob_usd, parse_amount("42.50", usd), "USD", "p2p",
                        linked=True, metadata={"note": "dinner"}),
        TransferRequest(_id("alice-to-bob-fee"), alice_usd, fees_usd, parse_amount("0.50", usd), "USD", "fee"),
        TransferRequest(_id("bob-withdraw-hold"), bob_usd, bank_usd, parse_amount("20.00", usd), "USD", "withdraw",
                        Kind.PENDING),
    ]
    results = ledger.post(requests)
    bad = [(r.id, res) for r, res in zip(requests, results, strict=True) if not res.succeeded]
    if bad:
        raise RuntimeError(f"demo transfers failed: {bad}")
    posted = sum(1 for r in results if r == Result.OK)
    alice = ledger.account(alice_usd)
    return [
        f"demo ledger ready: {posted} new transfers ({len(results) - posted} already there)",
        f"demo:alice holds {format_amount(alice.available_balance, usd)} USD",
        "open http://127.0.0.1:8000 (API docs: http://127.0.0.1:8000/api/docs)",
    ]

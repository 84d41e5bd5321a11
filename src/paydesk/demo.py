"""Demo data: three people with wallets in several currencies and three weeks of history. Running it again
adds nothing: people are found by email, and every operation has a fixed Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from paydesk.config import Settings
from paydesk.container import Container, build
from paydesk.core.clock import FrozenClock, SystemClock
from paydesk.fx.sources import RateSet
from paydesk.identity.domain import AccountExists
from paydesk.identity.service import IdentityService, User


@dataclass(frozen=True)
class DemoPerson:
    email: str
    password: str
    name: str
    locale: str
    phone: str | None = None


PEOPLE = (
    DemoPerson("li.wei@example.com", "chunjiang huayue ye 2026", "李伟", "zh-CN", "+8613800138000"),
    DemoPerson("alice@example.com", "correct horse battery staple", "Alice Martin", "en", "+447911123456"),
    DemoPerson("bob@example.com", "blue ocean morning tea", "Bob Chen", "en"),
    DemoPerson("ops@example.com", "quiet operator desk 2026", "Olga (operator)", "en"),
)
ETH_ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
IBAN = "DE89370400440532013000"

# (days ago, who, what, arguments); each step's Idempotency-Key is "demo-<index>".
STORY: tuple[tuple[int, int, str, dict[str, str]], ...] = (
    (21, 0, "deposit", {"currency": "CNY", "amount": "8000.00", "method": "bank_domestic"}),
    (21, 1, "deposit", {"currency": "USD", "amount": "1500.00", "method": "card"}),
    (20, 2, "deposit", {"currency": "USD", "amount": "600.00", "method": "bank_domestic"}),
    (19, 1, "send", {"to": "bob@example.com", "currency": "USD", "amount": "45.00", "note": "Concert tickets"}),
    (17, 0, "send", {"to": "alice@example.com", "currency": "CNY", "amount": "320.00", "note": "午饭 AA"}),
    (16, 1, "deposit", {"currency": "EUR", "amount": "900.00", "method": "bank_international"}),
    (14, 0, "deposit", {"currency": "BTC", "amount": "0.05000000", "method": "btc"}),
    (13, 2, "send", {"to": "+8613800138000", "currency": "USD", "amount": "120.00", "note": "Rent share"}),
    (11, 1, "withdraw", {"currency": "EUR", "amount": "250.00", "method": "bank_domestic", "iban": IBAN}),
    (9, 0, "deposit", {"currency": "USDT", "amount": "500.000000", "method": "tron"}),
    (8, 1, "send", {"to": "li.wei@example.com", "currency": "EUR", "amount": "60.00", "note": "Book club"}),
    (6, 2, "deposit", {"currency": "HKD", "amount": "2000.00", "method": "card"}),
    (5, 0, "withdraw", {"currency": "USDT", "amount": "150.000000", "method": "eth", "address": ETH_ADDRESS}),
    (3, 1, "send", {"to": "bob@example.com", "currency": "USD", "amount": "18.50", "note": "Coffee ☕"}),
    (2, 0, "send", {"to": "bob@example.com", "currency": "CNY", "amount": "88.00", "note": "生日快乐"}),
    (1, 2, "deposit", {"currency": "USD", "amount": "75.00", "method": "card"}),
)


OPERATOR = "ops@example.com"
# Illustrative prices (units per euro) so that the exchange works out of the box; operators import real ones.
DEMO_RATES = {"USD": Decimal("1.0812"), "GBP": Decimal("0.8391"), "CNY": Decimal("7.8240"), "HKD": Decimal("8.4130"),
              "JPY": Decimal("162.35"), "BTC": Decimal("0.00001052"), "ETH": Decimal("0.0003125"),
              "USDT": Decimal("1.0805")}


def load_demo(settings: Settings) -> list[str]:
    now = SystemClock().now()
    clock = FrozenClock(now - timedelta(days=22))
    app = build(settings, clock)
    articles = 0
    try:
        users = [_person(app.identity, p) for p in PEOPLE]
        fresh = [u for u in users if u is not None]
        if len(fresh) == len(PEOPLE):  # a first run: play the story
            for index, (days_ago, who, what, args) in enumerate(STORY):
                clock.set(now - timedelta(days=days_ago, hours=index % 5, minutes=7 * index))
                _play(app, fresh[who], f"demo-{index}", what, dict(args))
            clock.set(now)
        else:
            fresh = []
        app.identity.grant_role(OPERATOR, "operator")
        app.identity.grant_role(OPERATOR, "editor")  # the operator also edits the help center
        articles = app.help.import_starter()
        clock.set(now)
        app.fx.record(RateSet(dict(DEMO_RATES), now, "demo"))  # fresh rates on every run, so exchange works
        problems = app.ledger.check()
        if problems:
            raise RuntimeError(f"demo ledger check failed: {problems[0]}")
    finally:
        app.close()
    lines = ["Demo logins (email / password):"]
    lines += [f"  {p.email:24} {p.password:30} {p.name} ({p.locale})" for p in PEOPLE]
    lines.append("demo data loaded" if fresh else "demo data was already there; nothing added")
    lines.append(f"help center: {articles} starter articles added" if articles else "help center: up to date")
    return lines


def _person(identity: IdentityService, person: DemoPerson) -> User | None:
    try:
        return identity.register(email=person.email, phone=person.phone, password=person.password,
                                 display_name=person.name, locale=person.locale)
    except AccountExists:
        return None


def _play(app: Container, user: User, key: str, what: str, args: dict[str, str]) -> None:
    app.wallet.ensure_wallet(user.id)
    if what == "deposit":
        app.wallet.deposit(user, key, **args)
    elif what == "send":  # the demo's history is made for the people: no step-up prompts to answer
        app.wallet.send(user, key, to=args["to"], currency=args["currency"], amount=args["amount"],
                        note=args.get("note", ""), strong=True)
    else:
        destination: dict[str, str] = {k: args[k] for k in ("iban", "address") if k in args}
        app.wallet.withdraw(user, key, currency=args["currency"], amount=args["amount"], method=args["method"],
                            destination=destination, strong=True)

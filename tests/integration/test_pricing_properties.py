"""Quote == charge for random operations, on both backends; and every currency still balances afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from paydesk.config import Settings
from paydesk.container import Container, build
from paydesk.core.clock import FrozenClock
from paydesk.fees.domain import AmountBelowFee
from paydesk.fx.sources import RateSet
from paydesk.identity.service import User

IBANS = ("DE89370400440532013000", "FR1420041010050500013M02606")
OPERATIONS = st.one_of(
    st.tuples(st.just("p2p"), st.sampled_from(["USD", "EUR", "CNY"]), st.integers(1, 50_000), st.none(), st.none()),
    st.tuples(st.just("topup"), st.sampled_from(["USD", "EUR"]), st.integers(100, 500_000), st.just("card"),
              st.none()),
    st.tuples(st.just("withdraw"), st.sampled_from(["EUR", "USD"]), st.integers(1_000, 200_000),
              st.sampled_from(["bank_domestic", "bank_international"]), st.sampled_from(IBANS)),
    st.tuples(st.just("exchange"), st.sampled_from(["USD", "EUR", "CNY"]), st.integers(1, 500_000), st.none(),
              st.sampled_from(["USD", "EUR", "CNY", "JPY"])),
)


@pytest.fixture
def world(settings: Settings) -> Iterator[tuple[Container, User, User]]:
    app = build(settings.model_copy(update={"daily_limits": {}}), FrozenClock())
    app.fx.record(RateSet({"USD": Decimal("1.0812"), "CNY": Decimal("7.824"), "JPY": Decimal("162.35")},
                          app.clock.now(), "test"))
    people = []
    for name in ("ann", "ben"):
        user = app.identity.register(email=f"{name}@example.com", phone=None, password="a long passphrase 42",
                                     display_name=name, locale="en")
        for cur in ("USD", "EUR", "CNY"):
            app.wallet.deposit(user, f"fund-{cur}", currency=cur, amount="1000000", method="bank_international")
        people.append(user)
    yield app, people[0], people[1]
    app.close()


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=OPERATIONS, quoted=st.booleans())
def test_what_is_quoted_is_what_is_charged(world: tuple[Container, User, User], op: tuple[Any, ...],
                                           quoted: bool) -> None:
    app, ann, ben = world
    operation, currency, minor, method, extra = op
    cur = app.settings.currencies[currency]
    amount = f"{Decimal(minor).scaleb(-cur.scale):f}"
    if operation == "exchange" and extra == currency:
        return
    destination = ({"iban": extra, "bic": "DEUTDEFF"} if method == "bank_international" else {"iban": extra}) \
        if operation == "withdraw" else None
    key = str(uuid.uuid4())  # (Hypothesis replays examples: each run is a new request)
    try:
        quote = app.wallet.quote(ann, operation=operation, currency=currency, amount=amount, method=method,
                                 to_currency=extra if operation == "exchange" else None, destination=destination)
    except AmountBelowFee:  # too small for its fee: the operation itself must say the same, and move nothing
        with pytest.raises(AmountBelowFee):
            _run(app, ann, ben, op, amount, destination, None, key)
        return
    tx = _run(app, ann, ben, op, amount, destination, quote["quote_id"] if quoted else None, key)
    assert (tx["fee"], tx["fee_rule"]) == (quote["fee"], quote["fee_rule"])
    if operation == "exchange":
        assert (tx["to_amount"], tx["rate"]) == (quote["credit"], quote["rate"])
    assert not app.ledger.check()


def _run(app: Container, ann: User, ben: User, op: tuple[Any, ...], amount: str,
         destination: dict[str, str] | None, qid: str | None, key: str) -> dict[str, Any]:
    operation, currency, _, method, extra = op
    if operation == "p2p":
        _, tx = app.wallet.send(ann, key, to=ben.email, currency=currency, amount=amount, quote_id=qid, strong=True)
    elif operation == "topup":
        _, tx = app.wallet.deposit(ann, key, currency=currency, amount=amount, method="card", quote_id=qid)
    elif operation == "withdraw":
        _, tx = app.wallet.withdraw(ann, key, currency=currency, amount=amount, method=method,
                                    destination=destination, quote_id=qid, strong=True)
    else:
        _, tx = app.wallet.exchange(ann, key, from_currency=currency, to_currency=extra, amount=amount, quote_id=qid)
    return tx

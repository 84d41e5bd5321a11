"""A withdrawal the rail never settles: its hold runs out, the money comes back, the user sees it failed."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from paydesk.config import Settings
from paydesk.container import build
from paydesk.core.clock import FrozenClock


def test_an_unsettled_withdrawal_fails_when_its_hold_expires(settings: Settings) -> None:
    clock = FrozenClock()
    app = build(settings.model_copy(update={"sandbox_delayed": True}), clock)
    try:
        user = app.identity.register(email="eve@example.com", phone=None, password="a long enough passphrase",
                                     display_name="Eve", locale="en")
        app.wallet.providers["bank_international"].delayed = False  # type: ignore[attr-defined]
        app.wallet.deposit(user, "top", currency="EUR", amount="80", method="bank_international")
        status, body = app.wallet.withdraw(user, "out", currency="EUR", amount="30", method="bank_domestic",
                                           destination={"iban": "DE89370400440532013000"})  # within the exemption
        assert status == 201 and body["status"] == "pending"
        assert app.wallet.balances(user.id)["balances"][0]["available"] == "49.00"  # 30 and its 1.00 fee held
        clock.advance(timedelta(days=4))
        assert app.wallet.fail_expired_withdrawals() == 0
        clock.advance(timedelta(days=1, seconds=1))
        assert app.ledger.expire_pending() == 2  # the amount and the fee, held together
        assert app.wallet.fail_expired_withdrawals() == 1
        tx = app.history.one(user.id, UUID(body["id"]))
        assert tx["status"] == "failed" and tx["failure_code"] == "hold_expired"
        assert app.wallet.balances(user.id)["balances"][0] == {
            "currency": "EUR", "available": "80.00", "pending": "0.00", "total": "80.00"}
        assert not app.ledger.check()
    finally:
        app.close()

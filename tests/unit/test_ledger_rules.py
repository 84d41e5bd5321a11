"""The posting rules, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from paydesk.ledger.domain import (
    Account,
    AccountFlags,
    Balance,
    Kind,
    Known,
    Result,
    TransferRequest,
)
from paydesk.ledger.posting import apply_batch, chains

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def make_known(*accounts: Account) -> Known:
    return Known(accounts={a.id: a for a in accounts})


def account(currency: str = "USD", flags: AccountFlags = USER, credits: int = 0) -> Account:
    return Account(uuid.uuid4(), currency, flags, Balance(credits_posted=credits))


def direct(debit: Account, credit: Account, amount: int, **kw: object) -> TransferRequest:
    return TransferRequest(uuid.uuid4(), debit.id, credit.id, amount, debit.currency, "test", **kw)  # type: ignore[arg-type]


def test_a_direct_transfer_moves_money_and_records_history() -> None:
    alice, bob = account(credits=1000), account()
    known = make_known(alice, bob)
    out = apply_batch([direct(alice, bob, 300)], known, NOW)
    assert out.results == [Result.OK]
    assert alice.balance.debits_posted == 300 and bob.balance.credits_posted == 300
    [t] = out.transfers
    assert t.debit_after is not None and t.credit_after is not None
    assert (t.debit_after.entry_seq, t.debit_after.debits_posted, t.debit_after.credits_posted) == (1, 300, 1000)
    assert (t.credit_after.entry_seq, t.credit_after.credits_posted) == (1, 300)


def test_cannot_send_more_than_available_balance() -> None:
    alice, bob = account(credits=100), account()
    out = apply_batch([direct(alice, bob, 101)], make_known(alice, bob), NOW)
    assert out.results == [Result.EXCEEDS_CREDITS]
    assert alice.balance.debits_posted == 0 and not out.transfers


def test_an_account_limited_the_other_way_cannot_be_credited_past_its_debits() -> None:
    liability, other = account(flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS), account(flags=AccountFlags.NONE)
    out = apply_batch([direct(other, liability, 5)], make_known(liability, other), NOW)
    assert out.results == [Result.EXCEEDS_DEBITS]


def test_bad_shapes_get_their_own_codes() -> None:
    a, b, e = account(credits=100), account(), account("EUR")
    known = make_known(a, b, e)
    cases = [
        (TransferRequest(uuid.UUID(int=0), a.id, b.id, 1, "USD"), Result.ID_MUST_NOT_BE_ZERO),
        (direct(a, a, 1), Result.ACCOUNTS_MUST_BE_DIFFERENT),
        (direct(a, b, 0), Result.AMOUNT_MUST_NOT_BE_ZERO),
        (direct(a, b, -5), Result.AMOUNT_MUST_BE_POSITIVE),
        (direct(a, e, 1), Result.CURRENCY_MISMATCH),
        (TransferRequest(uuid.uuid4(), a.id, b.id, 1, "EUR"), Result.CURRENCY_MISMATCH),
        (TransferRequest(uuid.uuid4(), a.id, uuid.uuid4(), 1, "USD"), Result.ACCOUNT_NOT_FOUND),
        (direct(a, b, 1, timeout_s=10), Result.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER),
        (direct(a, b, 1, pending_id=uuid.uuid4()), Result.PENDING_ID_MUST_BE_ZERO),
        (TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.POST), Result.PENDING_ID_REQUIRED),
        (TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.EXPIRE, pending_id=uuid.uuid4()),
         Result.KIND_RESERVED_FOR_ENGINE),
        (direct(a, b, 2**63), Result.OVERFLOWS),
    ]
    out = apply_batch([c[0] for c in cases], known, NOW)
    assert out.results == [c[1] for c in cases]
    assert a.balance.debits_posted == 0


def test_a_linked_chain_fails_as_a_whole() -> None:
    alice, bob, fees = account(credits=100), account(), account(flags=AccountFlags.NONE)
    known = make_known(alice, bob, fees)
    send = direct(alice, bob, 95, linked=True)
    fee = direct(alice, fees, 10)  # 95 + 10 > 100
    out = apply_batch([send, fee], known, NOW)
    assert out.results == [Result.LINKED_EVENT_FAILED, Result.EXCEEDS_CREDITS]
    assert alice.balance.debits_posted == 0 and bob.balance.credits_posted == 0
    assert not out.transfers and not out.touched


def test_a_failed_chain_does_not_affect_the_next_one() -> None:
    alice, bob = account(credits=100), account()
    known = make_known(alice, bob)
    out = apply_batch([direct(alice, bob, 60, linked=True), direct(alice, bob, 60), direct(alice, bob, 70)], known, NOW)
    assert out.results == [Result.LINKED_EVENT_FAILED, Result.EXCEEDS_CREDITS, Result.OK]
    assert alice.balance.debits_posted == 70


def test_an_open_chain_at_the_end_of_a_batch_fails() -> None:
    alice, bob = account(credits=100), account()
    out = apply_batch([direct(alice, bob, 1), direct(alice, bob, 1, linked=True)], make_known(alice, bob), NOW)
    assert out.results == [Result.OK, Result.LINKED_EVENT_CHAIN_OPEN]
    assert chains([direct(alice, bob, 1, linked=True), direct(alice, bob, 1)]) == [range(0, 2)]


def test_the_same_id_twice_is_posted_once() -> None:
    alice, bob = account(credits=100), account()
    known = make_known(alice, bob)
    t = direct(alice, bob, 10)
    other = TransferRequest(t.id, alice.id, bob.id, 11, "USD", "test")
    out = apply_batch([t, t, other], known, NOW)
    assert out.results == [Result.OK, Result.EXISTS, Result.EXISTS_WITH_DIFFERENT_FIELDS]
    assert alice.balance.debits_posted == 10 and len(out.transfers) == 1


def test_a_failed_id_keeps_its_first_result_even_when_it_could_now_succeed() -> None:
    alice, bob, bank = account(credits=5), account(), account(flags=AccountFlags.NONE)
    known = make_known(alice, bob, bank)
    t = direct(alice, bob, 10)
    first = apply_batch([t], known, NOW)
    assert first.results == [Result.EXCEEDS_CREDITS] and len(first.failures) == 1
    apply_batch([direct(bank, alice, 100)], known, NOW)
    again = apply_batch([t], known, NOW)
    assert again.results == [Result.EXCEEDS_CREDITS] and not again.failures
    assert alice.balance.debits_posted == 0


def test_pending_holds_count_against_the_balance_and_post_partially() -> None:
    alice, bank = account(credits=100), account(flags=AccountFlags.NONE)
    known = make_known(alice, bank)
    hold = direct(alice, bank, 80, kind=Kind.PENDING, timeout_s=60)
    assert apply_batch([hold], known, NOW).results == [Result.OK]
    assert alice.balance.debits_pending == 80
    assert apply_batch([direct(alice, bank, 30)], known, NOW).results == [Result.EXCEEDS_CREDITS]
    post = TransferRequest(uuid.uuid4(), None, None, 50, None, kind=Kind.POST, pending_id=hold.id)
    out = apply_batch([post], known, NOW + timedelta(seconds=10))
    assert out.results == [Result.OK]
    assert (alice.balance.debits_pending, alice.balance.debits_posted) == (0, 50)
    again = TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.VOID, pending_id=hold.id)
    assert apply_batch([again], known, NOW).results == [Result.PENDING_TRANSFER_ALREADY_POSTED]


def test_post_and_void_check_the_pending_transfer() -> None:
    alice, bank, other = account(credits=100), account(flags=AccountFlags.NONE), account(flags=AccountFlags.NONE)
    known = make_known(alice, bank, other)
    hold = direct(alice, bank, 40, kind=Kind.PENDING, timeout_s=60)
    plain = direct(alice, bank, 1)
    apply_batch([hold, plain], known, NOW)
    cases = [
        (TransferRequest(uuid.uuid4(), None, None, 41, None, kind=Kind.POST, pending_id=hold.id),
         Result.EXCEEDS_PENDING_TRANSFER_AMOUNT),
        (TransferRequest(uuid.uuid4(), None, None, 39, None, kind=Kind.VOID, pending_id=hold.id),
         Result.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT),
        (TransferRequest(uuid.uuid4(), alice.id, other.id, None, None, kind=Kind.POST, pending_id=hold.id),
         Result.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS),
        (TransferRequest(uuid.uuid4(), None, None, None, "EUR", kind=Kind.POST, pending_id=hold.id),
         Result.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY),
        (TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.POST, pending_id=uuid.uuid4()),
         Result.PENDING_TRANSFER_NOT_FOUND),
        (TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.VOID, pending_id=plain.id),
         Result.PENDING_TRANSFER_NOT_PENDING),
    ]
    out = apply_batch([c[0] for c in cases], known, NOW)
    assert out.results == [c[1] for c in cases]
    void = TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.VOID, pending_id=hold.id)
    assert apply_batch([void], known, NOW).results == [Result.OK]
    assert alice.balance.debits_pending == 0 and alice.balance.debits_posted == 1


def test_an_expired_hold_can_only_be_expired() -> None:
    alice, bank = account(credits=100), account(flags=AccountFlags.NONE)
    known = make_known(alice, bank)
    hold = direct(alice, bank, 40, kind=Kind.PENDING, timeout_s=60)
    apply_batch([hold], known, NOW)
    expire = TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.EXPIRE, pending_id=hold.id)
    assert apply_batch([expire], known, NOW + timedelta(seconds=59), engine=True).results == [
        Result.PENDING_TRANSFER_NOT_EXPIRED]
    post = TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.POST, pending_id=hold.id)
    later = NOW + timedelta(seconds=60)
    assert apply_batch([post], known, later).results == [Result.PENDING_TRANSFER_EXPIRED]
    assert apply_batch([expire], known, later, engine=True).results == [Result.OK]
    assert alice.balance.debits_pending == 0 and alice.balance.debits_posted == 0
    void = TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.VOID, pending_id=hold.id)
    assert apply_batch([void], known, later).results == [Result.PENDING_TRANSFER_EXPIRED]


def test_a_hold_and_its_post_can_share_a_chain() -> None:
    alice, bank = account(credits=100), account(flags=AccountFlags.NONE)
    known = make_known(alice, bank)
    hold = direct(alice, bank, 40, kind=Kind.PENDING, linked=True)
    post = TransferRequest(uuid.uuid4(), None, None, None, None, kind=Kind.POST, pending_id=hold.id)
    assert apply_batch([hold, post], known, NOW).results == [Result.OK, Result.OK]
    assert alice.balance.debits_posted == 40 and alice.balance.debits_pending == 0


def test_fields_the_database_would_refuse_fail_alone_with_their_own_codes() -> None:
    alice, bob = account(credits=100), account()
    known = make_known(alice, bob)
    cases = [
        (direct(alice, bob, 1, kind=Kind.PENDING, timeout_s=2**31), Result.TIMEOUT_TOO_LARGE),
        (TransferRequest(uuid.uuid4(), alice.id, bob.id, 1, "USD", "x" * 65), Result.CODE_INVALID),
        (TransferRequest(uuid.uuid4(), alice.id, bob.id, 1, "USD", "p2p\x00"), Result.CODE_INVALID),
        (direct(alice, bob, 1, metadata={"note": "a\x00b"}), Result.METADATA_INVALID),
        (direct(alice, bob, 1, metadata={"when": NOW}), Result.METADATA_INVALID),
        (direct(alice, bob, 1, metadata={"n": float("nan")}), Result.METADATA_INVALID),
        (direct(alice, bob, 1, metadata={"note": "x" * 5000}), Result.METADATA_INVALID),
        (direct(alice, bob, 7, metadata={"note": "晚饭"}), Result.OK),
    ]
    out = apply_batch([c[0] for c in cases], known, NOW)
    assert out.results == [c[1] for c in cases]
    assert alice.balance.debits_posted == 7
    assert len(out.failures) == 7  # remembered: a retry answers the same

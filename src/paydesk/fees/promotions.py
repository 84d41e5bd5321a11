"""Promotions: lower fees for a while, automatically or with a code.

A promotion has a time window, eligibility (an operation, currency or method; people who joined in the last
N days; a person's first N operations of that kind), an effect (a percentage off the fee — 100 waives it —
capped per currency) and usage limits (per person, in total). Redeeming is atomic: the total is counted by
one conditional UPDATE and a person's uses under their row lock, so a single-use code used by 64 requests at
once is redeemed exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from paydesk.core.clock import Clock, in_range
from paydesk.core.db import INT32_MAX, Base, Database, UTCDateTime, UUIDType
from paydesk.core.errors import Conflict, DomainError
from paydesk.core.ids import uuid7
from paydesk.core.money import Currencies, Currency, format_amount, parse_amount
from paydesk.fees.domain import OPERATIONS

MAX_COUNT = INT32_MAX  # limits and counts are Integer columns
MAX_NEW_USERS_DAYS = 36_500  # "joined in the last N days": a century at most


class PromotionInvalid(DomainError):
    code = "promotion_invalid"
    status = 422
    title = "This promotion code doesn't apply here"


class PromotionUsedUp(Conflict):
    code = "promotion_used_up"
    title = "This promotion has been used up"


class PromotionRow(Base):
    __tablename__ = "promotions"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    code: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)  # None: automatic
    label: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    operation: Mapped[str | None] = mapped_column(String(12), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(10), nullable=True)
    method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    new_users_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    percent_off: Mapped[str] = mapped_column(String(12))
    cap: Mapped[dict[str, int]] = mapped_column(JSON)  # per currency, minor units
    per_user_limit: Mapped[int] = mapped_column(Integer)
    total_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RedemptionRow(Base):
    __tablename__ = "promotion_redemptions"

    id: Mapped[UUID] = mapped_column(UUIDType(), primary_key=True)
    promotion_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("promotions.id"))
    user_id: Mapped[UUID] = mapped_column(UUIDType(), ForeignKey("users.id"))
    discount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(10))
    transaction_id: Mapped[UUID | None] = mapped_column(UUIDType(), nullable=True)  # released if it fails
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_promotion_redemptions_promotion_user", "promotion_id", "user_id"),)


@dataclass(frozen=True, slots=True)
class Discount:
    promotion_id: UUID
    amount: int  # minor units off the fee
    label: dict[str, str]


def discount_for(row: PromotionRow, currency: Currency, fee: int) -> int:
    off = (Decimal(fee) * Decimal(row.percent_off) / 100).to_integral_value(rounding=ROUND_FLOOR)
    amount = int(off)
    if currency.code in row.cap:
        amount = min(amount, int(row.cap[currency.code]))
    return max(0, min(amount, fee))


class Promotions:
    def __init__(self, db: Database, clock: Clock, currencies: Currencies, methods: list[str]) -> None:
        self.db, self.clock, self.currencies, self.methods = db, clock, currencies, methods

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        """An operator's new promotion, checked field by field."""
        row = self._parse(data)
        with self.db.uow() as uow:
            if row.code and uow.session.scalars(select(PromotionRow).where(PromotionRow.code == row.code)).first():
                raise Conflict(f"the code {row.code} is taken")
            uow.session.add(row)
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict(f"the code {row.code} is taken") from None
            return self.view(row)

    def list(self) -> list[dict[str, Any]]:
        with self.db.reader() as uow:
            return [self.view(r) for r in uow.session.scalars(select(PromotionRow).order_by(PromotionRow.created_at))]

    def best(self, user_id: UUID, user_since: datetime, operation: str, currency: Currency, method: str | None,
             fee: int, code: str | None) -> Discount | None:
        """The discount for this operation: the code's (refused with the reason when it doesn't apply), else
        the largest automatic one the person is eligible for."""
        if fee <= 0 and not code:
            return None
        now = self.clock.now()
        with self.db.reader() as uow:
            s = uow.session
            if code:
                row = s.scalars(select(PromotionRow).where(PromotionRow.code == code.strip().upper())).first()
                if row is None:
                    raise PromotionInvalid("no such promotion code")
                reason = self._ineligible(s, row, user_id, user_since, operation, currency, method, now)
                if reason:
                    raise PromotionInvalid(reason)
                amount = discount_for(row, currency, fee)
                return Discount(row.id, amount, dict(row.label)) if amount > 0 else None  # nothing to take off
            found: Discount | None = None
            for row in s.scalars(select(PromotionRow).where(PromotionRow.code.is_(None), PromotionRow.active)):
                if self._ineligible(s, row, user_id, user_since, operation, currency, method, now):
                    continue
                amount = discount_for(row, currency, fee)
                if amount > 0 and (found is None or amount > found.amount):
                    found = Discount(row.id, amount, dict(row.label))
            return found

    def redeem_in(self, s: Session, promotion_id: UUID, user_id: UUID, operation: str, currency: str,
                  discount: int, transaction_id: UUID) -> str | None:
        """Count one use in the operation's transaction (the caller holds the person's row lock); None when
        redeemed, else why not (the limits are checked again here: pricing ran before the lock)."""
        row = s.get(PromotionRow, promotion_id)
        assert row is not None  # noqa: S101 - priced from it a moment ago; promotions are never deleted
        mine = s.scalar(select(func.count()).select_from(RedemptionRow).where(
            RedemptionRow.promotion_id == promotion_id, RedemptionRow.user_id == user_id)) or 0
        if mine >= row.per_user_limit:
            return "you have used this promotion as often as it allows"
        if row.first_n is not None and self._operations_so_far(s, user_id, operation) >= row.first_n:
            return f"this promotion is for your first {row.first_n}"
        counted = s.execute(update(PromotionRow).where(
            PromotionRow.id == promotion_id,
            (PromotionRow.total_limit.is_(None)) | (PromotionRow.used < PromotionRow.total_limit),
        ).values(used=PromotionRow.used + 1))
        if counted.rowcount != 1:  # type: ignore[attr-defined]
            return "this promotion has been used up"
        s.add(RedemptionRow(id=uuid7(), promotion_id=promotion_id, user_id=user_id, discount=discount,
                            currency=currency, transaction_id=transaction_id, created_at=self.clock.now()))
        return None

    def release_in(self, s: Session, transaction_id: UUID) -> None:
        """The operation failed (a declined card, a withdrawal the rail refused or never paid): give the use
        back."""
        for row in s.scalars(select(RedemptionRow).where(RedemptionRow.transaction_id == transaction_id)):
            s.execute(update(PromotionRow).where(PromotionRow.id == row.promotion_id, PromotionRow.used > 0)
                      .values(used=PromotionRow.used - 1))
            s.delete(row)

    def _ineligible(self, s: Session, row: PromotionRow, user_id: UUID, user_since: datetime, operation: str,
                    currency: Currency, method: str | None, now: datetime) -> str | None:
        if not row.active or not row.starts_at <= now < row.ends_at:
            return "this promotion isn't running now"
        if row.operation and row.operation != operation:
            return f"this promotion is for {row.operation}"
        if row.currency and row.currency != currency.code:
            return f"this promotion is for {row.currency}"
        if row.method and row.method != method:
            return f"this promotion is for {row.method}"
        if row.new_users_days is not None and now - user_since > timedelta(days=row.new_users_days):
            return f"this promotion is for people who joined in the last {row.new_users_days} days"
        if row.total_limit is not None and row.used >= row.total_limit:
            return "this promotion has been used up"
        mine = s.scalar(select(func.count()).select_from(RedemptionRow).where(
            RedemptionRow.promotion_id == row.id, RedemptionRow.user_id == user_id)) or 0
        if mine >= row.per_user_limit:
            return "you have used this promotion as often as it allows"
        if row.first_n is not None and self._operations_so_far(s, user_id, operation) >= row.first_n:
            return f"this promotion is for your first {row.first_n}"
        return None

    @staticmethod
    def _operations_so_far(s: Session, user_id: UUID, operation: str) -> int:
        from paydesk.wallet.store import TransactionRow  # the count of a person's operations of a kind

        kind = {"p2p": "send", "topup": "topup", "withdraw": "withdrawal", "exchange": "exchange"}[operation]
        return int(s.scalar(select(func.count()).select_from(TransactionRow).where(
            TransactionRow.user_id == user_id, TransactionRow.type == kind, TransactionRow.status != "failed")) or 0)

    def _parse(self, data: dict[str, Any]) -> PromotionRow:
        def bad(reason: str) -> PromotionInvalid:
            return PromotionInvalid(f"the promotion is not valid: {reason}")

        code = data.get("code")
        if code is not None and (not isinstance(code, str) or not code.strip().isalnum() or len(code) > 40):
            raise bad("`code` is letters and digits, at most 40")
        try:
            starts, ends = datetime.fromisoformat(str(data["starts_at"])), datetime.fromisoformat(str(data["ends_at"]))
        except (KeyError, ValueError):
            raise bad("`starts_at` and `ends_at` are ISO times with a time zone") from None
        if starts.tzinfo is None or ends.tzinfo is None or ends <= starts:
            raise bad("`starts_at` and `ends_at` need a time zone, and the end comes after the start")
        if not (in_range(starts) and in_range(ends)):
            raise bad("`starts_at` and `ends_at` are in the years 2000 to 2999")
        operation, currency, method = data.get("operation"), data.get("currency"), data.get("method")
        if not all(value is None or isinstance(value, str) for value in (operation, currency, method)):
            raise bad("`operation`, `currency` and `method` are texts")
        if operation is not None and operation not in OPERATIONS:
            raise bad(f"`operation` is one of {', '.join(OPERATIONS)}")
        if currency is not None and currency not in self.currencies:
            raise bad("unknown `currency`")
        if method is not None and method not in self.methods:
            raise bad("unknown `method`")
        try:
            percent = Decimal(str(data.get("percent_off", "100")))
        except InvalidOperation:
            raise bad("`percent_off` is a number") from None
        if not percent.is_finite() or not 0 < percent <= 100:
            raise bad("`percent_off` is more than 0 and at most 100")
        cap: dict[str, int] = {}
        raw_cap = data.get("cap") or {}
        if not isinstance(raw_cap, dict):
            raise bad("`cap` maps currency codes to amounts")
        for cur, text in raw_cap.items():
            if not isinstance(cur, str) or cur not in self.currencies:
                raise bad(f"`cap` names an unknown currency {cur!r}")
            cap[cur] = parse_amount(str(text), self.currencies[cur])
        ints: dict[str, int | None] = {}
        for name, default in (("new_users_days", None), ("first_n", None), ("per_user_limit", 1),
                              ("total_limit", None)):
            value = data.get(name, default)
            most = MAX_NEW_USERS_DAYS if name == "new_users_days" else MAX_COUNT
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most):
                raise bad(f"`{name}` is a whole number from 1 to {most}")
            ints[name] = value
        label = data.get("label") or {}
        if not isinstance(label, dict) or not all(isinstance(v, str) and len(v) <= 120 for v in label.values()):
            raise bad("`label` maps languages to short texts")
        per_user = ints["per_user_limit"]
        assert per_user is not None  # noqa: S101 - defaulted above
        return PromotionRow(
            id=uuid7(), code=code.strip().upper() if code else None, label=label, starts_at=starts, ends_at=ends,
            operation=operation, currency=currency, method=method, new_users_days=ints["new_users_days"],
            first_n=ints["first_n"], percent_off=str(percent), cap=cap, per_user_limit=per_user,
            total_limit=ints["total_limit"], used=0, active=True, created_at=self.clock.now(),
        )

    def view(self, row: PromotionRow) -> dict[str, Any]:
        return {"id": str(row.id), "code": row.code, "label": row.label, "starts_at": row.starts_at.isoformat(),
                "ends_at": row.ends_at.isoformat(), "operation": row.operation, "currency": row.currency,
                "method": row.method, "new_users_days": row.new_users_days, "first_n": row.first_n,
                "percent_off": row.percent_off,
                "cap": {c: format_amount(v, self.currencies[c]) for c, v in row.cap.items()},
                "per_user_limit": row.per_user_limit, "total_limit": row.total_limit, "used": row.used,
                "active": row.active}

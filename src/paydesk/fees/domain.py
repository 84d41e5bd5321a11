"""Fee rules and schedules (no I/O).

A schedule is a numbered version of an ordered list of rules with the moment it takes effect. For an
operation the first rule that matches decides the fee; a schedule ends with catch-all rules so that every
operation has an answer. A rule matches an operation (`p2p`, `topup`, `withdraw`, `exchange`), and optionally a
method (rail), currencies, a region (`domestic` / `international`) and an amount tier; it charges

    fee = clamp(round(amount × percent / 100) + fixed, min, max) + network fee

in the currency's minor units. The percentage is rounded to the minor unit by the rule's `rounding` (`up`,
in the house's favour, unless it says `half_up` or `down`); money fields are per currency (`{"USD": "0.30",
"CNY": "2"}`) and a currency missing from one counts as 0 (no minimum, no maximum). A fee above the amount
refuses the operation (`amount_below_fee`) unless the rule says `may_exceed_amount`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from paydesk.core.errors import DomainError
from paydesk.core.money import Currencies, Currency, format_amount, parse_amount

OPERATIONS = ("p2p", "topup", "withdraw", "exchange")
REGIONS = ("domestic", "international")
ROUNDINGS = {"half_up": ROUND_HALF_UP, "up": ROUND_CEILING, "down": ROUND_FLOOR}
MONEY_FIELDS = ("fixed", "min", "max", "network_fee", "amount_from", "amount_to")


class InvalidSchedule(DomainError):
    code = "invalid_schedule"
    status = 422
    title = "The fee schedule is not valid"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    operation: str
    method: str | None = None
    currencies: frozenset[str] | None = None
    region: str | None = None
    percent: Decimal = Decimal(0)
    rounding: str = "up"
    may_exceed_amount: bool = False
    # per currency, in minor units
    fixed: Mapping[str, int] = field(default_factory=dict)
    min: Mapping[str, int] = field(default_factory=dict)
    max: Mapping[str, int] = field(default_factory=dict)
    network_fee: Mapping[str, int] = field(default_factory=dict)
    amount_from: Mapping[str, int] = field(default_factory=dict)  # the tier, inclusive
    amount_to: Mapping[str, int] = field(default_factory=dict)  # the tier, exclusive
    label: Mapping[str, str] = field(default_factory=dict)  # {"en": …, "zh-CN": …}

    def matches(self, operation: str, currency: str, amount: int, method: str | None, region: str | None) -> bool:
        if self.operation != operation:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.currencies is not None and currency not in self.currencies:
            return False
        if self.region is not None and self.region != region:
            return False
        if self.amount_from or self.amount_to:  # a tier applies to the currencies it names
            if currency not in self.amount_from and currency not in self.amount_to:
                return False
            if amount < self.amount_from.get(currency, 0):
                return False
            if currency in self.amount_to and amount >= self.amount_to[currency]:
                return False
        return True

    def fee(self, currency: Currency, amount: int) -> int:
        """The fee in minor units for `amount` minor units of `currency`."""
        code = currency.code
        variable = (Decimal(amount) * self.percent / 100).to_integral_value(rounding=ROUNDINGS[self.rounding])
        fee = int(variable) + self.fixed.get(code, 0)
        fee = max(fee, self.min.get(code, 0))
        if code in self.max:
            fee = min(fee, self.max[code])
        fee += self.network_fee.get(code, 0)
        return max(fee, 0)

    def to_json(self, currencies: Currencies) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "operation": self.operation}
        if self.method:
            out["method"] = self.method
        if self.currencies is not None:
            out["currencies"] = sorted(self.currencies)
        if self.region:
            out["region"] = self.region
        if self.percent:
            out["percent"] = str(self.percent)
        if self.rounding != "up":
            out["rounding"] = self.rounding
        if self.may_exceed_amount:
            out["may_exceed_amount"] = True
        for name in MONEY_FIELDS:
            values: Mapping[str, int] = getattr(self, name)
            if values:
                out[name] = {code: format_amount(minor, currencies[code]) for code, minor in sorted(values.items())}
        if self.label:
            out["label"] = dict(self.label)
        return out


@dataclass(frozen=True, slots=True)
class Schedule:
    version: int
    effective_at: datetime
    rules: tuple[Rule, ...]
    note: str = ""

    def rule_for(self, operation: str, currency: str, amount: int, method: str | None,
                 region: str | None) -> Rule | None:
        return next((r for r in self.rules if r.matches(operation, currency, amount, method, region)), None)


@dataclass(frozen=True, slots=True)
class Charge:
    """A fee and where it came from: `rule` is "<schedule version>:<rule id>"."""

    fee: int = 0
    rule: str | None = None
    version: int | None = None


def charge(schedule: Schedule, currency: Currency, operation: str, amount: int, method: str | None = None,
           region: str | None = None) -> Charge:
    """The fee for an operation; an amount smaller than its fee is refused (`amount_below_fee`) unless the rule
    allows it — the house never quietly pays a minimum or a network fee."""
    rule = schedule.rule_for(operation, currency.code, amount, method, region)
    if rule is None:
        return Charge(0, None, schedule.version)
    fee = rule.fee(currency, amount)
    if fee > amount and not rule.may_exceed_amount:
        shown = format_amount(fee, currency)
        raise AmountBelowFee(f"the fee for this is {shown} {currency.code}, more than the amount", fee=shown)
    return Charge(fee, f"{schedule.version}:{rule.id}", schedule.version)


class AmountBelowFee(DomainError):
    code = "amount_below_fee"
    status = 422
    title = "The amount doesn't cover the fee"


def parse_rules(raw: object, currencies: Currencies, methods: Sequence[str]) -> tuple[Rule, ...]:
    """Rules from their JSON form, refused with the rule's position and the reason when anything is off."""
    if not isinstance(raw, list) or not raw:
        raise InvalidSchedule("a schedule is a non-empty list of rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"rule {i + 1}"
        if not isinstance(item, dict):
            raise InvalidSchedule(f"{where} is not an object", rule=i + 1)
        unknown = set(item) - {"id", "operation", "method", "currencies", "region", "percent", "rounding",
                               "may_exceed_amount", "label", *MONEY_FIELDS}
        if unknown:
            raise InvalidSchedule(f"{where}: unknown fields {sorted(unknown)}", rule=i + 1)
        rule_id = item.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip() or len(rule_id) > 60 or rule_id in seen:
            raise InvalidSchedule(f"{where}: `id` must be a unique name of at most 60 characters", rule=i + 1)
        seen.add(rule_id)
        rules.append(_parse_rule(item, rule_id, where, i + 1, currencies, methods))
    return tuple(rules)


def _parse_rule(item: dict[str, Any], rule_id: str, where: str, n: int, currencies: Currencies,
                methods: Sequence[str]) -> Rule:
    def bad(reason: str) -> InvalidSchedule:
        return InvalidSchedule(f"{where} ({rule_id}): {reason}", rule=n)

    if not all(isinstance(item.get(name), str | None) for name in ("operation", "method", "region", "rounding")):
        raise bad("`operation`, `method`, `region` and `rounding` are texts")
    operation = item.get("operation")
    if operation not in OPERATIONS:
        raise bad(f"`operation` must be one of {', '.join(OPERATIONS)}")
    method = item.get("method")
    if method is not None and method not in methods:
        raise bad(f"unknown method {method!r}")
    region = item.get("region")
    if region is not None and region not in REGIONS:
        raise bad("`region` must be domestic or international")
    codes = item.get("currencies")
    if codes is not None:
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c in currencies
                                                               for c in codes):
            raise bad("`currencies` must list supported currency codes")
    try:
        percent = Decimal(str(item.get("percent", "0")))
    except InvalidOperation:
        raise bad("`percent` is not a number") from None
    if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(100):
        raise bad("`percent` must be between 0 and 100")
    rounding = item.get("rounding", "up")
    if rounding not in ROUNDINGS:
        raise bad("`rounding` must be half_up, up or down")
    money: dict[str, dict[str, int]] = {}
    for name in MONEY_FIELDS:
        values = item.get(name, {})
        if not isinstance(values, dict):
            raise bad(f"`{name}` must map currency codes to amounts")
        money[name] = {}
        for code, text in values.items():
            if code not in currencies:
                raise bad(f"`{name}` names an unsupported currency {code!r}")
            try:
                money[name][code] = parse_amount(str(text), currencies[code])
            except DomainError as exc:
                raise bad(f"`{name}.{code}`: {exc.detail}") from None
    for code, low in money["min"].items():
        if code in money["max"] and money["max"][code] < low:
            raise bad(f"`max.{code}` is below `min.{code}`")
    label = item.get("label", {})
    if not isinstance(label, dict) or not all(isinstance(v, str) and len(v) <= 120 for v in label.values()):
        raise bad("`label` must map languages to short texts")
    return Rule(
        id=rule_id, operation=operation, method=method, region=region, percent=percent, rounding=rounding,
        currencies=frozenset(codes) if codes is not None else None,
        may_exceed_amount=bool(item.get("may_exceed_amount", False)), label=label, **money,
    )

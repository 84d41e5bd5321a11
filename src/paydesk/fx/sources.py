"""Where rates come from, each parsed into {currency: units per euro} and the moment they are valid for:
the ECB's daily reference rates (eurofxref-daily.xml), a CSV file, or an operator typing them in."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree

from paydesk.core.errors import DomainError

ECB_PUBLISHED_AT = time(16, 0)  # CET, about 16:00; stored as 15:00 UTC (winter), a conservative age
MAX_RATES = 400


class InvalidRates(DomainError):
    code = "invalid_rates"
    status = 422
    title = "The rates could not be read"


@dataclass(frozen=True, slots=True)
class RateSet:
    per_eur: dict[str, Decimal]
    as_of: datetime
    source: str


def positive(text: object, what: str) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidRates(f"{what}: {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise InvalidRates(f"{what}: a rate must be a positive number")
    return value


def parse_ecb(xml: bytes) -> RateSet:
    """The ECB's `eurofxref-daily.xml`: <Cube time="YYYY-MM-DD"><Cube currency="USD" rate="1.05"/>…"""
    try:
        root = ElementTree.fromstring(xml)
    except Exception as exc:
        raise InvalidRates(f"not the ECB's XML: {type(exc).__name__}") from None
    day: date | None = None
    rates: dict[str, Decimal] = {}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag != "Cube":
            continue
        if "time" in element.attrib:
            try:
                day = date.fromisoformat(element.attrib["time"])
            except ValueError:
                raise InvalidRates(f"bad date {element.attrib['time']!r}") from None
        if "currency" in element.attrib:
            code = element.attrib["currency"].strip().upper()
            rates[code] = positive(element.attrib.get("rate"), code)
    if day is None or not rates:
        raise InvalidRates("no dated rates in the file")
    rates["EUR"] = Decimal(1)
    return RateSet(rates, datetime.combine(day, time(15, 0), tzinfo=UTC), "ecb")


def parse_csv(text: str, now: datetime) -> RateSet:
    """`currency,per_eur[,as_of]` rows (a header line is allowed); as_of is an ISO date or time, else now. One
    file is one set of rates: rows with different dates are refused rather than all stamped with one."""
    rates: dict[str, Decimal] = {}
    dates: set[datetime] = set()
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or (n == 1 and row[0].strip().lower() == "currency"):
            continue
        if len(row) < 2 or len(row) > 3:
            raise InvalidRates(f"line {n}: expected currency,per_eur[,as_of]")
        code = row[0].strip().upper()
        if not (2 <= len(code) <= 10 and code.isalnum()):
            raise InvalidRates(f"line {n}: {row[0]!r} is not a currency code")
        rates[code] = positive(row[1], f"line {n}")
        if len(row) == 3 and row[2].strip():
            try:
                stamp = datetime.fromisoformat(row[2].strip())
            except ValueError:
                raise InvalidRates(f"line {n}: {row[2]!r} is not an ISO date") from None
            dates.add(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
        if len(rates) > MAX_RATES:
            raise InvalidRates("too many rates in one file")
    if not rates:
        raise InvalidRates("no rates in the file")
    if len(dates) > 1:
        raise InvalidRates("the rows carry different dates; import one date per file")
    return RateSet(rates, dates.pop() if dates else now, "csv")

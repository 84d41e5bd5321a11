"""Where rates come from, each parsed into {currency: units per euro} and the moment they are valid for:
the ECB's daily reference rates (eurofxref-daily.xml), a CSV file, or an operator typing them in."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree

from paydesk.core.clock import in_range
from paydesk.core.errors import DomainError

ECB_PUBLISHED_AT = time(16, 0)  # CET, about 16:00; stored as 15:00 UTC (winter), a conservative age
MAX_RATES = 400
# Units per euro a rate may say: from a coin worth ten million euros to a currency of a hundred million to the
# euro. Any two rates inside are at most 10^15 apart, so every cross rate fits the 28 digits of a Decimal
# with the 12 decimals it is quoted to (fx/service.py); beyond, the number is a typo.
MIN_RATE = Decimal("1e-7")
MAX_RATE = Decimal("1e8")


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
    """A rate as typed: a number of units per euro between MIN_RATE and MAX_RATE."""
    raw = str(text).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidRates(f"{what}: {raw!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise InvalidRates(f"{what}: a rate must be a positive number")
    if not MIN_RATE <= value <= MAX_RATE:
        raise InvalidRates(f"{what}: a rate is between {MIN_RATE:f} and {MAX_RATE:f} units per euro")
    if len(str(value)) > 40:  # as stored (the column's size; 1234e-10 is kept as 1.234E-7 …)
        raise InvalidRates(f"{what}: a rate is at most 40 characters")
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
    as_of = datetime.combine(day, time(15, 0), tzinfo=UTC)
    if not in_range(as_of):
        raise InvalidRates(f"the file is dated {day.isoformat()}, not in the years 2000 to 2999")
    rates["EUR"] = Decimal(1)
    return RateSet(rates, as_of, "ecb")


def parse_csv(text: str, now: datetime) -> RateSet:
    """`currency,per_eur[,as_of]` rows (a header line is allowed); as_of is an ISO date or time, else now. One
    file is one set of rates: rows with different dates are refused rather than all stamped with one."""
    rates: dict[str, Decimal] = {}
    dates: set[datetime] = set()
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # a field over the csv module's limit …
        raise InvalidRates(f"not a CSV file: {exc}") from None
    for n, row in enumerate(rows, start=1):
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
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            if not in_range(stamp):
                raise InvalidRates(f"line {n}: {row[2]!r} is not in the years 2000 to 2999")
            dates.add(stamp)
        if len(rates) > MAX_RATES:
            raise InvalidRates("too many rates in one file")
    if not rates:
        raise InvalidRates("no rates in the file")
    if len(dates) > 1:
        raise InvalidRates("the rows carry different dates; import one date per file")
    return RateSet(rates, dates.pop() if dates else now, "csv")

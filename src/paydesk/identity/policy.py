"""The security policy's rules, with no I/O: common passwords, lockout, TOTP (RFC 6238), recovery codes.

Numbers from OWASP ASVS, NIST SP 800-63B and PSD2 strong authentication (see DESIGN.md):
5 failures lock the account for 1 minute, doubling per lock up to 1 hour; failures while locked don't count;
never more than 100 failures an hour. TOTP: 30-second steps, 6 digits, one step either side, a step never
accepted twice. 10 single-use recovery codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from urllib.parse import quote

FAILURES_BEFORE_LOCK = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
LOCKS_CAP = 6  # 2**6 minutes is past the longest lock already
MAX_FAILURES_PER_HOUR = 100
MAX_RESET_REQUESTS_PER_HOUR = 20  # per address group (address_group), known accounts or not
TOTP_STEP = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1
RECOVERY_CODES = 10
RESET_TOKEN_LIFETIME = timedelta(minutes=30)
RESET_LINK_GAP = timedelta(minutes=5)  # one link per account this often, however many ask (no mail bombing)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("paydesk.identity").joinpath("data", "common-passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    return password.casefold() in common_passwords()


@dataclass(frozen=True, slots=True)
class LockState:
    failures: int  # failures since the last success or lock
    locks: int  # locks in a row (the next lock lasts 2**locks minutes, at most an hour; kept at most LOCKS_CAP)
    locked_until: datetime | None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def after_failure(state: LockState, now: datetime, failures_last_hour: int) -> LockState:
    """The state after one more wrong password (the caller doesn't call this while locked)."""
    failures = state.failures + 1
    locks = min(state.locks + 1, LOCKS_CAP)  # an account attacked for days doesn't grow it past the longest lock
    if failures_last_hour + 1 >= MAX_FAILURES_PER_HOUR:
        return LockState(0, locks, now + LONGEST_LOCK)
    if failures < FAILURES_BEFORE_LOCK:
        return LockState(failures, state.locks, state.locked_until)
    duration = min(FIRST_LOCK * (2 ** min(state.locks, LOCKS_CAP)), LONGEST_LOCK)
    return LockState(0, locks, now + duration)


# --- TOTP (RFC 6238 over RFC 4226) ---------------------------------------------------------------------------

def new_totp_secret() -> str:
    """160 random bits in base32, as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _hotp(secret: str, counter: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**TOTP_DIGITS).zfill(TOTP_DIGITS)


def totp_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_STEP


def totp_code(secret: str, now: datetime) -> str:
    return _hotp(secret, totp_step(now))


def matching_step(secret: str, code: str, now: datetime, last_used_step: int) -> int | None:
    """The time step `code` belongs to (within ±1 step of now and after the last one used), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    current = totp_step(now)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if step > last_used_step and hmac.compare_digest(_hotp(secret, step), code):
            return step
    return None


def otpauth_uri(secret: str, account: str, issuer: str = "Paydesk") -> str:
    return (f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}&issuer={quote(issuer)}"
            f"&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP}")


# --- recovery codes and reset tokens -------------------------------------------------------------------------

def new_recovery_codes() -> list[str]:
    """Ten codes like `7KQ4-9XWM-2D`, shown once."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalize_recovery_code(code: str) -> str:
    compact = code.strip().upper().replace("-", "").replace(" ", "")
    return f"{compact[:4]}-{compact[4:8]}-{compact[8:]}"


def secret_hash(value: str) -> str:
    """How single-use secrets (reset tokens, recovery codes) are stored: SHA-256 of 128+ random bits."""
    return hashlib.sha256(value.encode()).hexdigest()


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: IPv4 clients of an IPv6-only server, translated


def address_group(ip: str) -> str:
    """The addresses the per-address caps count together. An IPv4 address is one group on its own. An IPv6
    address counts with its /64, the smallest block a connection is given (a phone gets one, a home often a
    /56 or more): a host can use any of the 2^64 addresses in it, so a cap per IPv6 address caps nobody. An
    IPv4 address carried in IPv6 — mapped (`::ffff:198.51.100.7`) or translated by NAT64 (`64:ff9b::c633:6407`,
    where the /64 would put every IPv4 client in one group) — is that IPv4 address. Anything else (no
    address, a test client's name) is itself."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if address in NAT64:
            return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)

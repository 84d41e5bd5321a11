"""Where a withdrawal may go, checked before any money is held: IBAN and BIC (ISO 13616, ISO 9362),
Bitcoin addresses (base58check P2PKH/P2SH, bech32/bech32m SegWit), Ethereum addresses (EIP-55 checksum)
and TRON addresses (base58check, version 0x41). Each failure has its own code."""

from __future__ import annotations

import hashlib
import re

from Crypto.Hash import keccak
from stdnum import bic as std_bic
from stdnum import iban as std_iban
from stdnum.exceptions import ValidationError

from paydesk.core.errors import DomainError
from paydesk.wallet.rails.base import DestinationKind, MethodNotAvailable, RailSpec

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


class InvalidDestination(DomainError):
    code = "invalid_destination"
    status = 422
    title = "The destination is not valid"


class InvalidIban(InvalidDestination):
    code = "invalid_iban"
    title = "The IBAN is not valid"


class InvalidBic(InvalidDestination):
    code = "invalid_bic"
    title = "The BIC (SWIFT code) is not valid"


class InvalidBtcAddress(InvalidDestination):
    code = "invalid_btc_address"
    title = "The Bitcoin address is not valid"


class InvalidEthAddress(InvalidDestination):
    code = "invalid_eth_address"
    title = "The Ethereum address is not valid"


class EthChecksumMismatch(InvalidDestination):
    code = "eth_checksum_mismatch"
    title = "The Ethereum address has a wrong checksum (mixed-case letters); copy it again"


class InvalidTronAddress(InvalidDestination):
    code = "invalid_tron_address"
    title = "The TRON address is not valid"


def iban(value: str) -> str:
    try:
        return str(std_iban.validate(value))
    except ValidationError as exc:
        raise InvalidIban(f"the IBAN is not valid: {exc}") from exc


def bic(value: str) -> str:
    try:
        return str(std_bic.validate(value))
    except ValidationError as exc:
        raise InvalidBic(f"the BIC is not valid: {exc}") from exc


def _b58decode_check(value: str) -> bytes | None:
    """The payload of a base58check string, or None if it is not one."""
    if not value or any(ch not in _B58 for ch in value) or len(value) > 64:
        return None
    number = 0
    for ch in value:
        number = number * 58 + _B58.index(ch)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\0" * (len(value) - len(value.lstrip("1"))) + raw
    if len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return payload


def _bech32_polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check


def _segwit_ok(address: str) -> bool:
    """BIP 173 (bech32, witness v0) and BIP 350 (bech32m, v1+) for the `bc` network."""
    if address.lower() != address and address.upper() != address:
        return False
    address = address.lower()
    hrp, sep, data_part = address.rpartition("1")
    if hrp != "bc" or not sep or len(address) > 90 or len(data_part) < 7:
        return False
    if any(ch not in _BECH32 for ch in data_part):
        return False
    data = [_BECH32.index(ch) for ch in data_part]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + data)
    version = data[0]
    if constant != (1 if version == 0 else 0x2BC830A3) or version > 16:
        return False
    bits, acc, out = 0, 0, []
    for value in data[1:-6]:
        acc = (acc << 5) | value
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    leftover_is_padding = bits < 5 and (acc << (8 - bits)) & 0xFF == 0
    if bits and not leftover_is_padding:
        return False
    return 2 <= len(out) <= 40 and (version != 0 or len(out) in (20, 32))


def btc_address(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("bc1"):
        if _segwit_ok(value):
            return value.lower()
        raise InvalidBtcAddress("the SegWit (bc1…) address has a wrong checksum or length")
    payload = _b58decode_check(value)
    if payload is None or len(payload) != 21 or payload[0] not in (0x00, 0x05):
        raise InvalidBtcAddress("the address has a wrong checksum, length or network")
    return value


def eth_address(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise InvalidEthAddress("an Ethereum address is 0x followed by 40 hexadecimal characters")
    body = value[2:]
    digest = keccak.new(digest_bits=256, data=body.lower().encode()).hexdigest()
    checksummed = "".join(ch.upper() if int(digest[i], 16) >= 8 else ch.lower() for i, ch in enumerate(body))
    if body not in (body.lower(), body.upper()) and body != checksummed:
        raise EthChecksumMismatch()
    return "0x" + checksummed


def tron_address(value: str) -> str:
    value = value.strip()
    payload = _b58decode_check(value)
    if payload is None or len(payload) != 21 or payload[0] != 0x41:
        raise InvalidTronAddress("a TRON address starts with T and has a valid checksum")
    return value


def checked(spec: RailSpec, given: dict[str, str]) -> dict[str, str]:
    """The destination a rail needs, each field checked (a withdrawal's, or one being saved)."""
    def field(name: str) -> str:
        value = given.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidDestination(f"{spec.name} needs a destination {name!r}", field=name)
        return value

    kind = spec.destination
    if kind == DestinationKind.IBAN:
        return {"iban": iban(field("iban"))}
    if kind == DestinationKind.IBAN_BIC:
        return {"iban": iban(field("iban")), "bic": bic(field("bic"))}
    if kind == DestinationKind.BTC:
        return {"address": btc_address(field("address"))}
    if kind == DestinationKind.ETH:
        return {"address": eth_address(field("address"))}
    if kind == DestinationKind.TRON:
        return {"address": tron_address(field("address"))}
    raise MethodNotAvailable(f"{spec.name} does not pay out")


def describe(destination: dict[str, str]) -> str:
    """A short, safe label: the last characters of an IBAN or address."""
    value = destination.get("iban") or destination.get("address") or ""
    return f"…{value[-6:]}" if len(value) > 6 else value

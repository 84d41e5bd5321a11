"""Encryption at rest for the few secrets that must be read back (TOTP seeds): AES-256-GCM with a key
derived from PAYDESK_SECRET_KEY for that purpose only."""

from __future__ import annotations

import base64
import hashlib
import secrets

from Crypto.Cipher import AES


def _key(secret_key: str, purpose: str) -> bytes:
    return hashlib.sha256(f"paydesk:{purpose}:".encode() + secret_key.encode()).digest()


def seal(secret_key: str, purpose: str, plaintext: str) -> str:
    nonce = secrets.token_bytes(12)
    cipher = AES.new(_key(secret_key, purpose), AES.MODE_GCM, nonce=nonce)
    body, tag = cipher.encrypt_and_digest(plaintext.encode())
    return base64.urlsafe_b64encode(nonce + tag + body).decode()


def unseal(secret_key: str, purpose: str, sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    cipher = AES.new(_key(secret_key, purpose), AES.MODE_GCM, nonce=raw[:12])
    return cipher.decrypt_and_verify(raw[28:], raw[12:28]).decode()

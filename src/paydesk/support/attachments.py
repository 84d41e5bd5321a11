"""Attachments: what a file is, decided by its first bytes (never by its name), within a size limit, kept in
a blob store under the hash of its content (never under a name anyone typed)."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path
from typing import Protocol

from paydesk.core.errors import DomainError

MAX_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


class AttachmentTooLarge(DomainError):
    code = "attachment_too_large"
    status = 413
    title = "Attachments are at most 10 MB"


class AttachmentTypeNotAllowed(DomainError):
    code = "attachment_type_not_allowed"
    status = 415
    title = "Only images (PNG, JPEG, GIF, WebP) and PDF documents can be attached"


class AttachmentNameInvalid(DomainError):
    code = "attachment_name_invalid"
    status = 422
    title = "The file name must be a plain name: no folders, no '..', no control characters, at most 200 characters"


def sniff(data: bytes) -> str:
    """The content type from the file's own signature; anything else is refused."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    raise AttachmentTypeNotAllowed()


def check(name: str, data: bytes) -> tuple[str, str]:
    """(clean name, content type), or a clear refusal."""
    if len(data) > MAX_BYTES:
        raise AttachmentTooLarge()
    if not data:
        raise AttachmentTypeNotAllowed("the file is empty")
    clean = unicodedata.normalize("NFC", name.strip())
    if (not clean or len(clean) > 200 or "/" in clean or "\\" in clean or ".." in clean or clean.startswith(".")
            or any(unicodedata.category(ch).startswith("C") for ch in clean)):
        raise AttachmentNameInvalid()
    return clean, sniff(data)


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...


class LocalBlobStore:
    """Files in a directory, named by the SHA-256 of their content (the same file is stored once)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        if len(key) != 64 or any(ch not in "0123456789abcdef" for ch in key):
            raise ValueError("not a blob key")
        return self.directory / key[:2] / key

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return key

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

"""Two languages from day one: Simplified Chinese (`zh-CN`) and English (`en`).

Messages live in `core/locales/<locale>.json` (one flat object each; every key in both). The locale of a
request comes from `?lang=`, then the `paydesk_lang` cookie, then `Accept-Language`, then the default.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Final

LOCALES: Final = ("zh-CN", "en")
COOKIE: Final = "paydesk_lang"


@cache
def catalog(locale: str) -> dict[str, str]:
    text = resources.files("paydesk.core").joinpath("locales", f"{locale}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def translate(locale: str, key: str, **values: object) -> str:
    message = catalog(locale if locale in LOCALES else "en").get(key) or catalog("en").get(key, key)
    return message.format(**values) if values else message


def normalize(tag: str | None) -> str | None:
    """`zh`, `zh-cn`, `zh-Hans-CN`, `zh_CN` → `zh-CN`; `en-GB` → `en`; anything else → None."""
    if not tag:
        return None
    lowered = tag.strip().lower().replace("_", "-")
    if lowered.startswith("zh"):
        return "zh-CN"  # traditional-script readers get simplified text rather than English
    if lowered.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """The best of our locales for an `Accept-Language` header (RFC 9110 quality values)."""
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        locale = normalize(tag)
        if locale and quality > 0 and (best is None or quality > best[0]):
            best = (quality, locale)
    return best[1] if best else default


def pick_locale(query: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    return normalize(query) or normalize(cookie) or negotiate(accept_language, default)

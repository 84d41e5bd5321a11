"""The live data articles embed (`{{fees:withdraw}}`, `{{limits}}`, `{{contact}}` …), rendered from the running
system — the fee schedule in force, the configured limits, currencies, spreads and support channels — so an
article never carries a copied number that has since changed."""

from __future__ import annotations

from functools import cache
from typing import Any

from paydesk.complaints.deadlines import PROFILES
from paydesk.container import Container
from paydesk.core import i18n
from paydesk.fees.domain import OPERATIONS
from paydesk.helpcenter.domain import EMBEDS
from paydesk.web.pages import TEMPLATES


def embeds(app: Container, locale: str, wanted: set[str] | None = None) -> dict[str, str]:
    """HTML for each embed the article uses (all of them when `wanted` is None)."""
    names = [n for n in EMBEDS if wanted is None or n in wanted]
    if not names:
        return {}
    macros: Any = TEMPLATES.env.get_template("help_live.html").make_module({
        "t": lambda key, **values: i18n.translate(locale, key, **values), "lang": locale})
    settings = app.settings
    # Read once however many embeds use them (fees-overview shows four fee tables).
    rules = cache(lambda: app.fees.as_json(app.fees.schedule_at())["rules"])
    listed = cache(lambda: channels(app, locale))
    out: dict[str, str] = {}
    for name in names:
        kind, _, arg = name.partition(":")
        if kind == "fees" and arg in OPERATIONS:
            out[name] = str(macros.fees([r for r in rules() if r["operation"] == arg]))
        elif kind == "limits":
            out[name] = str(macros.limits(settings.daily_limits))
        elif kind == "currencies":
            out[name] = str(macros.currencies([settings.currencies[c] for c in settings.currencies]))
        elif kind == "spreads":
            out[name] = str(macros.spreads(settings.fx_spreads, settings.fx_max_age_hours))
        elif kind == "contact":
            out[name] = str(macros.contact(listed()))
        elif kind == "hours":
            out[name] = str(macros.hours(listed()))
        elif kind == "complaint_deadlines":
            out[name] = str(macros.deadlines(PROFILES))
    return out


def channels(app: Container, locale: str) -> list[dict[str, Any]]:
    """The configured support channels in `locale` (chat says whether an agent is online now)."""
    online = app.support.agents_online()
    out = []
    for channel in app.settings.support_channels:
        def text(field: str, c: dict[str, Any] = channel) -> str:
            value = c.get(field) or {}
            return str(value.get(locale) or value.get("en") or "") if isinstance(value, dict) else str(value)

        out.append({"kind": channel.get("kind", ""), "name": text("name"), "value": channel.get("value", ""),
                    "href": channel.get("href", ""), "hours": text("hours"), "response": text("response"),
                    "online": online if channel.get("kind") == "chat" else None})
    return out

"""Settings from the environment (`PAYDESK_*`), read once by the composition root."""

from __future__ import annotations

import hashlib
import hmac
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paydesk.core.money import Currencies
from paydesk.fx.reference import DEFAULT_PER_EUR

FIAT_DAILY = {"USD": "20000", "EUR": "20000", "GBP": "20000", "CNY": "150000", "HKD": "150000", "JPY": "3000000"}
DEV_SECRET = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - the refused default
PROJECT_ROOT = Path(__file__).resolve().parents[2]


DAILY_BEIJING = {"en": "Every day, 08:00–22:00 (Beijing time)", "zh-CN": "每天 08:00–22:00（北京时间）"}
PHONE_WAIT = {"en": "Usually within 5 minutes of waiting", "zh-CN": "通常等待不超过 5 分钟"}
WITHIN_4_HOURS = {"en": "Within 4 hours", "zh-CN": "4 小时内"}
DEFAULT_CHANNELS: tuple[dict[str, Any], ...] = (
    {"kind": "chat", "value": "", "href": "",
     "name": {"en": "Live chat", "zh-CN": "在线客服"},
     "hours": DAILY_BEIJING,
     "response": {"en": "Usually within 2 minutes", "zh-CN": "通常 2 分钟内"}},
    {"kind": "phone", "value": "+44 20 7946 0321", "href": "tel:+442079460321",
     "name": {"en": "Phone hotline (Europe)", "zh-CN": "客服热线（欧洲）"},
     "hours": {"en": "Monday to Friday, 09:00–18:00 (CET)", "zh-CN": "周一至周五 09:00–18:00（欧洲中部时间）"},
     "response": PHONE_WAIT},
    {"kind": "phone", "value": "+1 202 555 0142", "href": "tel:+12025550142",
     "name": {"en": "Phone hotline (Americas)", "zh-CN": "客服热线（美洲）"},
     "hours": {"en": "Monday to Friday, 09:00–17:00 (US Eastern)", "zh-CN": "周一至周五 09:00–17:00（美国东部时间）"},
     "response": PHONE_WAIT},
    {"kind": "email", "value": "support@paydesk.example", "href": "mailto:support@paydesk.example",
     "name": {"en": "Email", "zh-CN": "电子邮件"},
     "hours": {"en": "Any time; answered every day", "zh-CN": "随时可写信，每天处理"},
     "response": {"en": "Within 1 business day", "zh-CN": "1 个工作日内"}},
    {"kind": "social", "value": "@paydesk_help", "href": "https://t.me/paydesk_help",
     "name": {"en": "Telegram", "zh-CN": "Telegram"},
     "hours": DAILY_BEIJING,
     "response": WITHIN_4_HOURS},
    {"kind": "social", "value": "Paydesk 钱包客服", "href": "",
     "name": {"en": "WeChat official account", "zh-CN": "微信公众号"},
     "hours": DAILY_BEIJING,
     "response": WITHIN_4_HOURS},
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYDESK_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    secret_key: str = DEV_SECRET
    database_url: str = Field(default=f"sqlite:///{PROJECT_ROOT / 'var' / 'paydesk.db'}")
    redis_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    default_locale: Literal["zh-CN", "en"] = "en"
    # CODE:SCALE[:fiat|crypto], comma separated; empty means the DESIGN.md table.
    currencies_spec: str = Field(default="", alias="PAYDESK_CURRENCIES")
    # Group commit: single posts wait at most this long for company, and a batch holds at most this many.
    group_commit_window_ms: float = 2.0
    group_commit_max_transfers: int = 4096
    # How often the job runner voids pending transfers whose timeout has passed.
    expiry_interval_s: float = 5.0
    db_pool_size: int = 10
    # Email: smtp://host:port, smtps://…, smtp+starttls://user:pass@host:587. Unset: the outbox keeps
    # messages, readable at /dev/outbox in development.
    smtp_url: str | None = None
    mail_from: str = "Paydesk <no-reply@paydesk.local>"
    notify_interval_s: float = 2.0
    # Chat attachments (checked images and PDFs) are kept here, named by their content's hash.
    blob_dir: Path = PROJECT_ROOT / "var" / "blobs"
    # How customers reach support (the contact page and the help center's {{contact}} and {{hours}}): a JSON
    # list of channels. `kind` is chat, phone, email or social; texts per locale. The defaults are examples
    # (fictional numbers from the ranges reserved for drama, an example.com address): set your own.
    support_channels: list[dict[str, Any]] = Field(default_factory=lambda: [dict(c) for c in DEFAULT_CHANNELS])
    # SMS: an HTTP gateway that takes signed JSON posts (see notify/senders.py). Unset: SMS stay in the outbox.
    sms_url: str | None = None
    sms_secret_key: str | None = Field(default=None, alias="PAYDESK_SMS_SECRET")
    # Payment rails: the sandbox confirms at once unless delayed (then a signed webhook settles).
    sandbox_delayed: bool = False
    # Webhook secrets per rail, as JSON: {"card": "…", "btc": "…"}. A rail without one gets a secret
    # derived from PAYDESK_SECRET_KEY (fine for the sandbox; set real ones in production).
    rail_secrets: dict[str, str] = Field(default_factory=dict)
    # Per user and UTC day, per operation: how many, and how much per currency (decimal strings), as JSON.
    daily_limits: dict[str, dict[str, Any]] = Field(default_factory=lambda: {
        "send": {"count": 100, "amounts": {**FIAT_DAILY, "BTC": "1", "ETH": "20", "USDT": "20000"}},
        "withdraw": {"count": 20, "amounts": {**FIAT_DAILY, "BTC": "1", "ETH": "20", "USDT": "20000"}},
    })

    # Strong authentication for payments (PSD2 RTS Art. 16): a payment needs a fresh second factor unless it
    # is at most `step_up_single_eur` and, since the last confirmed one, the payments add up to at most
    # `step_up_cumulative_eur` and number at most `step_up_count`. EUR equivalents use `reference_rates`.
    step_up_single_eur: int = 30
    step_up_cumulative_eur: int = 100
    step_up_count: int = 5
    reference_rates: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PER_EUR))
    # Exchange: the house spread per pair in percent ("USD/CNY"), else "crypto" when one side is crypto, else
    # "default"; rates older than these hours (per kind of currency) are refused as stale.
    fx_spreads: dict[str, str] = Field(default_factory=lambda: {"default": "0.5", "crypto": "1.0"})
    fx_max_age_hours: dict[str, float] = Field(default_factory=lambda: {"fiat": 96.0, "crypto": 24.0})
    # The country of users who gave no phone number (fees: a bank withdrawal is domestic when the account's
    # country is the user's). ISO 3166 alpha-2.
    home_country: str = "DE"
    # A payment of at least this EUR equivalent is a "large transfer" in the activity log.
    large_transfer_eur: int = 1000
    # The request header a trusted proxy or CDN sets to the client's ISO country (e.g. CF-IPCountry); unset,
    # sign-ins carry no country and "new country" alerts are off.
    country_header: str | None = None

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "PAYDESK_SECRET_KEY must be set to a random value outside development "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if len(self.secret_key) < 32:
            raise ValueError("PAYDESK_SECRET_KEY must be at least 32 characters")
        return self

    @cached_property
    def currencies(self) -> Currencies:
        return Currencies.from_spec(self.currencies_spec) if self.currencies_spec else Currencies()

    def rail_secret(self, rail: str) -> str:
        if rail in self.rail_secrets:
            return self.rail_secrets[rail]
        return hmac.new(self.secret_key.encode(), f"rail:{rail}".encode(), hashlib.sha256).hexdigest()

    def sms_secret(self) -> str:
        """The secret the SMS gateway checks our signatures with: PAYDESK_SMS_SECRET, or derived."""
        return self.sms_secret_key or self.rail_secret("sms-gateway")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

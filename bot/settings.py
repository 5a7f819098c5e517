"""Settings from environment variables / ``.env`` with the prefix ``VISITBOT_``."""

from __future__ import annotations

from datetime import time

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogs.i18n import LOCALES
from storage.db import DatabaseUnavailable, check_url

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Deployment settings; every field can be set as ``VISITBOT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="VISITBOT_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./visitbot.db"
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str | None = None
    locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    institution: str = "示例农商银行"
    scripts_dir: str | None = None
    default_script: str = "officer_phone_visit"
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_path: str = "telegram"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    reminder_interval: float = Field(default=60.0, gt=0, description="Seconds between checks for due call-backs.")
    bot_username: str = Field(default="", description="Filled from getMe when the bot starts.")
    telegram_timeout: float = Field(default=10.0, gt=0, description="Seconds one Bot API call may take.")
    update_timeout: float = Field(default=120.0, gt=0, description="Seconds one Telegram update may take in all.")
    update_workers: int = Field(default=16, ge=1, description="Telegram updates of different chats run at once.")
    # -- rules of contact (bot/desk/contact.py); defaults from Chinese industry rules (seeds 002, 004)
    contact_window_start: time = Field(default=time(8, 0), description="Earliest contact, borrower's zone.")
    contact_window_end: time = Field(default=time(21, 0), description="Latest contact, borrower's zone.")
    # (start == end switches the window off: contact at any hour)
    contact_daily_cap: int = Field(default=3, ge=1, description="Connected calls a borrower gets a day (local day).")
    contact_weekly_cap: int = Field(default=7, ge=1, description="Connected calls a borrower gets in 7 local days.")
    contact_attempt_scripts: str = Field(
        default="overdue_reminder", description="Scripts (comma-separated) whose calls count even when unreachable."
    )
    contact_collection_scripts: str = Field(
        default="overdue_reminder", description="Collection scripts (comma-separated): held by disputes, not opt-outs."
    )
    contact_opt_out_tiers: str = Field(
        default="low,medium", description="Risk tiers (comma-separated) whose opt-out (不想回访) stops phone visits."
    )
    contact_dispute_flag: str = Field(default="dispute", description="The risk flag that records a dispute.")
    # -- the monthly plan (bot/desk/planning.py; seeds 001, 004)
    plan_every_high: int = Field(default=1, ge=1, description="Months between required visits of a high-risk borrower.")
    plan_every_medium: int = Field(default=3, ge=1, description="Months between required visits, medium risk.")
    plan_every_low: int = Field(default=6, ge=1, description="Months between required visits, low risk.")
    plan_sample_size: int = Field(default=5, ge=0, description="Borrowers drawn at random per officer each month.")
    plan_overdue_within: int = Field(default=7, ge=1, description="Days after going overdue to make the reminder call.")
    # -- the morning digest (bot/desk/digest.py): each officer's day, at this time in their own zone
    digest: bool = Field(default=True, description="Send the morning digest (off: no digest jobs are armed).")
    digest_time: time = Field(default=time(8, 30), description="When the daily digest goes out, officer's zone.")
    digest_overdue_after: int = Field(
        default=5, ge=0, description="The digest lists overdue loans past this many days without a call."
    )
    # -- the supervisors' web desk (bot/web): ``visitbot web``
    web_url: str = Field(default="http://127.0.0.1:8080", description="The desk's public base URL (login links).")
    web_host: str = Field(default="127.0.0.1", description="Address ``visitbot web`` listens on.")
    web_port: int = Field(default=8080, ge=1, le=65535, description="Port ``visitbot web`` listens on.")
    web_link_minutes: int = Field(default=15, ge=1, description="Minutes a one-time login link stays valid.")
    web_session_hours: float = Field(default=12.0, gt=0, description="Hours a browser stays signed in.")
    # -- promises to pay (bot/desk/promises.py): followed up on the day, judged from imported repayments
    promise_grace_days: int = Field(
        default=1, ge=0, description="Days after the promised date before an unpaid promise counts as broken."
    )
    # -- visits that cannot be faked (形式化, bot/desk/quality.py): the quality flags' thresholds
    quality_min_answer_seconds: float = Field(
        default=3.0, ge=0, description="An answer given sooner than this after its question counts as too fast."
    )
    quality_fast_share: float = Field(
        default=0.5, gt=0, le=1, description="The share of too-fast answers that flags a visit as implausibly fast."
    )
    quality_min_visit_seconds: float = Field(
        default=60.0, ge=0, description="A whole visit (start to last answer) shorter than this is implausibly fast."
    )
    quality_min_answers: int = Field(
        default=4, ge=1, description="Visits with fewer answers are not judged fast, all-first or copied."
    )
    quality_photo_distance: int = Field(
        default=3, ge=0, le=3, description="Bits two photos' perceptual hashes may differ by and count as one photo."
    )
    quality_max_distance_km: float = Field(
        default=1.0, gt=0, description="An on-site visit located farther than this from the address on file is flagged."
    )
    quality_max_speed_kmh: float = Field(
        default=120.0, gt=0, description="Two on-site visits of one officer needing more speed than this: impossible."
    )
    # -- the file store (photos given as answers); a local folder by default
    files_dir: str = Field(default="./visitbot-files", description="Folder where photos and files are kept.")
    # -- data care
    retention_days: int = Field(
        default=1827,
        ge=1,
        description="Days transcripts and answers are kept (five calendar years, leap days included).",
    )

    @field_validator("database_url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        try:
            check_url(value)
        except DatabaseUnavailable as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("contact_window_end")
    @classmethod
    def _window_order(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("contact_window_start")
        if isinstance(start, time) and value < start:
            raise ValueError(f"VISITBOT_CONTACT_WINDOW_END {value:%H:%M} is before VISITBOT_CONTACT_WINDOW_START")
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"VISITBOT_LOCALE must be one of {', '.join(LOCALES)}, not {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"VISITBOT_TIMEZONE {value!r} is not a known time zone") from exc
        return value

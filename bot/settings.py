"""One settings object, read from the environment (and a .env file) when the app or CLI starts."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import DEFAULT_URL, POOL_SIZE


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


_PROCESS_KEY = secrets.token_bytes(32)


class UnsafeConfigurationError(RuntimeError):
    """A configuration that would expose the bot: refused at start, with the reason."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(default=DEFAULT_URL, validation_alias=_env("DATABASE_URL", "database_url"))
    timezone: str = Field(default="Europe/London", validation_alias=_env("PLANBOT_TIMEZONE", "timezone"))

    app_id: str = Field(default="", validation_alias=_env("MicrosoftAppId", "MICROSOFT_APP_ID", "app_id"))
    app_password: SecretStr = Field(
        default=SecretStr(""), validation_alias=_env("MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD", "app_password")
    )
    app_type: Literal["SingleTenant", "UserAssignedMSI"] = Field(
        default="SingleTenant", validation_alias=_env("MicrosoftAppType", "MICROSOFT_APP_TYPE", "app_type")
    )
    app_tenant_id: str = Field(
        default="", validation_alias=_env("MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID", "app_tenant_id")
    )
    allowed_tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("PLANBOT_ALLOWED_TENANTS", "allowed_tenants")
    )
    nudge_days: int = Field(default=14, validation_alias=_env("PLANBOT_NUDGE_DAYS", "nudge_days"))
    final_nudge_days: int = Field(default=7, validation_alias=_env("PLANBOT_FINAL_NUDGE_DAYS", "final_nudge_days"))
    summary_days: int = Field(default=5, validation_alias=_env("PLANBOT_SUMMARY_DAYS", "summary_days"))
    scheduler: bool = Field(default=True, validation_alias=_env("PLANBOT_SCHEDULER", "scheduler"))
    scheduler_interval: float = Field(
        default=300.0, validation_alias=_env("PLANBOT_SCHEDULER_INTERVAL", "scheduler_interval")
    )
    db_pool_size: int = Field(default=POOL_SIZE, ge=1, validation_alias=_env("PLANBOT_DB_POOL_SIZE", "db_pool_size"))
    # Seconds one reply or message may take to reach the Bot Connector before the bot gives up on it.
    send_timeout: float = Field(default=30.0, gt=0, validation_alias=_env("PLANBOT_SEND_TIMEOUT", "send_timeout"))
    link_secret: SecretStr = Field(default=SecretStr(""), validation_alias=_env("PLANBOT_LINK_SECRET", "link_secret"))
    public_url: str = Field(default="", validation_alias=_env("PLANBOT_PUBLIC_URL", "public_url"))
    host: str = Field(default="127.0.0.1", validation_alias=_env("PLANBOT_HOST", "host"))
    port: int = Field(default=3978, validation_alias=_env("PLANBOT_PORT", "port"))
    # Notes of a plan that ended more than this many years ago are removed (planbot retention run);
    # unset, every note is kept.
    retention_years: int | None = Field(
        default=None, ge=1, validation_alias=_env("PLANBOT_RETENTION_YEARS", "retention_years")
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("allowed_tenants", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        if self.app_id and not self.app_tenant_id:
            raise ValueError("MicrosoftAppTenantId is needed with MicrosoftAppId (single-tenant bots)")
        if self.app_id and self.app_type == "SingleTenant" and not self.app_password.get_secret_value():
            raise ValueError("MicrosoftAppPassword is needed for a SingleTenant bot")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def link_key(self) -> bytes:
        """The key that signs expiring links. Replicas must share it: set PLANBOT_LINK_SECRET (or it is
        derived from the app password); without either, each process makes its own."""
        secret = self.link_secret.get_secret_value() or self.app_password.get_secret_value()
        if secret:
            return hashlib.sha256(f"plan-tracker-links:{secret}".encode()).digest()
        return _PROCESS_KEY

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def anonymous(self) -> bool:
        """No app id: requests are not authenticated. For local development only."""
        return not self.app_id

    def check_safe_to_serve(self, host: str) -> None:
        if self.anonymous and not is_loopback(host):
            raise UnsafeConfigurationError(
                f"refusing to listen on {host} without MicrosoftAppId: unauthenticated mode is only for "
                "local development on a loopback address (127.0.0.1, ::1, localhost)"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

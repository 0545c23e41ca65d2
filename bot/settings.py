"""One settings object, read from the environment (and a .env file) when the app or CLI starts."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(default=DEFAULT_URL, validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    timezone: str = Field(default="Europe/London", validation_alias=AliasChoices("PLANBOT_TIMEZONE", "timezone"))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

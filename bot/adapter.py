"""The Bot Framework adapter: authentication, the error boundary, and fixes for botbuilder 4.17.1."""

from __future__ import annotations

import logging
from typing import Any

import jwt
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, BotFrameworkAuthentication, ClaimsIdentity
from msrest.universal_http.requests import ClientRetryPolicy
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from bot import messages
from bot.settings import Settings

log = logging.getLogger(__name__)


class BotConfiguration:
    """The attribute names botbuilder's configuration classes read."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password.get_secret_value()
        # Without an app id botbuilder disables authentication only for its "MultiTenant" type.
        self.APP_TYPE = "MultiTenant" if settings.anonymous else settings.app_type
        self.APP_TENANTID = settings.app_tenant_id


class StrictAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Every request without a valid token is refused with PermissionError (HTTP 401).

    botbuilder raises other exceptions for some bad tokens (a token that is not a JWT, an unknown
    signing key, a bad signature), which would surface as HTTP 500; and it treats a missing header
    as "" rather than None, which its anonymous mode does not expect.
    """

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        try:
            return await self._inner.authenticate_request(activity, auth_header or None)
        except PermissionError:
            raise
        except (jwt.PyJWTError, IndexError, KeyError, ValueError, AttributeError) as exc:
            log.warning("refused a request with an invalid token: %s", exc)
            raise PermissionError("invalid token") from exc

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> Any:
        return self._inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        return await self._inner.create_user_token_client(claims_identity)

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


def speed_up_msrest() -> None:
    """msrest rebuilds a retry list with `i not in safe_codes` over a 500-item list for every client,
    and botbuilder makes new clients every turn: a set makes that check cheap."""
    ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]


def create_adapter(settings: Settings) -> CloudAdapter:
    speed_up_msrest()
    auth = StrictAuthentication(ConfigurationBotFrameworkAuthentication(BotConfiguration(settings)))
    adapter = CloudAdapter(auth)
    adapter.on_turn_error = on_turn_error
    return adapter


class DatabaseUnavailable(Exception):
    """The plan's database could not be reached (or, on SQLite, stayed locked): the turn did not
    happen and Teams should deliver the activity again, so the person is not sent an apology."""


def database_down(error: BaseException) -> bool:
    """Is this failure the database being unreachable, rather than a fault in the turn itself?"""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | DisconnectionError | ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno is not None:
            return True
        current = current.__cause__ or current.__context__
    return False


async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """The one error boundary: log with the traceback, tell the person briefly, never show a trace.

    When the database is down the turn is handed back to the route (HTTP 503) so Teams retries it.
    """
    if database_down(error):
        log.warning("the database is unavailable; activity %s will be retried by Teams", turn_context.activity.id)
        raise DatabaseUnavailable from error
    log.error("turn failed for activity %s", turn_context.activity.id, exc_info=error)
    try:
        await turn_context.send_activity(messages.apology())
    except Exception:  # the apology is best effort; the failure is already logged
        log.exception("could not send the apology")

"""The Bot Framework adapter: authentication, the error boundary, and fixes for botbuilder 4.17.1."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from enum import Enum
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
)
from msrest.serialization import Model
from msrest.universal_http.requests import ClientRetryPolicy
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from bot import messages
from bot.retries import CALLER_RETRIES, Retries, SendFailed, SendUnknown, Sleep, retried
from bot.settings import Settings

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0  # seconds for one send to the Bot Connector (PLANBOT_SEND_TIMEOUT)
# A reply Teams refused or did not answer is sent again, a few times within a few seconds: the
# person is waiting for it (and Teams for the answer to the activity). A timeout or a dropped
# connection is retried too, although that send may have arrived: a reply shown twice is visibly a
# repeat, while one missing leaves the person not knowing whether their update was saved (and one
# typed again would be stored twice). Proactive messages choose otherwise (bot.messenger.Pacing).
REPLY_RETRIES = Retries(
    attempts=4, base=0.25, cap=5.0, budget=10.0, statuses=frozenset({412, 429, 500, 502, 503, 504}), unknown=True
)


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
        self._connectors: dict[tuple[str, str, str | None], Any] = {}
        self._token_clients: dict[str, Any] = {}
        # Tokens already validated, by (token, channel, service URL), until they expire (at most
        # VALIDATED_FOR): the Bot Connector sends the same token with every activity for its hour.
        self._validated: OrderedDict[tuple[str, str | None, str | None], tuple[float, AuthenticateRequestResult]]
        self._validated = OrderedDict()
        self.now: Callable[[], float] = time.time  # the tokens' own clock: their `exp` is in seconds since 1970

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        key = (auth_header, activity.channel_id, activity.service_url) if auth_header else None
        kept = self._validated.get(key) if key is not None else None
        if kept is not None and self.now() < kept[0]:
            return kept[1]
        try:
            result = await self._inner.authenticate_request(activity, auth_header or None)
        except PermissionError:
            raise
        except (jwt.PyJWTError, IndexError, KeyError, ValueError, AttributeError) as exc:
            log.warning("refused a request with an invalid token: %s", exc)
            raise PermissionError("invalid token") from exc
        if result.connector_factory is not None:
            result.connector_factory = ReusedConnectors(
                result.connector_factory, _app_of(result.claims_identity), self._connectors
            )
        expires = (getattr(result.claims_identity, "claims", None) or {}).get("exp")
        if key is not None and isinstance(expires, int | float):
            self._validated[key] = (min(float(expires), self.now() + VALIDATED_FOR), result)
            while len(self._validated) > KEPT_TOKENS:
                self._validated.popitem(last=False)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> Any:
        return self._inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        """One client per app, reused: botbuilder makes one (and its HTTP session) for every turn."""
        app = _app_of(claims_identity)
        client = self._token_clients.get(app)
        if client is None:
            client = self._token_clients[app] = await self._inner.create_user_token_client(claims_identity)
        return client

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


# A validated token is trusted again without its signature checked for at most this long (and never
# after it expires), so that a signing key withdrawn in that time stops being accepted soon after.
VALIDATED_FOR = 300.0
KEPT_TOKENS = 1024  # a Bot Connector sends a handful of tokens an hour (one per region and app)
KEPT_CONNECTORS = 256  # service URLs (Teams has a handful per region) x apps x audiences


def _app_of(claims_identity: ClaimsIdentity | None) -> str:
    """The app a request's token was issued to (empty when authentication is off)."""
    claims = getattr(claims_identity, "claims", None) or {}
    return str(claims.get("aud") or claims.get("appid") or claims.get("azp") or "")


class ReusedConnectors(ConnectorFactory):  # type: ignore[misc]
    """botbuilder's connector factory, keeping each client it makes for its app, service URL and audience.

    botbuilder 4.17.1 makes a new ConnectorClient every turn, and with it new app credentials whose
    token cache starts empty: every reply would first fetch a token from Entra. A client (and its
    credentials, which renew their token themselves) is made once and reused.
    """

    def __init__(self, inner: ConnectorFactory, app: str, kept: dict[tuple[str, str, str | None], Any]) -> None:
        self._inner = inner
        self._app = app
        self._kept = kept

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (self._app, service_url, audience)
        client = self._kept.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if len(self._kept) >= KEPT_CONNECTORS:
                self._kept.clear()
            self._kept[key] = client
        return client


class _Unusual(Exception):
    """A value `wire` leaves to msrest."""


def wire(activity: Activity) -> dict[str, Any]:
    """The activity as JSON for the Bot Connector, as `activity.serialize()` makes it, but written
    directly from each model's attribute map: msrest walks every value (a card's too) through its
    generic machinery, which cost more than the rest of a turn. Anything unusual (a date, a
    flattened key, extra properties) goes to msrest after all."""
    try:
        return _model(activity)
    except _Unusual:
        return dict(activity.serialize())


def _model(model: Model) -> dict[str, Any]:
    # Keys msrest did not know when it read the incoming activity (Teams' conversation.tenantId, a
    # reply's addresses are copied from it) wait in `additional_properties`; msrest writes them only
    # where the attribute map names them (key ""), which the loop leaves to msrest, and drops them here.
    body: dict[str, Any] = {}
    for attribute, spec in model._attribute_map.items():
        value = getattr(model, attribute, None)
        if value is None:
            continue
        key, kind = spec["key"], spec["type"]
        if not key or "." in key:
            raise _Unusual
        body[key] = _value(value, kind)
    return body


def _value(value: Any, kind: str) -> Any:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Model):
        return _model(value)
    if isinstance(value, str | bool | int | float) and kind in {"str", "bool", "int", "float", "long", "object"}:
        return value
    if isinstance(value, list) and kind.startswith("[") and kind.endswith("]"):
        return [_value(item, kind[1:-1]) for item in value]
    if type(value) is dict and kind == "object":  # a card, as the cards module builds it: checked by `written`
        return value
    raise _Unusual


def written(activity: Activity) -> str:
    """The activity as the JSON text sent: `wire`'s, unless a value in it is not plain JSON (msrest's
    then, as botbuilder would send it). Writing the text is what checks a card, once."""
    try:
        return json.dumps(wire(activity), allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(activity.serialize())


def speed_up_msrest() -> None:
    """msrest rebuilds a retry list with `i not in safe_codes` over a 500-item list for every client,
    and botbuilder makes new clients every turn: a set makes that check cheap."""
    ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]


class ConnectorError(Exception):
    """The Bot Connector answered a send with an error: its status and headers, as msrest's errors
    carry them (`response.status_code`, `response.headers`), so retries read them the same way."""

    def __init__(self, status: int, headers: dict[str, str], body: str) -> None:
        super().__init__(f"the Bot Connector answered {status}: {body[:200]}")
        self.response = SimpleNamespace(status_code=status, headers=headers)


class RepliesFailed(Exception):
    """Some of a batch of replies did not arrive after their retries; the others were sent."""

    def __init__(self, failures: list[SendFailed | SendUnknown], of: int) -> None:
        super().__init__(f"{len(failures)} of {of} replies: " + "; ".join(str(f) for f in failures))
        self.failures = failures


class ReplyNotDelivered(Exception):
    """A turn's replies did not all reach Teams, after the turn's changes were committed and its state
    saved: the turn is done, so Teams must not deliver it again, nor the person be told it failed."""


class PlanTrackerAdapter(CloudAdapter):  # type: ignore[misc]
    """botbuilder's CloudAdapter, sending replies over one shared aiohttp session.

    botbuilder 4.17.1 sends through msrest's requests sender, which runs the synchronous `requests`
    library on the default thread pool (a handful of threads on a small machine), so concurrent
    turns queue for threads. Here a reply is one POST from the event loop, with the same URL, body
    and token the connector client would use; everything else (authentication, the turn, invoke
    responses) is botbuilder's own.
    """

    def __init__(
        self, auth: BotFrameworkAuthentication, send_timeout: float = SEND_TIMEOUT, retries: Retries = REPLY_RETRIES
    ) -> None:
        super().__init__(auth)
        self._http: aiohttp.ClientSession | None = None
        self.send_timeout = send_timeout
        self.retries = retries
        self.sleep: Sleep = asyncio.sleep  # waits between attempts and the time they count against
        self.clock: Callable[[], float] = time.monotonic

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.send_timeout))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        """Each activity in order, each retried by `retries`, all within one budget; one that does not
        arrive does not keep the next from being sent (RepliesFailed names them at the end)."""
        if not activities:
            raise TypeError("Expecting one or more activities, but the list was empty.")
        responses = []
        failures: list[SendFailed | SendUnknown] = []
        deadline = self.clock() + self.retries.budget
        for activity in activities:
            if activity.type in {"delay", ActivityTypes.invoke_response, ActivityTypes.trace}:
                responses.extend(await super().send_activities(context, [activity]))
                continue
            activity.id = None
            path = f"v3/conversations/{quote(activity.conversation.id, safe='')}/activities"
            if activity.reply_to_id:
                path += f"/{quote(activity.reply_to_id, safe='')}"
            try:
                body = await self._retried(context, "POST", activity, path, deadline)
            except (SendFailed, SendUnknown) as failure:
                failures.append(failure)
                responses.append(ResourceResponse(id=""))
                continue
            responses.append(ResourceResponse(id=str(body.get("id") or "")))
        if failures:
            raise RepliesFailed(failures, len(activities)) from failures[0].__cause__
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse | None:
        path = f"v3/conversations/{quote(activity.conversation.id, safe='')}/activities/{quote(activity.id, safe='')}"
        body = await self._retried(context, "PUT", activity, path, self.clock() + self.retries.budget)
        return ResourceResponse(id=str(body["id"])) if body.get("id") else None

    async def _retried(
        self, context: TurnContext, method: str, activity: Activity, path: str, deadline: float
    ) -> dict[str, Any]:
        """One send, retried unless the caller retries on its own (then its errors reach it as they are)."""
        if context.turn_state.get(CALLER_RETRIES):
            return await self._call(context, method, activity, path)

        def attempt() -> Awaitable[dict[str, Any]]:
            return self._call(context, method, activity, path)

        body, attempts = await retried(attempt, self.retries, sleep=self.sleep, clock=self.clock, deadline=deadline)
        if attempts > 1:
            log.info("a reply reached Teams at attempt %d", attempts)
        return body

    async def _call(self, context: TurnContext, method: str, activity: Activity, path: str) -> dict[str, Any]:
        client = context.turn_state.get(self.BOT_CONNECTOR_CLIENT_KEY)
        if client is None:
            raise RuntimeError("Unable to extract ConnectorClient from turn context.")
        base = str(client.config.base_url or activity.service_url).rstrip("/")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        credentials = client.config.credentials
        if credentials is not None and credentials._should_set_token(None):  # as msrest's signed session decides
            token = await asyncio.to_thread(credentials.get_access_token)  # cached by MSAL; a refresh may block
            headers["Authorization"] = f"Bearer {token}"
        data = written(activity)
        async with self.http().request(method, f"{base}/{path}", data=data, headers=headers) as response:
            text = await response.text()
            if response.status >= 400:
                raise ConnectorError(response.status, dict(response.headers), text)
            return dict(json.loads(text)) if text.strip().startswith("{") else {}


def create_adapter(settings: Settings) -> PlanTrackerAdapter:
    speed_up_msrest()
    auth = StrictAuthentication(ConfigurationBotFrameworkAuthentication(BotConfiguration(settings)))
    adapter = PlanTrackerAdapter(auth, settings.send_timeout)
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
        if isinstance(current, SendFailed | SendUnknown | RepliesFailed):  # a send to Teams, timed out or not
            return False
        if isinstance(current, OperationalError | InterfaceError | DisconnectionError | ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno is not None:
            return True
        current = current.__cause__ or current.__context__
    return False


async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """The one error boundary: log with the traceback, tell the person briefly, never show a trace.

    When the database is down the turn is handed back to the route (HTTP 503) so Teams retries it. A
    reply that could not be delivered once the turn was done is only logged: the turn happened, so no
    503 (Teams would run it again) and no apology (it would say the change was not made).
    """
    if isinstance(error, ReplyNotDelivered):
        cause = error.__cause__
        log.warning("the reply to activity %s was not delivered: %r", turn_context.activity.id, cause)
        return
    if database_down(error):
        log.warning("the database is unavailable; activity %s will be retried by Teams", turn_context.activity.id)
        raise DatabaseUnavailable from error
    log.error("turn failed for activity %s", turn_context.activity.id, exc_info=error)
    try:
        await turn_context.send_activity(messages.apology())
    except Exception:  # the apology is best effort; the failure is already logged
        log.exception("could not send the apology")

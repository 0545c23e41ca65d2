"""With an app id set, only requests carrying a valid Bot Framework token are processed.

Tokens are checked by botbuilder's own validation against OpenID metadata served here (in place of
login.botframework.com, which cannot be reached from tests), signed with a key made for the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from botbuilder.schema import Activity
from botframework.connector.auth import ChannelValidation
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from bot.addresses import remember
from bot.app import ADAPTER
from bot.settings import Settings, UnsafeConfigurationError
from storage.db import Database
from storage.models import Conversation
from storage.repositories import PartnershipRepository
from tests.harness import NCSCP_TENANT, NOW, Harness, ncscp_plan, start_harness, teams_user
from tests.teams import make_installation, make_message

APP_ID = "3f0c8a52-6b1d-4f7e-9a2c-5d4e3f2a1b0c"
ISSUER = "https://api.botframework.com"
KID = "test-signing-key"
RACHEL = teams_user(ncscp_plan(), "rachel.dunmore@ncscp.example.org")


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = _key()
OTHER_KEY = _key()


@pytest.fixture(scope="module")
def openid() -> Iterator[str]:
    """OpenID metadata and signing keys, as the Bot Framework publishes them (botbuilder fetches
    them with blocking `requests`, so this server runs in a thread of its own)."""
    jwk = json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    jwk.update(kid=KID, use="sig", endorsements=["msteams"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
            body = {"issuer": ISSUER, "jwks_uri": f"{base}/keys"} if self.path == "/openid" else {"keys": [jwk]}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/openid"
    server.shutdown()


@pytest.fixture
async def bot(demo_db: Database, openid: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    # The one change to botbuilder's production path: where it fetches the Bot Framework's keys.
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", openid)
    settings = Settings(
        database_url=demo_db.url,
        app_id=APP_ID,
        app_password="not-used-offline",
        app_tenant_id=NCSCP_TENANT,
        scheduler=False,
    )
    async for harness in start_harness(demo_db, settings):
        yield harness


def token(service_url: str, *, key: rsa.RSAPrivateKey = SIGNING_KEY, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 60, "exp": now + 3600}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": KID})


async def installed(demo_db: Database, conversation_id: str) -> bool:
    async with demo_db.transaction() as session:
        row = await session.scalar(select(Conversation).where(Conversation.conversation_id == conversation_id))
    return row is not None and row.removed_at is None


async def test_a_valid_token_is_accepted(bot: Harness, demo_db: Database) -> None:
    await _install_rachel(bot, demo_db)
    removal = make_installation("remove", RACHEL, bot.tenant, bot.connector.url)
    response = await bot.post(removal, {"Authorization": f"Bearer {token(bot.connector.url)}"})
    assert response.status == 201
    assert not await installed(demo_db, removal["conversation"]["id"])


BAD: dict[str, Callable[[str], str | None]] = {
    "no header": lambda url: None,
    "not a token": lambda url: "Bearer not-a-jwt",
    "another scheme": lambda url: f"Basic {token(url)}",
    "signed by another key": lambda url: f"Bearer {token(url, key=OTHER_KEY)}",
    "for another bot": lambda url: f"Bearer {token(url, aud='00000000-0000-4000-8000-000000000001')}",
    "expired": lambda url: f"Bearer {token(url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200)}",
    "from another issuer": lambda url: f"Bearer {token(url, iss='https://sts.example.org/')}",
    "for another service url": lambda url: f"Bearer {token('https://smba.example.org/')}",
}


@pytest.mark.parametrize("case", list(BAD))
async def test_a_request_without_a_valid_token_gets_401_and_changes_nothing(
    bot: Harness, demo_db: Database, case: str
) -> None:
    await _install_rachel(bot, demo_db)
    removal = make_installation("remove", RACHEL, bot.tenant, bot.connector.url)
    header = BAD[case](bot.connector.url)
    response = await bot.post(removal, {"Authorization": header} if header else {})
    assert response.status == 401
    assert await response.json() == {"error": "a valid Bot Framework token is required"}
    assert await installed(demo_db, removal["conversation"]["id"]), "the removal was not processed"
    assert bot.connector.take() == []


async def test_a_token_is_checked_once_and_trusted_only_for_its_service_and_its_time(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Bot Connector sends one token with every activity for its hour: its signature is checked
    once, not on every message; but never trusted for another service URL, after it expires, or for
    longer than five minutes without being checked again."""
    auth = bot.client.app[ADAPTER].bot_framework_authentication
    checked: list[str] = []
    check = auth._inner.authenticate_request

    async def counted(activity: Activity, header: str | None) -> Any:
        checked.append(activity.service_url)
        return await check(activity, header)

    monkeypatch.setattr(auth._inner, "authenticate_request", counted)

    async def status(header: str, service_url: str) -> int:
        response = await bot.post(make_message("help", RACHEL, bot.tenant, service_url), {"Authorization": header})
        return int(response.status)

    good = f"Bearer {token(bot.connector.url)}"
    assert [await status(good, bot.connector.url) for _ in range(3)] == [201, 201, 201]
    assert len(checked) == 1, "checked once"
    assert await status(good, "https://smba.example.org/") == 401, "the token names another service"
    assert len(checked) == 2
    real = time.time
    auth.now = lambda: real() + 301
    assert await status(good, bot.connector.url) == 201
    assert len(checked) == 3, "checked again after five minutes"
    short = f"Bearer {token(bot.connector.url, exp=int(real()) + 60)}"
    auth.now = real
    assert await status(short, bot.connector.url) == 201
    auth.now = lambda: real() + 61
    assert await status(short, bot.connector.url) == 201, "still within the validator's own leeway"
    assert len(checked) == 5, "a token past its expiry is never taken from what was checked"


async def _install_rachel(bot: Harness, demo_db: Database) -> None:
    """Record Rachel's personal chat directly, so that each test starts with it installed."""
    activity = Activity().deserialize(make_installation("add", RACHEL, bot.tenant, bot.connector.url))
    async with demo_db.transaction() as session:
        partnership = await PartnershipRepository(session).by_tenant(NCSCP_TENANT)
        assert partnership is not None
        await remember(session, activity, partnership, NCSCP_TENANT, NOW)


def test_anonymous_mode_is_refused_away_from_loopback() -> None:
    anonymous = Settings()
    anonymous.check_safe_to_serve("127.0.0.1")
    anonymous.check_safe_to_serve("::1")
    anonymous.check_safe_to_serve("localhost")
    with pytest.raises(UnsafeConfigurationError, match=r"refusing to listen on 0\.0\.0\.0 without MicrosoftAppId"):
        anonymous.check_safe_to_serve("0.0.0.0")
    with pytest.raises(UnsafeConfigurationError):
        anonymous.check_safe_to_serve("10.1.2.3")
    Settings(app_id=APP_ID, app_password="x", app_tenant_id=NCSCP_TENANT).check_safe_to_serve("0.0.0.0")


def test_incomplete_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match="MicrosoftAppTenantId is needed"):
        Settings(app_id=APP_ID, app_password="x")
    with pytest.raises(ValueError, match="MicrosoftAppPassword is needed for a SingleTenant bot"):
        Settings(app_id=APP_ID, app_tenant_id=NCSCP_TENANT)
    assert Settings(app_id=APP_ID, app_type="UserAssignedMSI", app_tenant_id=NCSCP_TENANT).app_type == "UserAssignedMSI"
    assert "x" not in repr(Settings(app_id=APP_ID, app_password="x", app_tenant_id=NCSCP_TENANT).app_password)


class FakeEntra:
    """In place of MSAL's ConfidentialClientApplication, which would ask Entra for the bot's own token:
    it hands out tokens as Entra does and keeps each in its own cache, as MSAL does."""

    issued = 0

    def __init__(self, client_id: str, client_credential: str, authority: str) -> None:
        self.cache: dict[str, Any] | None = None

    def acquire_token_silent(self, scopes: list[str], account: Any = None) -> dict[str, Any] | None:
        return self.cache

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        FakeEntra.issued += 1
        self.cache = {"access_token": f"bot-token-{FakeEntra.issued}", "expires_in": 3600}
        return self.cache


async def test_replies_reuse_the_bots_token_rather_than_asking_entra_each_time(
    bot: Harness, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botbuilder makes new credentials every turn, each with an empty token cache; the bot keeps its
    connector (and so its token) per service URL, so Entra is asked once, not once per reply."""
    from botframework.connector.auth import microsoft_app_credentials

    monkeypatch.setattr(microsoft_app_credentials, "ConfidentialClientApplication", FakeEntra)
    FakeEntra.issued = 0
    await _install_rachel(bot, demo_db)
    for text in ("my actions", "show 8.1", "what's overdue"):
        message = make_message(text, RACHEL, bot.tenant, bot.connector.url)
        response = await bot.post(message, {"Authorization": f"Bearer {token(bot.connector.url)}"})
        assert response.status in (200, 201)
    replies = bot.connector.take()
    assert len(replies) == 3
    assert FakeEntra.issued == 1

"""The Microsoft 365 Agents SDK's echo (microsoft-agents-hosting-aiohttp 1.9.0): an AgentApplication
with one message handler on its aiohttp CloudAdapter, anonymous through a ConnectionManager whose
provider is AnonymousTokenProvider, as in the SDK's quickstart.

Runs in its own environment (bench/.agents-venv, from bench/agents-requirements.lock), never the
product's; so this file imports nothing from the product or from the rest of bench, and the product's
mypy does not check it.

    bench/.agents-venv/bin/python bench/echo_agents.py --port P [--keys URL]

With --keys, authentication is on: the SDK's own JWT middleware checks tokens against the run's keys
(the one change: the SDK's table of Bot Framework key addresses points at the local one).
"""

from __future__ import annotations

import argparse

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    MemoryStorage,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.authorization import ConnectionManager
from microsoft_agents.hosting.core.authorization.jwt import jwt_token_validator

APP_ID = "3f0c8a52-6b1d-4f7e-9a2c-5d4e3f2a1b0c"
APP_TENANT = "6f1c2a4e-0c1d-4e7a-9b1a-2d3c4e5f6a01"
ISSUER = "https://api.botframework.com"


class CachedTokenProvider(AnonymousTokenProvider):
    """With authentication on, the SDK wants an outgoing token (MSAL would fetch one from Entra and
    cache it for an hour): a constant stands in for the warm cache, as for the botbuilder servers."""

    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        return "bench-outgoing-token"


def create_app(keys: str | None) -> web.Application:
    if keys:
        jwt_token_validator.BOTFRAMEWORK_JWKS_URIS = {ISSUER: keys}
        config = AgentAuthConfiguration(client_id=APP_ID, tenant_id=APP_TENANT, anonymous_allowed=False)
    else:
        config = AgentAuthConfiguration(anonymous_allowed=True)
    connections = ConnectionManager(
        lambda c: CachedTokenProvider() if keys else AnonymousTokenProvider(), {"SERVICE_CONNECTION": config}
    )
    adapter = CloudAdapter(connection_manager=connections)
    agent: AgentApplication[TurnState] = AgentApplication[TurnState](
        storage=MemoryStorage(), adapter=adapter, connection_manager=connections
    )

    @agent.activity("message")
    async def on_message(context: TurnContext, state: TurnState) -> None:
        await context.send_activity(f"Echo: {context.activity.text}")

    async def messages(request: web.Request) -> web.Response:
        return await start_agent_process(request, agent, adapter)

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application(middlewares=[jwt_authorization_middleware])
    app["agent_configuration"] = config
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/readyz", ready)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", help="the signing keys' URL; authentication on when given")
    args = parser.parse_args()
    web.run_app(create_app(args.keys), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

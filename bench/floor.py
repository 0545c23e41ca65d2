"""The floor: a bare aiohttp handler that parses the activity and posts one reply to its serviceUrl.

With --auth it checks the Bearer token with PyJWT against the run's keys (fetched once from the local
OpenID metadata, as any validator caches them), with the same claims botbuilder checks.

    python -m bench.floor --port P [--auth --openid URL]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import aiohttp
import jwt
from aiohttp import web

from bench.common import APP_ID, HOST, ISSUER, loopback

SESSION = web.AppKey("session", aiohttp.ClientSession)


def create_app(keys: dict[str, Any] | None) -> web.Application:
    app = web.Application()

    async def session_ctx(app: web.Application) -> Any:
        app[SESSION] = aiohttp.ClientSession()
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session_ctx)

    async def messages(request: web.Request) -> web.Response:
        activity = await request.json()
        if keys is not None:
            header = request.headers.get("Authorization", "")
            scheme, _, raw = header.partition(" ")
            try:
                kid = jwt.get_unverified_header(raw)["kid"]
                claims = jwt.decode(raw, keys[kid], algorithms=["RS256"], audience=APP_ID, issuer=ISSUER, leeway=300)
            except (jwt.PyJWTError, KeyError):
                return web.json_response({"error": "a valid Bot Framework token is required"}, status=401)
            if scheme != "Bearer" or claims.get("serviceurl") != activity.get("serviceUrl"):
                return web.json_response({"error": "a valid Bot Framework token is required"}, status=401)
        if activity.get("type") != "message":
            return web.json_response({"statusCode": 200, "type": "application/vnd.microsoft.activity.message"})
        reply = {
            "type": "message",
            "text": f"Echo: {activity.get('text', '')}",
            "from": activity.get("recipient"),
            "recipient": activity.get("from"),
            "conversation": activity.get("conversation"),
            "replyToId": activity.get("id"),
        }
        conversation = activity["conversation"]["id"]
        base = loopback(activity["serviceUrl"]).rstrip("/")
        url = f"{base}/v3/conversations/{conversation}/activities/{activity['id']}"
        async with request.app[SESSION].post(url, json=reply) as response:
            await response.read()
        return web.Response(status=201)

    app.router.add_post("/api/messages", messages)
    app.router.add_get("/readyz", lambda request: _ready())
    return app


async def _ready() -> web.Response:
    return web.json_response({"status": "ready"})


def load_keys(openid: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(loopback(openid)) as response:
        jwks_uri = json.load(response)["jwks_uri"]
    with urllib.request.urlopen(loopback(jwks_uri)) as response:
        found = json.load(response)["keys"]
    return {k["kid"]: jwt.PyJWK(k).key for k in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--openid", help="OpenID metadata URL; checks tokens when given")
    args = parser.parse_args()
    keys = load_keys(args.openid) if args.openid else None
    web.run_app(create_app(keys), host=HOST, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

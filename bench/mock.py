"""A fast mock Bot Connector that answers like Teams, and the OpenID metadata and keys tokens are checked
against (in place of login.botframework.com). One process, shared by every server of a run.

    python -m bench.mock --port P --jwks run/jwks.json

- POST /v3/conversations/{id}/activities[/{replyTo}] -> 201 {"id": ...}
- PUT /v3/conversations/{id}/activities/{activityId} -> 200 {"id": ...}
- GET /v3/conversations/{id}/members/{member} -> 404 MemberNotFoundInConversation (the bot knows the
  benchmark's people by their Entra object id, so it never needs to ask)
- POST /v3/conversations -> 200 a new conversation
- GET /openid, GET /keys: OpenID metadata and the run's signing key
- GET /stats: replies counted, and the last few replies' text (to check what the servers answered)
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import deque
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import HOST, ISSUER

_ids = itertools.count(1_800_000_000_000)


def create_app(jwks: dict[str, Any]) -> web.Application:
    app = web.Application()
    counts = {"posted": 0, "updated": 0, "members": 0, "created": 0}
    last: deque[str] = deque(maxlen=5)
    keys = json.dumps(jwks)

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        counts["posted"] += 1
        try:
            sent = json.loads(body)
        except ValueError:
            sent = {}
        last.append(str(sent.get("text") or sent.get("summary") or sent.get("attachments", ""))[:200])
        return web.json_response({"id": str(next(_ids))}, status=201)

    async def put(request: web.Request) -> web.Response:
        await request.read()
        counts["updated"] += 1
        return web.json_response({"id": request.match_info["activity"]})

    async def member(request: web.Request) -> web.Response:
        counts["members"] += 1
        body = {"error": {"code": "MemberNotFoundInConversation", "message": "The member was not found."}}
        return web.json_response(body, status=404)

    async def create(request: web.Request) -> web.Response:
        await request.read()
        counts["created"] += 1
        number = next(_ids)
        return web.json_response({"id": f"a:bench-{number}", "activityId": str(number)})

    async def openid(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{base}/keys"})

    async def signing_keys(request: web.Request) -> web.Response:
        return web.Response(text=keys, content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({**counts, "last": list(last)})

    app.router.add_post("/v3/conversations", create)
    app.router.add_post("/v3/conversations/{conversation}/activities", post)
    app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", post)
    app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", put)
    app.router.add_get("/v3/conversations/{conversation}/members/{member}", member)
    app.router.add_get("/openid", openid)
    app.router.add_get("/keys", signing_keys)
    app.router.add_get("/stats", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", type=Path, required=True)
    args = parser.parse_args()
    web.run_app(create_app(json.loads(args.jwks.read_text())), host=HOST, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

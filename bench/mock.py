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

The benchmark serves these answers with a bare HTTP/1.1 server on asyncio (`serve`): the connector
shares the machine's two cores with the servers measured, so it should take as little of them as it
can (a tenth of a millisecond a reply, a third of aiohttp's). The soak adds faults to them through an
aiohttp application (`create_app`), where a middleware can drop a connection or hold a reply.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import HOST, ISSUER

_ids = itertools.count(1_800_000_000_000)

ACTIVITIES = re.compile(r"^/v3/conversations/[^/]+/activities(?:/([^/]+))?$")
MEMBER = re.compile(r"^/v3/conversations/[^/]+/members/[^/]+$")
NOT_FOUND = {"error": {"code": "NotFound", "message": "No such route on the mock connector."}}


class Connector:
    """What the mock answers, whichever HTTP server carries it: (status, JSON body)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.counts = {"posted": 0, "updated": 0, "members": 0, "created": 0}
        self.last: deque[str] = deque(maxlen=5)
        self.keys = jwks

    def post(self, body: bytes) -> tuple[int, Any]:
        self.counts["posted"] += 1
        try:
            sent = json.loads(body)
        except ValueError:
            sent = {}
        self.last.append(str(sent.get("text") or sent.get("summary") or sent.get("attachments", ""))[:200])
        return 201, {"id": str(next(_ids))}

    def put(self, activity: str) -> tuple[int, Any]:
        self.counts["updated"] += 1
        return 200, {"id": activity}

    def member(self) -> tuple[int, Any]:
        self.counts["members"] += 1
        return 404, {"error": {"code": "MemberNotFoundInConversation", "message": "The member was not found."}}

    def create(self) -> tuple[int, Any]:
        self.counts["created"] += 1
        number = next(_ids)
        return 200, {"id": f"a:bench-{number}", "activityId": str(number)}

    def openid(self, host: str) -> tuple[int, Any]:
        return 200, {"issuer": ISSUER, "jwks_uri": f"http://{host}/keys"}

    def stats(self) -> tuple[int, Any]:
        return 200, {**self.counts, "last": list(self.last)}

    def answer(self, method: str, path: str, host: str, body: bytes) -> tuple[int, Any]:
        """Route a request as `create_app` does."""
        if method == "POST":
            if path == "/v3/conversations":
                return self.create()
            if ACTIVITIES.match(path):
                return self.post(body)
        elif method == "PUT":
            found = ACTIVITIES.match(path)
            if found and found.group(1):
                return self.put(found.group(1))
        elif method == "GET":
            if MEMBER.match(path):
                return self.member()
            if path == "/openid":
                return self.openid(host)
            if path == "/keys":
                return 200, self.keys
            if path == "/stats":
                return self.stats()
        return 404, NOT_FOUND


def create_app(jwks: dict[str, Any]) -> web.Application:
    """The connector as an aiohttp application (for the soak, which adds faults as middleware)."""
    app = web.Application()
    connector = Connector(jwks)

    def respond(answer: tuple[int, Any]) -> web.Response:
        return web.json_response(answer[1], status=answer[0])

    async def post(request: web.Request) -> web.Response:
        return respond(connector.post(await request.read()))

    async def put(request: web.Request) -> web.Response:
        await request.read()
        return respond(connector.put(request.match_info["activity"]))

    async def member(request: web.Request) -> web.Response:
        return respond(connector.member())

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return respond(connector.create())

    async def openid(request: web.Request) -> web.Response:
        return respond(connector.openid(request.host))

    async def signing_keys(request: web.Request) -> web.Response:
        return respond((200, connector.keys))

    async def stats(request: web.Request) -> web.Response:
        return respond(connector.stats())

    app.router.add_post("/v3/conversations", create)
    app.router.add_post("/v3/conversations/{conversation}/activities", post)
    app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", post)
    app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", put)
    app.router.add_get("/v3/conversations/{conversation}/members/{member}", member)
    app.router.add_get("/openid", openid)
    app.router.add_get("/keys", signing_keys)
    app.router.add_get("/stats", stats)
    return app


REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found"}


class _Http(asyncio.Protocol):
    """HTTP/1.1 as the benchmark's clients speak it: keep-alive, bodies with Content-Length or chunked."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self._one():
            pass

    def _one(self) -> bool:
        """Answer the first request in the buffer if it is all there; whether one was answered."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        method, target, version = [*lines[0].split(" ", 2), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _chunked(self.buffer, start)
            if decoded is None:
                return False
            body, consumed = decoded
        else:
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < start + length:
                return False
            body, consumed = bytes(self.buffer[start : start + length]), start + length
        del self.buffer[:consumed]
        status, payload = self.connector.answer(method, target.split("?", 1)[0], headers.get("host", ""), body)
        content = json.dumps(payload).encode()
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(content)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.write(head.encode() + content)
        if close:
            self.transport.close()
            self.transport = None
        return True


def _chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body from `start`, and where it ends; None if it has not all arrived."""
    body, at = bytearray(), start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";", 1)[0], 16)
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else None
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        at += size + 2


async def serve(connector: Connector, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Http(connector), host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(Connector(json.loads(args.jwks.read_text())), HOST, args.port))


if __name__ == "__main__":
    main()

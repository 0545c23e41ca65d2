"""Teams as the tests see it: Teams-shaped activities, and a Bot Connector that records replies.

The connector stands in for Microsoft's cloud service (which cannot run here) and behaves like it:
replies and proactive messages are accepted with an id, member look-ups answer from a roster or
with Teams' own 404 error body.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_ID = "28:7c2f3b1e-9a4d-4c1b-8e6f-0a1b2c3d4e5f"
BOT_NAME = "Plan Tracker"
_ids = itertools.count(1_700_000_000_000)


@dataclass
class TeamsUser:
    name: str
    aad_object_id: str
    email: str
    user_id: str = ""

    def __post_init__(self) -> None:
        if not self.user_id:
            self.user_id = f"29:1{self.aad_object_id.replace('-', '')[:20]}"

    def account(self) -> dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "aadObjectId": self.aad_object_id}

    def member(self) -> dict[str, Any]:
        """What Teams returns for GET .../members/{id}."""
        given, _, surname = self.name.partition(" ")
        return {
            **self.account(),
            "email": self.email,
            "userPrincipalName": self.email,
            "givenName": given,
            "surname": surname,
            "tenantId": "",
            "userRole": "user",
        }


@dataclass
class Channel:
    id: str
    name: str
    team_id: str = "19:team-ncscp@thread.tacv2"
    team_name: str = "NCSCP Partnership"

    def channel_data(self, tenant: str, *, with_names: bool = False) -> dict[str, Any]:
        """As Teams sends it: names only with channel and team events, never with messages."""
        channel: dict[str, Any] = {"id": self.id}
        team: dict[str, Any] = {"id": self.team_id, "aadGroupId": "b5a1c2d3-0000-4000-8000-00000000aa01"}
        if with_names:
            channel["name"] = self.name
            team["name"] = self.team_name
        return {
            "teamsChannelId": self.id,
            "teamsTeamId": self.team_id,
            "channel": channel,
            "team": team,
            "tenant": {"id": tenant},
        }


def personal_conversation(user: TeamsUser, tenant: str) -> dict[str, Any]:
    return {"conversationType": "personal", "tenantId": tenant, "id": f"a:1personal-{user.aad_object_id}"}


def make_message(
    text: str,
    user: TeamsUser,
    tenant: str,
    service_url: str,
    channel: Channel | None = None,
    value: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message as Teams posts it to /api/messages; in a channel it @mentions the bot, as Teams requires."""
    activity_id = str(next(_ids))
    entities: list[dict[str, Any]] = [
        {"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web", "timezone": "Europe/London"}
    ]
    if channel is not None:
        mention = f"<at>{BOT_NAME}</at>"
        text = f"{mention} {text}"
        entities.append({"type": "mention", "mentioned": {"id": BOT_ID, "name": BOT_NAME}, "text": mention})
        conversation = {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": tenant,
            "id": f"{channel.id};messageid={activity_id}",
        }
        channel_data = channel.channel_data(tenant)
    else:
        conversation = personal_conversation(user, tenant)
        channel_data = {"tenant": {"id": tenant}}
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id,
        "timestamp": "2026-11-23T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": user.account(),
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "textFormat": "plain",
        "locale": "en-GB",
        "text": text,
        "entities": entities,
        "channelData": channel_data,
    }
    if value is not None:
        activity["value"] = value
        activity["text"] = ""
    return activity


def make_invoke(verb: str, data: dict[str, Any], user: TeamsUser, tenant: str, service_url: str) -> dict[str, Any]:
    """An Adaptive Card Action.Execute, as Teams sends it: an invoke named adaptiveCard/action."""
    activity = make_message("", user, tenant, service_url)
    activity.pop("text")
    activity.update(
        type="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        replyToId="reply-1",
    )
    return activity


def make_installation(
    action: str, user: TeamsUser, tenant: str, service_url: str, channel: Channel | None = None
) -> dict[str, Any]:
    """installationUpdate (add or remove), personal or for a team."""
    if channel is None:
        conversation = personal_conversation(user, tenant)
        data: dict[str, Any] = {"tenant": {"id": tenant}, "source": {"name": "message"}}
    else:
        conversation = {"isGroup": True, "conversationType": "channel", "tenantId": tenant, "id": channel.team_id}
        data = {**channel.channel_data(tenant, with_names=True), "channel": {"id": channel.team_id}}
    return {**_event("installationUpdate", user, service_url, conversation, data), "action": action}


def make_channel_event(event: str, channel: Channel, user: TeamsUser, tenant: str, service_url: str) -> dict[str, Any]:
    """conversationUpdate with channelData.eventType: channelCreated, channelRenamed, channelDeleted, teamRenamed."""
    data = {**channel.channel_data(tenant, with_names=True), "eventType": event}
    conversation = {"isGroup": True, "conversationType": "channel", "tenantId": tenant, "id": channel.team_id}
    return _event("conversationUpdate", user, service_url, conversation, data)


def _event(
    kind: str, user: TeamsUser, service_url: str, conversation: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    """The envelope Teams puts around an event (no text, no entities)."""
    return {
        "type": kind,
        "id": f"f:{next(_ids)}",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": user.account(),
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "channelData": data,
    }


@dataclass
class Connector:
    """A Bot Connector service on a local port: records what the bot sends."""

    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)  # new threads (conversations) created
    # (status, headers) to answer the coming new-thread requests with, before accepting them
    fail_threads: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # how to answer the coming replies: (status, headers), "late" (answer after `late_by` seconds, when
    # the bot has given up) or "drop" (close the connection without an answer); then accept them
    fail_sends: list[tuple[int, dict[str, str]] | str] = field(default_factory=list)
    late_by: float = 1.0
    sent: list[dict[str, Any]] = field(default_factory=list)
    member_lookups: list[str] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_get("/v3/teams/{team}/conversations", self._team_channels)
        return app

    async def start(self) -> None:
        self.server = TestServer(self.app())
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def _failure(self) -> web.Response | None:
        """Teams' answer when it is throttling or unwell: the status given, with its error body."""
        if not self.fail_threads:
            return None
        status, headers = self.fail_threads.pop(0)
        body = {"error": {"code": "ServiceError" if status >= 500 else "Throttled", "message": f"status {status}"}}
        return web.json_response(body, status=status, headers=headers)

    async def _create(self, request: web.Request) -> web.Response:
        """POST /v3/conversations: a new thread in a channel, its first message in `activity`."""
        if (failure := self._failure()) is not None:
            return failure
        body = await request.json()
        channel = body["channelData"]["channel"]["id"]
        message_id = str(next(_ids))
        self.threads.append(body)
        return web.json_response({"id": f"{channel};messageid={message_id}", "activityId": message_id})

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.fail_sends:
            failure = self.fail_sends.pop(0)
            if isinstance(failure, tuple):
                status, headers = failure
                error = {"error": {"code": "ServiceError" if status >= 500 else "Throttled", "message": "failed"}}
                return web.json_response(error, status=status, headers=headers)
            if failure == "drop":
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=201)
            await asyncio.sleep(self.late_by)  # "late"
        body["_conversation"] = request.match_info["conversation"]
        self.sent.append(body)
        return web.json_response({"id": f"reply-{len(self.sent)}"})

    async def _member(self, request: web.Request) -> web.Response:
        member_id = request.match_info["member"]
        self.member_lookups.append(member_id)
        if member_id in self.members:
            return web.json_response(self.members[member_id])
        return web.json_response(
            {"error": {"code": "MemberNotFoundInConversation", "message": "The member was not found."}}, status=404
        )

    async def _team_channels(self, request: web.Request) -> web.Response:
        team = request.match_info["team"]
        known = [c for c in self.channels if c.team_id == team]
        if not known:
            return web.json_response({"error": {"code": "NotFound", "message": "Team not found."}}, status=404)
        general = {"id": team}  # Teams gives the General channel no name
        return web.json_response({"conversations": [general, *({"id": c.id, "name": c.name} for c in known)]})

    def take(self) -> list[dict[str, Any]]:
        sent, self.sent = self.sent, []
        return sent


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    attachments = activity.get("attachments") or []
    assert attachments, f"expected a card, got text: {activity.get('text')}"
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachments[0]["content"]
    return content


def card_texts(card: dict[str, Any]) -> list[str]:
    """Every piece of text a person would read on the card, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in {"TextBlock", "TextRun"}:
                found.append(node["text"])
            if node.get("type") == "FactSet":
                found.extend(f"{f['title']}: {f['value']}" for f in node["facts"])
            if node.get("type", "").startswith("Action.") and "title" in node:
                found.append(f"[{node['title']}]")
            for key, value in node.items():
                if key not in {"facts"}:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def refs_on(card: dict[str, Any]) -> list[str]:
    """The action references listed on a list card, in order."""
    refs = []
    for element in card["body"]:
        if element.get("type") == "ColumnSet" and element.get("selectAction", {}).get("data", {}).get("verb") == "show":
            refs.append(element["selectAction"]["data"]["ref"])
    return refs

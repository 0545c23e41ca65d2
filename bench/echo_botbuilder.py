"""botbuilder 4.17.1's stock echo bot, as in Microsoft's samples (02.echo-bot): an ActivityHandler
that echoes, on CloudAdapter, behind `POST /api/messages` with `adapter.process`.

    python -m bench.echo_botbuilder --port P [--shipped] [--openid URL]

By default with the msrest fix the product applies (`bot.adapter.speed_up_msrest`); --shipped runs
msrest as shipped. With --openid, authentication is on (the same app id, type and tenant as the bot).
"""

from __future__ import annotations

import argparse
from typing import Any

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from bench.common import APP_ID, APP_TENANT, HOST
from bench.patches import point_at_local_keys


class EchoBot(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))


class Config:
    PORT = 3978

    def __init__(self, auth: bool) -> None:
        self.APP_ID = APP_ID if auth else ""
        self.APP_PASSWORD = "not-used-offline" if auth else ""
        self.APP_TYPE = "SingleTenant" if auth else "MultiTenant"
        self.APP_TENANTID = APP_TENANT if auth else ""


def create_app(auth: bool) -> web.Application:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config(auth)))
    bot = EchoBot()

    async def messages(req: web.Request) -> Any:
        return await adapter.process(req, bot)

    async def ready(req: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/readyz", ready)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--shipped", action="store_true", help="msrest as shipped (without the product's fix)")
    parser.add_argument("--openid", help="OpenID metadata URL; authentication on when given")
    args = parser.parse_args()
    if not args.shipped:
        from bot.adapter import speed_up_msrest

        speed_up_msrest()
    if args.openid:
        point_at_local_keys(args.openid)
    web.run_app(create_app(bool(args.openid)), host=HOST, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

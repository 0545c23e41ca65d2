"""The only changes the benchmark makes to botbuilder's production path, in the server processes it
starts (the Plan Tracker and the botbuilder echo alike), so that nothing leaves this machine:

- incoming tokens are checked against OpenID metadata served by the mock (not login.botframework.com),
  exactly as tests/test_auth.py does;
- the outgoing token (which MSAL would fetch from Entra and then cache for an hour) is a constant,
  which is what a warm MSAL cache returns. The Agents SDK echo sends anonymously (AnonymousTokenProvider),
  so both skip the same network call.
"""

from __future__ import annotations

from typing import Any


def point_at_local_keys(openid: str) -> None:
    from botframework.connector.auth import ChannelValidation, MicrosoftAppCredentials

    from bench.common import loopback

    ChannelValidation.open_id_metadata_endpoint = loopback(openid)

    def cached_token(self: Any, force_refresh: bool = False) -> str:
        return "bench-outgoing-token"

    MicrosoftAppCredentials.get_access_token = cached_token

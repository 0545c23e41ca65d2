"""What every process of the benchmark shares: addresses, the app's identity, tokens and activities."""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

HOST = "127.0.0.1"  # every server of the benchmark listens here, and every request goes here
APP_ID = "3f0c8a52-6b1d-4f7e-9a2c-5d4e3f2a1b0c"
APP_TENANT = "6f1c2a4e-0c1d-4e7a-9b1a-2d3c4e5f6a01"
ISSUER = "https://api.botframework.com"
KID = "bench-signing-key"
BOT_ID = "28:7c2f3b1e-9a4d-4c1b-8e6f-0a1b2c3d4e5f"
BOT_NAME = "Plan Tracker"
ROOT = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def loopback(url: str) -> str:
    """Refuse any address but loopback: the benchmark sends traffic nowhere else."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError(f"the benchmark only talks to loopback addresses, not {url}")
    return url


def make_key(folder: Path) -> Path:
    """A fresh RSA key for this run: its private half signs tokens, its public half is served as a JWK."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = folder / "signing-key.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=KID, use="sig", endorsements=["msteams"])
    (folder / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    return pem


def token(pem: Path, service_url: str) -> str:
    """A Bot Framework channel token as Teams sends it (one is reused for an hour, as Teams does)."""
    key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 60, "exp": now + 3600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})  # type: ignore[arg-type]


_NONCE = uuid.uuid4().hex[:10]
_ids = itertools.count(1)


def activity_id() -> str:
    """Unique across runs and processes, so that the bot never takes a request for a resent one."""
    return f"{_NONCE}{os.getpid()}{next(_ids):08d}"


def account(user: dict[str, str]) -> dict[str, str]:
    return {"id": user["user_id"], "name": user["name"], "aadObjectId": user["aad"]}


def message(text: str, user: dict[str, str], tenant: str, service_url: str) -> dict[str, Any]:
    """A message in the person's 1:1 chat with the bot, shaped as Teams posts it."""
    return {
        "type": "message",
        "id": activity_id(),
        "timestamp": "2026-11-23T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": account(user),
        "conversation": {"conversationType": "personal", "tenantId": tenant, "id": f"a:1personal-{user['aad']}"},
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "textFormat": "plain",
        "locale": "en-GB",
        "text": text,
        "entities": [
            {"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web", "timezone": "Europe/London"}
        ],
        "channelData": {"tenant": {"id": tenant}},
    }


def invoke(verb: str, data: dict[str, Any], user: dict[str, str], tenant: str, service_url: str) -> dict[str, Any]:
    """An Adaptive Card Action.Execute: an invoke named adaptiveCard/action."""
    activity = message("", user, tenant, service_url)
    activity.pop("text")
    activity.update(
        type="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        replyToId="1700000000001",
    )
    return activity


def user(name: str, email: str, aad: str) -> dict[str, str]:
    return {"name": name, "email": email, "aad": aad, "user_id": f"29:1{aad.replace('-', '')[:20]}"}

"""Links the bot hands out that only work for a while: signed with a secret, carrying their expiry,
checked without storing anything (so any replica that shares the secret can serve them)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock

LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class PaperLinks:
    secret: bytes
    base_url: str
    clock: Clock
    lifetime: timedelta = LIFETIME

    def make(self, partnership_id: int) -> str:
        expires = int((self.clock.now() + self.lifetime).timestamp())
        payload = f"{partnership_id}.{expires}"
        return f"{self.base_url.rstrip('/')}/papers/{payload}.{self._sign(payload)}"

    def check(self, token: str) -> int | None:
        """The partnership a valid, unexpired token is for; None for anything else."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(payload), parts[2]):
            return None
        if int(parts[1]) <= self.clock.now().timestamp():
            return None
        return int(parts[0])

    def seal(self, text: str) -> str:
        """A signature of `text` only this deployment can make: a card's "save anyway" is bound by it
        to the exact note it warned about."""
        return self._sign(f"seal:{text}")

    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()

"""Sending to Teams again when it asks: which answers are worth another attempt, how long to wait, and
when to stop. One policy for replies and proactive messages; each use says which statuses it retries
and whether a send that may already have arrived (a timeout, a dropped connection) is tried again."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

# Teams' "try again later" answers (Bot Framework: 412, 429, 502, 503, 504).
RETRY = frozenset({412, 429, 502, 503, 504})
# Set in a turn's state by a caller that retries on its own (bot.messenger): the adapter sends once.
CALLER_RETRIES = "plan_tracker.caller_retries"


class SendFailed(Exception):
    """The message did not arrive (Teams refused it, or kept answering 'try later')."""


class SendUnknown(Exception):
    """The message may have arrived (the request timed out or the connection dropped mid-way)."""


@dataclass(frozen=True)
class Retries:
    attempts: int = 5
    base: float = 1.0  # seconds, doubled each retry (the first wait is twice this, less jitter)
    cap: float = 60.0  # the longest single wait, Retry-After included
    budget: float = math.inf  # seconds from the first attempt after which no wait begins
    statuses: frozenset[int] = RETRY
    unknown: bool = False  # try again after a timeout or a dropped connection (it may have arrived)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.cap))
        return float(min(self.cap, self.base * 2.0**attempt)) * random.uniform(0.5, 1.0)  # jitter


def status_of(error: BaseException) -> tuple[int | None, float | None]:
    """The HTTP status and Retry-After of a connector error, if it carries them."""
    response: Any = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    headers = getattr(response, "headers", None) or {}
    after = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        retry_after = float(after) if after is not None else None
    except ValueError:
        retry_after = None
    return (int(status) if status else None), retry_after


def unknown_outcome(error: BaseException) -> bool:
    """Did the request reach Teams with no answer back? (A refused connection never reached it.)"""
    if isinstance(error, aiohttp.ClientConnectorError):
        return False
    # ServerDisconnectedError, and ClientOSError such as a reset connection: mid-request
    return isinstance(
        error, TimeoutError | aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientPayloadError
    )


async def retried(
    send: Callable[[], Awaitable[T]],
    policy: Retries,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
    deadline: float | None = None,
) -> tuple[T, int]:
    """Run `send`, again after the failures `policy` retries; its result and the attempts it took.

    Gives up with SendFailed (it did not arrive) or SendUnknown (the last attempt may have arrived)
    after `policy.attempts`, or when the next wait would end past `deadline` (by default the policy's
    budget from now); the message names the status or the failure, never what was sent.
    """
    end = deadline if deadline is not None else clock() + policy.budget
    for attempt in range(1, policy.attempts + 1):
        try:
            return await send(), attempt
        except Exception as exc:
            status, retry_after = status_of(exc)
            unknown = status is None and unknown_outcome(exc)
            what = str(status) if status else exc.__class__.__name__
            if unknown and not policy.unknown:
                raise SendUnknown(f"no answer from Teams ({what}); it may have been delivered") from exc
            retry = unknown or status in policy.statuses or isinstance(exc, aiohttp.ClientConnectorError)
            if not retry:
                raise SendFailed(f"Teams refused the message ({what})") from exc
            if status:
                kept = f"Teams kept answering {status}"
            elif unknown:
                kept = f"no answer from Teams ({what}); it may have been delivered"
            else:
                kept = f"could not reach Teams ({what})"
            failure = SendUnknown if unknown else SendFailed
            if attempt == policy.attempts:
                raise failure(f"{kept} after {attempt} attempts") from exc
            wait = policy.backoff(attempt, retry_after)
            if clock() + wait > end:
                raise failure(f"{kept}, {attempt} attempts in the time allowed") from exc
            log.info("a send to Teams failed (%s); trying again in %.1fs (attempt %d)", what, wait, attempt)
            await sleep(wait)
    raise AssertionError("unreachable")

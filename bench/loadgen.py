"""The load generator: an aiohttp client in a process of its own, sending Teams-shaped activities.

    python -m bench.loadgen spec.json   (prints the figures as JSON)

Bounded: it stops after `requests` requests or `seconds` seconds, whichever comes first, and every
request has a timeout. It only talks to loopback addresses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.common import invoke, loopback, message

CASES = ("my_actions", "overdue", "show", "update", "card")
TIMEOUT = 30.0


@dataclass(frozen=True)
class Spec:
    url: str
    case: str
    people: dict[str, dict[str, str]]  # lead, admin, updater
    tenant: str
    service_url: str
    concurrency: int
    requests: int
    seconds: float
    warmup: int = 5
    token: str | None = None
    refs: tuple[str, str] = ("4.2", "7.3")  # the one-message update's action, the card update's


_notes = itertools.count(1)


def activity(spec: Spec, case: str) -> dict[str, Any]:
    """One request of a case; updates carry a note of their own, every activity an id of its own."""
    p, t, s = spec.people, spec.tenant, spec.service_url
    if case == "my_actions":
        return message("my actions", p["lead"], t, s)
    if case == "overdue":
        return message("what's overdue?", p["admin"], t, s)
    if case == "show":
        return message(f"show {spec.refs[0]}", p["updater"], t, s)
    if case == "update":
        n = next(_notes)
        rag = ("amber", "green")[n % 2]
        return message(
            f"{spec.refs[0]} {rag}: partner returns reviewed, round {n} of the benchmark", p["updater"], t, s
        )
    if case == "card":
        n = next(_notes)
        data = {"verb": "save_update", "ref": spec.refs[1], "rag": "green", "note": f"Card update {n}, audit on track"}
        return invoke("save_update", data, p["updater"], t, s)
    if case == "echo":
        return message("my actions", p["lead"], t, s)
    raise ValueError(f"unknown case {case}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def run(spec: Spec) -> dict[str, Any]:
    loopback(spec.url)
    headers = {"Authorization": f"Bearer {spec.token}"} if spec.token else {}
    expected = {200} if spec.case == "card" else {200, 201, 202}
    took: list[float] = []
    errors: list[str] = []
    last_body = [b""]
    connector = aiohttp.TCPConnector(limit=spec.concurrency)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:

        async def one() -> None:
            body = activity(spec, spec.case)
            start = time.perf_counter()
            try:
                async with session.post(spec.url, json=body) as response:
                    text = await response.read()
                    last_body[0] = text
                    if response.status not in expected:
                        errors.append(f"HTTP {response.status}: {text[:200]!r}")
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            took.append((time.perf_counter() - start) * 1000)

        for _ in range(spec.warmup):
            await one()
        took.clear()
        errors.clear()
        sent = itertools.count()
        deadline = time.perf_counter() + spec.seconds

        async def worker() -> None:
            while next(sent) < spec.requests and time.perf_counter() < deadline:
                await one()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
        elapsed = time.perf_counter() - start
    done = len(took)
    return {
        "requests": done + len(errors),
        "ok": done,
        "errors": len(errors),
        "error_sample": errors[:3],
        "seconds": round(elapsed, 3),
        "p50_ms": round(percentile(took, 0.50), 2),
        "p90_ms": round(percentile(took, 0.90), 2),
        "p99_ms": round(percentile(took, 0.99), 2),
        "mean_ms": round(sum(took) / done, 2) if done else float("nan"),
        "throughput": round(done / elapsed, 1) if elapsed else 0.0,
        "last_body": last_body[0][:200].decode(errors="replace"),
    }


def main() -> None:
    raw = json.loads(open(sys.argv[1]).read())  # noqa: SIM115
    raw["refs"] = tuple(raw.get("refs", ("4.2", "7.3")))
    print(json.dumps(asyncio.run(run(Spec(**raw)))))


if __name__ == "__main__":
    main()

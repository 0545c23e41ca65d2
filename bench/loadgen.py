"""The load generator: a bare HTTP/1.1 client on asyncio in a process of its own, sending Teams-shaped
activities over one keep-alive connection per concurrent sender.

    python -m bench.loadgen spec.json   (prints the figures as JSON)

A spec with `targets` (a spec for each of several servers) sends one request to each in turn, at
concurrency 1, and prints each server's figures.

Bounded: it stops after `requests` requests or `seconds` seconds, whichever comes first, and every
request has a timeout. It only talks to loopback addresses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.common import HOST, invoke, loopback, message

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


class Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a client can be: the load generator shares the
    machine's cores with the server it measures, so each request should cost it as little as it can
    (about a fifth of aiohttp's client). Bodies come with Content-Length or chunked."""

    def __init__(self, url: str, token: str | None) -> None:
        parts = urlsplit(loopback(url))
        self.host, self.port = parts.hostname or HOST, parts.port or 80
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.head = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{auth}"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip().lower()
            if "chunked" in headers.get("transfer-encoding", ""):
                content = await self._chunked()
            else:
                content = await self.reader.readexactly(int(headers.get("content-length") or 0))
        except BaseException:
            self.close()  # a connection left mid-answer is of no further use
            raise
        if headers.get("connection") == "close":
            self.close()
        return status, content

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        body = bytearray()
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16):
            body += await self.reader.readexactly(size + 2)
            del body[-2:]
        while await self.reader.readuntil(b"\r\n") != b"\r\n":  # trailers
            pass
        return bytes(body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Sender:
    """Sends one case's activities to one server over one connection, and keeps what each took."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.connection = Connection(spec.url, spec.token)
        self.expected = {200} if spec.case == "card" else {200, 201, 202}
        self.took: list[float] = []
        self.errors: list[str] = []
        self.last_body = b""

    async def one(self) -> None:
        body = json.dumps(activity(self.spec, self.spec.case)).encode()
        start = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT):
                status, text = await self.connection.post(body)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        self.last_body = text
        if status not in self.expected:
            self.errors.append(f"HTTP {status}: {text[:200]!r}")
            return
        self.took.append((time.perf_counter() - start) * 1000)

    def forget(self) -> None:
        """After the warm-up: the figures are of what follows."""
        self.took.clear()
        self.errors.clear()


def figures(senders: list[Sender], elapsed: float, cpu: float) -> dict[str, Any]:
    took = [t for s in senders for t in s.took]
    errors = [e for s in senders for e in s.errors]
    done = len(took)
    last_body = next((s.last_body for s in reversed(senders) if s.last_body), b"")
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
        # this process's own CPU time per request sent: what the load takes from the cores it shares
        "client_cpu_ms_per_request": round(1000 * cpu / sent_all, 3) if (sent_all := done + len(errors)) else math.nan,
        "last_body": last_body[:200].decode(errors="replace"),
    }


async def run(spec: Spec) -> dict[str, Any]:
    senders = [Sender(spec) for _ in range(spec.concurrency)]
    try:
        for _ in range(spec.warmup):
            await senders[0].one()
        senders[0].forget()
        sent = itertools.count()
        deadline = time.perf_counter() + spec.seconds

        async def worker(sender: Sender) -> None:
            while next(sent) < spec.requests and time.perf_counter() < deadline:
                await sender.one()

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(s) for s in senders))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        for sender in senders:
            sender.connection.close()
    return figures(senders, elapsed, cpu)


async def interleaved(specs: list[Spec]) -> list[dict[str, Any]]:
    """One request to each server in turn, one at a time, until each has had `requests` (or `seconds`
    have gone): the servers are measured in the same minutes, so that a machine whose speed drifts
    from one minute to the next moves them alike and their ratios hold. Each server's own figures."""
    senders = [Sender(spec) for spec in specs]
    try:
        for _ in range(max(spec.warmup for spec in specs)):
            for sender in senders:
                await sender.one()
        for sender in senders:
            sender.forget()
        deadline = time.perf_counter() + sum(spec.seconds for spec in specs)
        start, cpu = time.perf_counter(), time.process_time()
        for round_ in range(max(spec.requests for spec in specs)):
            if time.perf_counter() >= deadline:
                break
            first = round_ % len(senders)  # each server goes first in turn: none always follows another
            for sender in senders[first:] + senders[:first]:
                await sender.one()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        for sender in senders:
            sender.connection.close()
    found = [figures([s], elapsed, cpu / len(senders)) for s in senders]
    for result in found:
        result["throughput"] = math.nan  # not measured: the servers took turns, one request at a time
    return found


def _spec(raw: dict[str, Any]) -> Spec:
    return Spec(**{**raw, "refs": tuple(raw.get("refs", ("4.2", "7.3")))})


def main() -> None:
    raw = json.loads(open(sys.argv[1]).read())  # noqa: SIM115
    if "targets" in raw:  # several servers, one request to each in turn
        print(json.dumps(asyncio.run(interleaved([_spec(t) for t in raw["targets"]]))))
    else:
        print(json.dumps(asyncio.run(run(_spec(raw)))))


if __name__ == "__main__":
    main()

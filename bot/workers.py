"""`planbot serve --workers N`: N processes serving one port, each with its own event loop and database pool.

The parent opens N listening sockets on the address, all with SO_REUSEPORT, so that a port already in
use is reported once, before any worker starts; then it forks one worker per socket. The kernel spreads
new connections evenly across the sockets (by a hash of each connection's addresses), so each worker
accepts its own share rather than whichever wakes first taking them all.

The parent then only supervises. SIGTERM or SIGINT is passed on to every worker as SIGTERM (each stops
taking connections, finishes the requests it has and closes its database pool) and the parent exits
when they have. If a worker stops when it was not asked to, the parent stops the others and exits
non-zero: whatever runs `planbot serve` (systemd, a container platform) then restarts the whole server,
with its own back-off and in its own logs, rather than a crash loop hiding behind a port that answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType

from aiohttp import web

log = logging.getLogger(__name__)

BACKLOG = 128  # as aiohttp's own sites
WATCH_INTERVAL = 0.2  # seconds between the parent's looks at its workers
LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"  # which worker wrote the line


class WorkersUnavailableError(Exception):
    """Several workers cannot be run here (no fork, or no SO_REUSEPORT: not Linux or another Unix)."""


def check_available() -> None:
    if not hasattr(os, "fork") or not hasattr(socket, "SO_REUSEPORT"):
        raise WorkersUnavailableError(f"--workers above 1 needs a Unix system with SO_REUSEPORT ({sys.platform})")


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on one address, each with SO_REUSEPORT (port 0: all on the port the first got)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[
        0
    ]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            address = sock.getsockname()
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def _serve(app: web.Application, sock: socket.socket, name: str) -> None:
    """Serve `app` on `sock` until SIGTERM, then stop as `web.run_app` does (requests in hand are finished)."""
    stop = asyncio.Event()
    # Before the app starts (which takes a second or two): a SIGTERM meanwhile stops it once it has.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # a second SIGTERM changes nothing
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        log.info("%s is serving", name)
        await stop.wait()
    finally:
        await runner.cleanup()


def _worker(index: int, count: int, sock: socket.socket, make_app: Callable[[int], web.Application]) -> int:
    """The body of a forked worker; its exit code."""
    name = f"worker {index + 1} of {count}"
    try:
        asyncio.run(_serve(make_app(index), sock, name))
    except Exception:
        log.exception("%s failed", name)
        return 1
    return 0


def run_workers(host: str, port: int, count: int, make_app: Callable[[int], web.Application]) -> int:
    """Serve `make_app(i)` for i in range(count), each in a forked process on its own SO_REUSEPORT
    socket; supervise them; the exit code for the command (0 when stopped by a signal, 1 if a worker
    stopped unasked or failed)."""
    check_available()
    sockets = listening_sockets(host, port, count)
    children: dict[int, int] = {}
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop_all) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index, sock in enumerate(sockets):
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the worker: never returns into the command line
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which passes it on
                code = 1
                try:
                    for other in sockets:
                        if other is not sock:
                            other.close()
                    code = _worker(index, count, sock, make_app)
                finally:
                    logging.shutdown()
                    os._exit(code)
            children[pid] = index
            if stopping:  # a signal came while forking: this worker is told too
                stop_all()
        for sock in sockets:
            sock.close()  # the workers hold their own
        failed = False
        while children:
            # Each worker by its pid (not os.wait(), which would also reap a playground started beside it).
            for pid, index in list(children.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    continue
                del children[pid]
                code = os.waitstatus_to_exitcode(status)
                if not stopping:
                    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                    log.error("worker %d of %d (pid %d) %s; stopping the others", index + 1, count, pid, how)
                    failed = True
                    stop_all()
                elif code not in (0, -signal.SIGTERM):  # told to stop before it could say how
                    failed = True
            time.sleep(WATCH_INTERVAL)
        return 1 if failed else 0
    finally:
        if children:  # the parent itself failed: no worker is left behind
            stop_all()
        for signum, handler in previous.items():
            signal.signal(signum, handler)

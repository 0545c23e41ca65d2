"""`make bench`: every figure of issue 11 in one run on one machine. See bench/README.md.

python -m bench [--quick] [--cases my_actions,overdue] [--sizes demo] [--backends sqlite]
                [--auth anonymous,authenticated] [--concurrency 1,16] [--no-baselines] [--no-timings]
                [--profile] [--requests N] [--seconds S] [--workers N]
"""

from __future__ import annotations

import argparse
import platform
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.common import APP_ID, APP_TENANT, HOST, ROOT, free_port, make_key, token
from bench.data import DATA_VERSION, SIZES, data_made, drop_working, personas, pg_available, prepare, working_copy
from bench.loadgen import CASES
from bench.servers import AGENTS_PYTHON, Server, mock_stats, run_load, run_together

WORKERS_CONCURRENCY = 16
BASELINES = ("floor", "botbuilder_echo", "botbuilder_echo_shipped", "agents_echo")
RESULTS = ROOT / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="demo plans, SQLite, anonymous, my actions; short loops")
    p.add_argument("--cases", help=f"default: {','.join(CASES)}")
    p.add_argument("--sizes", help=f"default: {','.join(SIZES)}")
    p.add_argument("--backends", help="default: sqlite,postgresql")
    p.add_argument("--auth", help="default: anonymous,authenticated")
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--baselines", default=",".join(BASELINES))
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--no-timings", action="store_true")
    p.add_argument(
        "--no-side-by-side",
        action="store_true",
        help="with several sizes, do not also measure them side by side (every size's server at once, "
        "one request to each in turn, at concurrency 1)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="cProfile of one case at concurrency 16, anonymous (each database and size; --profile-case)",
    )
    p.add_argument(
        "--profile-case",
        default="my_actions",
        choices=CASES,
        help="the case --profile profiles (default my_actions)",
    )
    p.add_argument(
        "--requests", type=int, default=0, help="most requests per measurement (default 300 at c1, 1000 above)"
    )
    p.add_argument("--seconds", type=float, default=0, help="most seconds per measurement (default 10)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="also run `planbot serve --workers N` for 'my actions' at concurrency 16 and print its throughput "
        "against one worker's (default 2; --quick: 1, not run)",
    )
    args = p.parse_args(argv)
    full = {"cases": ",".join(CASES), "sizes": ",".join(SIZES), "backends": "sqlite,postgresql"}
    full["auth"] = "anonymous,authenticated"
    quick = {"cases": "my_actions", "sizes": "demo", "backends": "sqlite", "auth": "anonymous"}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.workers is None:
        args.workers = 1 if args.quick else 2
    if args.quick:
        args.no_timings = True
        args.requests = args.requests or 150
        args.seconds = args.seconds or 5
    return args


def split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stamp = datetime.now().astimezone().strftime("%Y-%m-%d-%H%M")
        self.work = ROOT / ".runs" / self.stamp
        self.work.mkdir(parents=True, exist_ok=True)
        self.pem = make_key(self.work)
        self.mock_port = free_port()
        self.service_url = f"http://{HOST}:{self.mock_port}"
        self.openid = f"{self.service_url}/openid"
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.servers: list[Server] = []
        self.mock: Server | None = None

    def log(self, text: str) -> None:
        print(text, flush=True)

    def server(self, name: str, argv: list[str], env: dict[str, str] | None = None, workers: int = 1) -> Server:
        server = Server(name, argv, free_port(), self.work / f"{name}.log", env or {}, workers=workers)
        server.argv = [a.replace("{port}", str(server.port)) for a in argv]
        self.servers.append(server)
        return server

    def spec(self, server: Server, case: str, concurrency: int, auth: bool, people: Any, tenant: str) -> dict[str, Any]:
        """What the load generator sends to one server (`bench.loadgen.Spec`)."""
        return {
            "url": server.url,
            "case": case,
            "people": people,
            "tenant": tenant,
            "service_url": self.service_url,
            "concurrency": concurrency,
            "requests": self.args.requests or (300 if concurrency == 1 else 1000),
            "seconds": self.args.seconds or 10.0,
            "warmup": 5 if concurrency == 1 else 16,
            "token": token(self.pem, self.service_url) if auth else None,
        }

    def load(self, server: Server, case: str, concurrency: int, auth: bool, people: Any, tenant: str) -> dict[str, Any]:
        spec = self.spec(server, case, concurrency, auth, people, tenant)
        before = mock_stats(self.mock_port)
        cpu = server.cpu_seconds()
        connector = self.mock.cpu_seconds() if self.mock else float("nan")
        result = run_load(spec, self.work)
        cpu = server.cpu_seconds() - cpu
        connector = (self.mock.cpu_seconds() if self.mock else float("nan")) - connector
        after = mock_stats(self.mock_port)
        result["replies"] = int(after["posted"]) - int(before["posted"])  # type: ignore[call-overload]
        result["last_reply"] = (after["last"] or [""])[-1][:300]  # type: ignore[index]
        # The server's CPU time per request, warm-up included: what a turn costs whatever else the machine
        # runs (with several workers, their sum), where throughput depends on the cores left free.
        sent = int(result["ok"]) + int(result["errors"]) + int(spec["warmup"])  # type: ignore[call-overload]
        result["cpu_ms_per_request"] = round(1000 * cpu / sent, 2) if sent else float("nan")
        # What the mock connector spent on each request's reply (and the stats calls): beside the load
        # generator's own (`client_cpu_ms_per_request`), the share of the cores the server did not get.
        result["connector_cpu_ms_per_request"] = round(1000 * connector / sent, 2) if sent else float("nan")
        return result

    def measure(
        self,
        server: Server,
        label: dict[str, Any],
        cases: list[str],
        auth: bool,
        size: str,
        concurrencies: list[int] | None = None,
    ) -> None:
        who = personas(size) if size != "-" else personas("demo")
        for case in cases:
            for concurrency in concurrencies or list(map(int, split(self.args.concurrency))):
                result = self.load(server, case, concurrency, auth, who.people(), who.tenant)
                row = {**label, "case": case, "concurrency": concurrency, **result, **server.memory()}
                row["startup_s"] = round(server.startup_s or float("nan"), 2)
                self.rows.append(row)
                self.log(report.line(row))

    def baselines(self, auth: bool) -> None:
        mode = "authenticated" if auth else "anonymous"
        for name in split(self.args.baselines):
            if name == "agents_echo" and not AGENTS_PYTHON.exists():
                self.notes.append(
                    "the Agents SDK echo was not run: bench/.agents-venv is missing (make bench makes it)"
                )
                continue
            argv = {
                "floor": [sys.executable, "-m", "bench.floor", "--port", "{port}"],
                "botbuilder_echo": [sys.executable, "-m", "bench.echo_botbuilder", "--port", "{port}"],
                "botbuilder_echo_shipped": [
                    sys.executable,
                    "-m",
                    "bench.echo_botbuilder",
                    "--shipped",
                    "--port",
                    "{port}",
                ],
                "agents_echo": [str(AGENTS_PYTHON), str(ROOT / "echo_agents.py"), "--port", "{port}"],
            }[name]
            if auth:
                argv += ["--keys", f"{self.service_url}/keys"] if name == "agents_echo" else ["--openid", self.openid]
            server = self.server(f"{name}-{mode}", argv)
            try:
                server.start()
                self.measure(server, {"server": name, "auth": mode, "backend": "-", "size": "-"}, ["echo"], auth, "-")
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                self.notes.append(f"{name} ({mode}) failed: {exc}")
                self.log(f"FAILED: {name} ({mode}): {exc}")
            finally:
                server.stop()

    def planbot(self, auth: bool, backend: str, size: str, profile: Path | None = None, workers: int = 1) -> Server:
        """`planbot serve` on a copy of this size's data, started (not yet warmed)."""
        mode = "authenticated" if auth else "anonymous"
        url = working_copy(size, backend, self.work)
        env = {"DATABASE_URL": url, "PLANBOT_SCHEDULER": "false", "PLANBOT_LINK_SECRET": "bench"}
        argv = [sys.executable, "-m", "bench.serve_bot"]
        if auth:
            env.update(MicrosoftAppId=APP_ID, MicrosoftAppPassword="not-used-offline", MicrosoftAppTenantId=APP_TENANT)
            argv += ["--openid", self.openid]
        if profile:
            argv += ["--profile", str(profile)]
        argv += ["--", "serve", "--host", HOST, "--port", "{port}"]
        if workers > 1:
            argv += ["--workers", str(workers)]
        name = (
            f"planbot-{mode}-{backend}-{size}"
            + ("-profile" if profile else "")
            + (f"-w{workers}" if workers > 1 else "")
        )
        server = self.server(name, argv, env, workers=workers)
        server.start()
        return server

    def warm(self, server: Server, case: str, auth: bool, size: str) -> None:
        """A load that is not recorded, until every worker has set up its identifying-details check
        (beside start-up, for a second or two after /readyz answers) and read the plan once: the
        figures are of a server at work, its start-up is measured on its own."""
        who = personas(size)
        self.load(server, case, WORKERS_CONCURRENCY, auth, who.people(), who.tenant)
        time.sleep(3)

    def stop(self, server: Server, backend: str, size: str) -> None:
        server.stop()
        if backend == "postgresql":
            drop_working(size)

    def bot(
        self, auth: bool, backend: str, size: str, cases: list[str], profile: bool = False, workers: int = 1
    ) -> None:
        mode = "authenticated" if auth else "anonymous"
        prof = self.work / f"{cases[0]}.prof"
        server: Server | None = None
        try:
            server = self.planbot(auth, backend, size, prof if profile else None, workers)
            if profile:
                self.profile(server, prof, size, cases[0], backend)
                return
            label = {"server": "planbot", "auth": mode, "backend": backend, "size": size, "workers": workers}
            self.warm(server, cases[0], auth, size)
            if workers > 1:  # compared with one worker's throughput at concurrency 16 only
                # Again: /readyz is answered by the first worker up, and a later one takes connections
                # only once it listens, so the first warm load may all have gone to one worker, and
                # another would read the plan during the measurement (a second of work on the council plan).
                self.warm(server, cases[0], auth, size)
                self.measure(server, label, cases, auth, size, [WORKERS_CONCURRENCY])
                return
            self.measure(server, label, cases, auth, size)
        finally:
            if server is not None:
                self.stop(server, backend, size)

    def side_by_side(self, auth: bool, backend: str, sizes: list[str], cases: list[str]) -> None:
        """Every size's server at once, one request to each in turn at concurrency 1: the sizes are
        measured in the same minutes, so their ratios do not carry the machine's drift from one minute
        to the next (measured one after another, the same case moved by half between them)."""
        mode = "authenticated" if auth else "anonymous"
        servers: dict[str, Server] = {}
        try:
            for size in sizes:
                servers[size] = self.planbot(auth, backend, size)
            for size, server in servers.items():
                self.warm(server, cases[0], auth, size)
            for case in cases:
                self.together(servers, case, auth, {"server": "planbot", "auth": mode, "backend": backend})
        finally:
            for size, server in servers.items():
                self.stop(server, backend, size)

    def together(self, servers: dict[str, Server], case: str, auth: bool, label: dict[str, Any]) -> None:
        specs = [
            self.spec(server, case, 1, auth, (who := personas(size)).people(), who.tenant)
            for size, server in servers.items()
        ]
        before = mock_stats(self.mock_port)
        cpu = {size: server.cpu_seconds() for size, server in servers.items()}
        results = run_together(specs, self.work)
        after = mock_stats(self.mock_port)
        replies = int(after["posted"]) - int(before["posted"])  # type: ignore[call-overload]
        for (size, server), result, spec in zip(servers.items(), results, specs, strict=True):
            used = server.cpu_seconds() - cpu[size]
            sent = int(result["ok"]) + int(result["errors"]) + int(spec["warmup"])
            row = {**label, "size": size, "workers": 1, "case": case, "concurrency": 1, "together": ",".join(servers)}
            row |= result | server.memory()
            row["cpu_ms_per_request"] = round(1000 * used / sent, 2) if sent else float("nan")
            row["replies"] = replies  # all the servers' together
            row["startup_s"] = round(server.startup_s or float("nan"), 2)
            self.rows.append(row)
            self.log(report.line(row))

    def profile(self, server: Server, prof: Path, size: str, case: str, backend: str) -> None:
        who = personas(size)
        self.load(server, case, 16, False, who.people(), who.tenant)  # warm
        server.signal(signal.SIGUSR1)
        time.sleep(0.5)
        result = self.load(server, case, 16, False, who.people(), who.tenant)
        server.signal(signal.SIGUSR2)
        time.sleep(2)
        text = report.profile_text(prof, int(result["ok"]), size, case, backend)
        stem = f"{self.stamp}-profile" + ("" if case == "my_actions" else f"-{case}")
        stem += ("" if size == "demo" else f"-{size}") + ("" if backend == "sqlite" else f"-{backend}")
        out = RESULTS / f"{stem}.txt"
        out.write_text(text)
        self.log(f"profile of {result['ok']} '{case}' turns at concurrency 16 ({size}): {out}")

    def go(self) -> Path:
        args = self.args
        started = time.perf_counter()
        backends = split(args.backends)
        if "postgresql" in backends and not pg_available():
            backends.remove("postgresql")
            self.notes.append("PostgreSQL was not reachable at 127.0.0.1:5432, so it was left out")
        for backend in backends:
            for size in split(args.sizes):
                prepare(size, backend, self.log)
        jwks = str(self.work / "jwks.json")
        argv = [sys.executable, "-m", "bench.mock", "--port", str(self.mock_port), "--jwks", jwks]
        mock = Server("mock", argv, self.mock_port, self.work / "mock.log", ready_path="/stats")
        self.mock = mock
        self.servers.append(mock)
        timings: dict[str, Any] = {}
        try:
            mock.start()
            for mode in split(args.auth):
                auth = mode == "authenticated"
                if not args.no_baselines:
                    self.baselines(auth)
                for backend in backends:
                    for size in split(args.sizes):
                        self.bot(auth, backend, size, split(args.cases))
                        if args.workers > 1 and "my_actions" in split(args.cases):
                            self.bot(auth, backend, size, ["my_actions"], workers=args.workers)
                    if len(split(args.sizes)) > 1 and not args.no_side_by_side:
                        self.side_by_side(auth, backend, split(args.sizes), split(args.cases))
            if args.profile:
                for backend in backends:
                    for size in split(args.sizes):
                        self.bot(False, backend, size, [args.profile_case], profile=True)
            if not args.no_timings:
                from bench.timings import council_timings

                cached, _ = prepare("council", "sqlite", self.log)
                timings = council_timings(Path(cached), self.work)
                self.log(f"timings: {timings}")
        finally:
            for server in self.servers:
                server.stop()
        took = time.perf_counter() - started
        results = {
            "date": self.stamp,
            "machine": machine(),
            "data_version": DATA_VERSION,
            "data_made_s": data_made(),
            "args": vars(args),
            "run_seconds": round(took, 1),
            "notes": self.notes,
            "rows": self.rows,
            "timings": timings,
        }
        return report.write(results, RESULTS, self.stamp)


def machine() -> dict[str, Any]:
    import os

    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in load],
        "note": "a shared 2-core machine with other test suites running: absolute figures are noisy; "
        "compare ratios measured in the same run",
    }


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    out = Run(args).go()
    print(f"\nwrote {out} (and .md beside it)")


if __name__ == "__main__":
    main()

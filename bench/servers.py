"""Starting, watching and stopping the servers of a run: each a subprocess on a loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import HOST, ROOT

AGENTS_PYTHON = ROOT / ".agents-venv" / "bin" / "python"


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/readyz"
    process: subprocess.Popen[bytes] | None = None
    startup_s: float | None = None
    workers: int = 1  # `planbot serve --workers N`: the memory figures add up the worker processes

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/api/messages"

    def start(self, timeout: float = 120.0) -> None:
        """Start, and wait until /readyz answers 200; start-up is measured from the fork to that answer."""
        started = time.perf_counter()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, cwd=ROOT.parent
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}{self.ready_path}", timeout=2) as response:
                    if response.status == 200:
                        self.startup_s = time.perf_counter() - started
                        return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # answering, behind authentication on every route (the Agents SDK's middleware)
                    self.startup_s = time.perf_counter() - started
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {timeout:.0f} s; see {self.log}")

    def pids(self) -> list[int]:
        """The server's process and, with several workers, its workers."""
        if self.process is None:
            return []
        pids = [self.process.pid]
        if self.workers > 1:
            with contextlib.suppress(OSError):
                pids += [int(p) for p in Path(f"/proc/{pids[0]}/task/{pids[0]}/children").read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the server's processes have used so far (from /proc/<pid>/stat)."""
        ticks = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return float("nan")
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory(self) -> dict[str, float]:
        """Peak and current resident memory of the server process, in MB (from /proc); with several
        workers, the sum over the parent and its workers (pages they share are counted in each)."""
        figures = {"peak_rss_mb": float("nan"), "rss_mb": float("nan")}
        if self.process is None:
            return figures
        peak = current = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return figures
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    current += int(line.split()[1])
        figures["peak_rss_mb"] = round(peak / 1024, 1)
        figures["rss_mb"] = round(current / 1024, 1)
        return figures

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self) -> None:
        """SIGINT (a clean stop: aiohttp runs its cleanup, a profile is written), then SIGKILL after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def run_load(spec: dict[str, object], folder: Path) -> dict[str, object]:
    """The load generator in a process of its own; its figures."""
    result: dict[str, object] = _loadgen(spec, float(spec["seconds"]), folder)  # type: ignore[arg-type]
    return result


def run_together(specs: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """The load generator sending one request to each server in turn; each server's figures."""
    seconds = sum(float(s["seconds"]) for s in specs)
    results: list[dict[str, Any]] = _loadgen({"targets": specs}, seconds, folder)
    return results


def _loadgen(spec: dict[str, object], seconds: float, folder: Path) -> Any:
    path = folder / "spec.json"
    path.write_text(json.dumps(spec))
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        cwd=ROOT.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def mock_stats(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://{HOST}:{port}/stats", timeout=5) as response:
        stats: dict[str, object] = json.load(response)
        return stats

"""One measured cell: Locust headless against one server, and what it costs.

Locust runs as a subprocess (``--processes`` forks more of it; with
``workers`` it is a master that waits for that many Locust workers, which run
elsewhere and report their own CPU), resets its statistics when the warm-up
ends (the locustfile's ``--warmup``), and stops by itself after warm-up +
duration. Around the measured window this module reads the server's
``/_lab/usage``, the load generator's own CPU time and the machine's (/proc/stat),
so that all three cover exactly the requests that were counted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import psutil

from labbench import BenchError, bottleneck
from labbench.appclient import AppClient
from labbench.results import Latency
from labcore import matrix, protocol

# Milestones in Locust's log: the locustfile's at test start (master and each
# worker) and at the end of the warm-up, Locust's own when the run time is up.
STARTED, RESET, STOPPED = protocol.LOG_STARTED, protocol.LOG_RESET, protocol.LOG_STOPPED


#: Where the locustfile sits in the lab's folder.
LOCUSTFILE = Path("locustfiles") / "locustfile.py"


def locustfile() -> Path:
    """The lab's locustfile: ``LAB_LOCUSTFILE``, else ``locustfiles/locustfile.py``
    beside compose.yaml (in the images: /lab), else in the nearest folder above
    the current one that has it (a compose.yaml of one's own, through
    ``LAB_COMPOSE_FILE``, may live anywhere)."""
    if explicit := os.environ.get("LAB_LOCUSTFILE"):
        if not Path(explicit).is_file():
            raise BenchError(f"LAB_LOCUSTFILE: {explicit} is not a file")
        return Path(explicit)
    here = Path.cwd()
    for folder in (matrix.lab_root(), here, *here.parents):
        if (folder / LOCUSTFILE).is_file():
            return folder / LOCUSTFILE
    raise BenchError(
        f"no {LOCUSTFILE} beside compose.yaml or above {here}: run from the lab's folder, or set LAB_LOCUSTFILE"
    )


@dataclass(frozen=True)
class Load:
    """What to send: the Locust side of a cell."""

    user_class: str
    users: int
    warmup_s: float
    duration_s: float
    processes: int
    io_ms: int
    cpu_ms: int
    #: Locust workers the master waits for (0: no master, the load is generated here).
    workers: int = 0
    #: Seconds between each user's request starts (0: none, the closed loop);
    #: ``labbench capacity``'s fixed arrival rate is users ÷ pace.
    pace_s: float = 0.0
    #: Seconds Locust lets users finish the request they are in when the run
    #: time is up (0: cut off, uncounted, as a cell does).
    stop_timeout_s: float = 0.0

    @property
    def spawn_rate(self) -> int:
        # Paced users start at random points within their pace, so they may
        # all be spawned at once; unpaced ones ramp up within a second.
        return self.users * 10 if self.pace_s > 0 else self.users


#: How long a master waits for its workers before it gives up.
WORKERS_WAIT_S = 60


def worker_cpu_file(csv_prefix: Path | str) -> str:
    """Where the master writes its workers' CPU reports (the locustfile's --worker-cpu-file)."""
    return f"{csv_prefix}_workers_cpu.json"


def command(load: Load, host: str, csv_prefix: Path | str) -> list[str]:
    argv = [
        sys.executable, "-m", "locust", "-f", str(locustfile()),
        "--headless", "--only-summary", "--host", host,
        "--users", str(load.users), "--spawn-rate", str(load.spawn_rate),
        "--run-time", f"{load.warmup_s + load.duration_s:g}s", "--warmup", f"{load.warmup_s:g}",
        "--io-ms", str(load.io_ms), "--cpu-ms", str(load.cpu_ms),
        "--csv", str(csv_prefix), "--csv-full-history", "--json-file", str(csv_prefix),
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if load.pace_s > 0:
        argv += ["--pace", f"{load.pace_s:g}"]
    if load.stop_timeout_s > 0:
        # Locust takes whole seconds here ("20", "20s"), not 2.5.
        argv += ["--stop-timeout", f"{math.ceil(load.stop_timeout_s)}s"]
    if load.processes > 1:
        argv += ["--processes", str(load.processes)]
    if load.workers:
        # Listening on every address at Locust's default port, 5557.
        argv += [
            "--master", "--expect-workers", str(load.workers), "--expect-workers-max-wait", str(WORKERS_WAIT_S),
            protocol.WORKER_CPU_FLAG, worker_cpu_file(csv_prefix),
        ]  # fmt: skip
    return [*argv, load.user_class]


def _tree_cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


class LocustFailed(RuntimeError):
    pass


@dataclass
class Measurement:
    requests: int
    failures: int
    rps: float
    duration_s: float
    latency_ms: Latency
    loadgen_cpu: float | None
    usage_before: dict[str, Any] | None
    usage_after: dict[str, Any] | None
    started_at: float
    #: The whole machine's busy share over the window (labbench.bottleneck.host_busy).
    host_busy: float | None = None
    #: Each worker's share of its CPU over the window, by Locust's worker id (with workers only).
    loadgen_cpu_workers: dict[str, float] | None = None


def worker_shares(path: Path) -> dict[str, float]:
    """Each worker's CPU seconds ÷ its window, from the master's file (empty if none came)."""
    try:
        reports = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {
        worker: report["cpu_s"] / report["window_s"]
        for worker, report in reports.items()
        if isinstance(report, dict) and report.get("window_s", 0) > 0 and "cpu_s" in report
    }


def loadgen_share(here: float, workers: int, shares: dict[str, float]) -> float | None:
    """The busiest load generator's share of its CPU: the Locust started here
    (``here``) or, with workers, the busiest of it and every worker; None when
    a worker's report is missing, since that worker may have been the busiest."""
    if not workers:
        return here
    if len(shares) < workers:
        return None
    return max(here, *shares.values())


def percentile(histogram: dict[int, int], count: int, fraction: float) -> float | None:
    """Locust's own percentile of its rounded response-time histogram.

    (Locust's function lives in locust.stats, and importing any of Locust
    monkey-patches the importing process with gevent.)
    """
    if count == 0:
        return None
    at_most_above = int(count * fraction)
    seen = 0
    for rounded in sorted(histogram, reverse=True):
        seen += histogram[rounded]
        if count - seen <= at_most_above:
            return float(rounded)
    return float(min(histogram))


def final_stats(json_file: Path) -> tuple[int, int, Latency]:
    """Requests, failures and latencies over every endpoint, from the stats
    Locust writes when it stops. (Its _stats.csv is rewritten once a second
    and can miss the last second of a run.)"""
    try:
        entries = json.loads(json_file.read_text())
    except (OSError, ValueError) as error:
        raise LocustFailed(f"no final statistics in {json_file.name}: {error}") from None
    requests = sum(entry["num_requests"] for entry in entries)
    histogram: dict[int, int] = {}
    for entry in entries:
        for rounded, times in entry["response_times"].items():
            histogram[int(rounded)] = histogram.get(int(rounded), 0) + times
    latency = Latency(
        mean=sum(entry["total_response_time"] for entry in entries) / requests if requests else None,
        p50=percentile(histogram, requests, 0.50),
        p95=percentile(histogram, requests, 0.95),
        p99=percentile(histogram, requests, 0.99),
        max=max((entry["max_response_time"] for entry in entries), default=None),
    )
    return requests, sum(entry["num_failures"] for entry in entries), latency


class _Log(threading.Thread):
    """Copies Locust's log to disk and notes when each milestone line passes."""

    def __init__(self, process: psutil.Popen, log: TextIO) -> None:
        super().__init__(daemon=True)
        self.process, self.log = process, log
        self.seen = {marker: threading.Event() for marker in (STARTED, RESET, STOPPED)}

    def run(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.write(line)
            for marker, event in self.seen.items():
                if marker in line:
                    event.set()

    def wait_for(self, marker: str, timeout: float, tick: Callable[[], None]) -> bool:
        deadline = time.monotonic() + timeout
        while not self.seen[marker].wait(0.5):
            tick()
            if time.monotonic() > deadline or self.process.poll() is not None:
                return self.seen[marker].is_set()
        return True


#: Seconds a read of /_lab/usage at a window's edge may wait. It queues behind
#: the load's own requests: on 2026-12-01T232653Z gunicorn-gthread at 64 users
#: of 40 ms CPU each answered in up to 5.1 s, and a read cut off at the
#: appclient's usual 5 s made a living server a "server-died" cell.
USAGE_UNDER_LOAD_TIMEOUT_S = 30.0


class UsageRead(threading.Thread):
    """Reads /_lab/usage without holding up the clock: under load the request may
    queue behind the test's own for a while."""

    def __init__(self, client: AppClient) -> None:
        super().__init__(daemon=True)
        self.client, self.result = client, None
        self.start()

    def run(self) -> None:
        self.result = self.client.usage(USAGE_UNDER_LOAD_TIMEOUT_S)

    def value(self) -> dict[str, Any] | None:
        self.join(60)
        return self.result


def measure(
    load: Load,
    url: str,
    csv_prefix: Path,
    on_tick: Callable[[float], None] | None = None,
    on_window: Callable[[], None] | None = None,
) -> Measurement:
    """Run Locust against ``url`` and measure the window between the end of
    its warm-up and its stop; ``on_tick(seconds)`` is called about twice a
    second for progress displays, ``on_window()`` once as the window opens."""
    log_path = csv_prefix.with_name(csv_prefix.name + "_locust.log")
    server = AppClient(url)
    with log_path.open("w") as log_file:
        process = psutil.Popen(
            command(load, url, csv_prefix), stdout=log_file, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
        )
        log = _Log(process, log_file)
        log.start()
        began = time.monotonic()

        def tick() -> None:
            if on_tick:
                on_tick(time.monotonic() - began)

        def fail(problem: str) -> LocustFailed:
            # Locust may have exited by itself already (its run time up early):
            # the cell is a locust-error either way, never the run's end.
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
            process.wait()
            log.join(5)
            return LocustFailed(f"{problem}; see {log_path.name}")

        if not log.wait_for(STARTED, 60 + (WORKERS_WAIT_S if load.workers else 0), tick):
            if load.workers:
                raise fail(
                    f"Locust's master did not get {load.workers} workers within {WORKERS_WAIT_S} s: start them "
                    "first (docker compose up -d bench-worker) and run bench with --use-aliases, so that they "
                    "reach it by its name"
                )
            raise fail("Locust did not start within 60 s")
        # Without a warm-up, counting starts with the test itself.
        if load.warmup_s > 0 and not log.wait_for(RESET, load.warmup_s + 30, tick):
            raise fail("Locust never ended its warm-up")
        window_start, started_at = time.monotonic(), time.time()
        cpu_before, usage_before = _tree_cpu_seconds(process), UsageRead(server)
        host_before = bottleneck.host_cpu_sample()
        if on_window:
            on_window()
        if not log.wait_for(STOPPED, load.duration_s + 30, tick):
            raise fail("Locust did not stop at the end of its run time")
        window = time.monotonic() - window_start
        cpu_after, usage_after = _tree_cpu_seconds(process), UsageRead(server)
        host_after = bottleneck.host_cpu_sample()
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise fail("Locust did not exit within 60 s of stopping") from None
        log.join(5)
    if code != 0:
        raise LocustFailed(f"Locust exited with {code}; see {log_path.name}")
    requests, failures, latency = final_stats(csv_prefix.with_name(csv_prefix.name + ".json"))
    here = (cpu_after - cpu_before) / (window * load.processes)
    shares = worker_shares(Path(worker_cpu_file(csv_prefix))) if load.workers else {}
    return Measurement(
        requests=requests,
        failures=failures,
        # Over the window measured here: Locust's own Requests/s divides by
        # whole seconds (it truncates the last request's timestamp).
        rps=requests / window,
        duration_s=window,
        latency_ms=latency,
        loadgen_cpu=loadgen_share(here, load.workers, shares),
        loadgen_cpu_workers={worker: round(share, 3) for worker, share in shares.items()} if load.workers else None,
        usage_before=usage_before.value(),
        usage_after=usage_after.value(),
        started_at=started_at,
        host_busy=bottleneck.host_busy(host_before, host_after),
    )

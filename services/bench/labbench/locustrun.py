"""One measured cell: Locust headless against one server, and what it costs.

Locust runs as a subprocess (``--processes`` forks more of it), resets its
statistics when the warm-up ends (the locustfile's ``--warmup``), and stops by
itself after warm-up + duration. Around the measured window this module reads
the server's ``/_lab/usage`` and the load generator's own CPU time, so that both
cover exactly the requests that were counted.
"""

from __future__ import annotations

import json
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

from labbench import BenchError
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


def command(load: Load, host: str, csv_prefix: Path | str) -> list[str]:
    argv = [
        sys.executable, "-m", "locust", "-f", str(locustfile()),
        "--headless", "--only-summary", "--host", host,
        "--users", str(load.users), "--spawn-rate", str(load.users),
        "--run-time", f"{load.warmup_s + load.duration_s:g}s", "--warmup", f"{load.warmup_s:g}",
        "--io-ms", str(load.io_ms), "--cpu-ms", str(load.cpu_ms),
        "--csv", str(csv_prefix), "--csv-full-history", "--json-file", str(csv_prefix),
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if load.processes > 1:
        argv += ["--processes", str(load.processes)]
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
    loadgen_cpu: float
    usage_before: dict[str, Any] | None
    usage_after: dict[str, Any] | None
    started_at: float


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


class _Usage(threading.Thread):
    """Reads /_lab/usage without holding up the clock: under load the request may
    queue behind the test's own for a while."""

    def __init__(self, client: AppClient) -> None:
        super().__init__(daemon=True)
        self.client, self.result = client, None
        self.start()

    def run(self) -> None:
        self.result = self.client.usage()

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
            process.kill()
            process.wait()
            log.join(5)
            return LocustFailed(f"{problem}; see {log_path.name}")

        if not log.wait_for(STARTED, 60, tick):
            raise fail("Locust did not start within 60 s")
        # Without a warm-up, counting starts with the test itself.
        if load.warmup_s > 0 and not log.wait_for(RESET, load.warmup_s + 30, tick):
            raise fail("Locust never ended its warm-up")
        window_start, started_at = time.monotonic(), time.time()
        cpu_before, usage_before = _tree_cpu_seconds(process), _Usage(server)
        if on_window:
            on_window()
        if not log.wait_for(STOPPED, load.duration_s + 30, tick):
            raise fail("Locust did not stop at the end of its run time")
        window = time.monotonic() - window_start
        cpu_after, usage_after = _tree_cpu_seconds(process), _Usage(server)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise fail("Locust did not exit within 60 s of stopping") from None
        log.join(5)
    if code != 0:
        raise LocustFailed(f"Locust exited with {code}; see {log_path.name}")
    requests, failures, latency = final_stats(csv_prefix.with_name(csv_prefix.name + ".json"))
    return Measurement(
        requests=requests,
        failures=failures,
        # Over the window measured here: Locust's own Requests/s divides by
        # whole seconds (it truncates the last request's timestamp).
        rps=requests / window,
        duration_s=window,
        latency_ms=latency,
        loadgen_cpu=(cpu_after - cpu_before) / (window * load.processes),
        usage_before=usage_before.value(),
        usage_after=usage_after.value(),
        started_at=started_at,
    )

"""One measured cell with wrk (Debian's package), the lab's second engine.

wrk is a C load generator: an event loop per thread, keep-alive
connections, no per-request Python. A cell runs it twice: a short run to
warm the server up, not counted, then the measured run, whose whole life is
the window. The script ``wrk.lua`` (package data) checks every answer against
the scenario's (``labcore.scenarios``, ``Scenario.wire_answer``) and writes
wrk's summary as JSON, which :func:`parse_summary` reads. The server's
``/usage`` is read just before and just after the measured run, and wrk's own
CPU time comes from the kernel when the process is reaped (``os.wait4``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from labbench import BenchError, bottleneck
from labbench.appclient import AppClient
from labbench.locustrun import Measurement
from labbench.results import Latency
from labcore import userscenarios
from labcore.scenarios import Scenario

#: The environment wrk.lua reads (its header says what each holds).
ENV_STATUS, ENV_MODE, ENV_EXPECT, ENV_OUT = "LAB_WRK_STATUS", "LAB_WRK_MODE", "LAB_WRK_EXPECT", "LAB_WRK_OUT"
#: wrk's default (2 s) would count a slow answer as an error where Locust
#: waits for it; the servers' own timeouts are 30 s.
TIMEOUT_S = 60
#: Seconds wrk may take beyond its run before it counts as hung.
GRACE_S = 30


class WrkFailed(RuntimeError):
    pass


def unsupported(scenario: str) -> str | None:
    """Why wrk cannot run ``scenario``; None if it can."""
    spec = userscenarios.resolve(scenario)[0]
    if spec.mix:
        return f"scenario {scenario} mixes several requests by weight, which only Locust's engine sends"
    if spec.kind in ("user", "mixed"):
        # wrk.lua checks the lab's fixed answers; these carry their own checks.
        return f"scenario {scenario} is checked by rules only the locustfile applies (kind {spec.kind})"
    return None


def check(scenarios: list[str], engine: str) -> None:
    """Stop before any load when ``engine`` needs wrk and wrk cannot do the job."""
    if engine == "locust":
        return
    for name in scenarios:
        if (reason := unsupported(name)) is not None:
            raise BenchError(f"--engine {engine}: {reason}; run it with --engine locust")
    if shutil.which("wrk") is None:
        raise BenchError(f"--engine {engine} needs Debian's wrk on the PATH (apt-get install wrk)")


@dataclass(frozen=True)
class Load:
    """What to send: the wrk side of a cell."""

    scenario: Scenario
    connections: int
    warmup_s: float
    duration_s: float
    threads: int
    io_ms: int
    cpu_ms: int


def seconds(value: float) -> int:
    """wrk's -d takes whole seconds."""
    return max(1, math.ceil(value))


def _argv(threads: int, connections: str, run_s: float, target: str) -> list[str]:
    with resources.as_file(resources.files("labbench") / "wrk.lua") as script:
        path = str(script)
    return [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds(run_s)}s",
        f"--timeout={TIMEOUT_S}s", "--latency", "-s", path, target,
    ]  # fmt: skip


def command(load: Load, url: str, run_s: float) -> list[str]:
    """wrk's argv for ``run_s`` seconds of ``load`` against the server at ``url``."""
    request = load.scenario.request(load.io_ms, load.cpu_ms)
    # wrk needs at least one connection per thread.
    return _argv(load.threads, str(max(load.connections, load.threads)), run_s, url.rstrip("/") + request)


def template(threads: int, run_s: float) -> list[str]:
    """A measured run's argv with placeholders for what each cell sets, for the run's metadata."""
    return _argv(threads, "<users>", run_s, "<server-url><request>")


def environment(load: Load, out: Path) -> dict[str, str]:
    mode, text = load.scenario.wire_answer(load.scenario.work_ms(load.io_ms, load.cpu_ms))
    return os.environ | {ENV_STATUS: "200", ENV_MODE: mode, ENV_EXPECT: text, ENV_OUT: str(out)}


@dataclass(frozen=True)
class Summary:
    """What wrk.lua's done() wrote, in the lab's units."""

    requests: int
    failures: int
    duration_s: float
    latency_ms: Latency
    errors: dict[str, int]
    sample: str


def parse_summary(text: str) -> Summary:
    """wrk.lua's JSON; failures are wrong statuses, wrong bodies and connect, write and timeout errors.

    wrk's own ``errors.status`` (status ≥ 400) is left out of the sum: the
    script's ``bad_status`` already counts every answer whose status is not
    the expected one. So are its read errors: wrk counts one each time a
    server closes a connection, also right after a whole answer (uWSGI's
    HTTP socket closes every connection so), and an answer cut short is
    never counted as a request at all.
    """
    try:
        data: dict[str, Any] = json.loads(text)
        errors = {key: int(data["errors"][key]) for key in ("connect", "read", "write", "status", "timeout")}
        requests, duration_us = int(data["requests"]), int(data["duration_us"])
        bad_status, wrong_body = int(data["bad_status"]), int(data["wrong_body"])
        latency = {key: float(data["latency_us"][key]) / 1000 for key in ("mean", "p50", "p95", "p99", "max")}
        sample = str(data.get("sample", ""))
    except (ValueError, TypeError, KeyError) as error:
        raise WrkFailed(f"wrk's summary is not what wrk.lua writes ({error!r:.80}): {text[:200]!r}") from None
    if duration_us <= 0:
        raise WrkFailed(f"wrk's summary has no duration: {text[:200]!r}")
    socket_errors = errors["connect"] + errors["write"] + errors["timeout"]
    return Summary(
        requests=requests,
        failures=bad_status + wrong_body + socket_errors,
        duration_s=duration_us / 1e6,
        # wrk reports zeros for a run without a single answer: none is known.
        latency_ms=Latency(**latency) if requests else Latency(mean=None, p50=None, p95=None, p99=None, max=None),
        errors=errors | {"bad_status": bad_status, "wrong_body": wrong_body},
        sample=sample,
    )


def _run(argv: list[str], env: dict[str, str], log: Path, limit_s: float, tick: Callable[[], None]) -> float:
    """Run wrk to its end; its CPU-seconds (user + system), from the kernel as it is reaped."""
    with log.open("w") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + limit_s
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise WrkFailed(f"wrk did not finish within {limit_s:g} s; see {log.name}")
        tick()
        time.sleep(0.25)
    if process.returncode != 0:
        raise WrkFailed(f"wrk exited with {process.returncode}; see {log.name}")
    return usage.ru_utime + usage.ru_stime


def measure(load: Load, url: str, prefix: Path, on_tick: Callable[[float], None] | None = None) -> Measurement:
    """Warm up, then measure one wrk run against ``url``; raw files start with ``prefix``."""
    began = time.monotonic()

    def tick() -> None:
        if on_tick:
            on_tick(time.monotonic() - began)

    server = AppClient(url)
    log, out = prefix.with_name(prefix.name + "_wrk.log"), prefix.with_name(prefix.name + "_wrk.json")
    if load.warmup_s > 0:
        warm = prefix.with_name(prefix.name + "_wrk_warmup.json")
        argv = command(load, url, load.warmup_s)
        _run(argv, environment(load, warm), log, seconds(load.warmup_s) + GRACE_S, tick)
    usage_before, started_at = server.usage(), time.time()
    host_before = bottleneck.host_cpu_sample()
    argv = command(load, url, load.duration_s)
    cpu = _run(argv, environment(load, out), log, seconds(load.duration_s) + GRACE_S, tick)
    host_after = bottleneck.host_cpu_sample()
    usage_after = server.usage()
    try:
        summary = parse_summary(out.read_text())
    except OSError as error:
        raise WrkFailed(f"wrk wrote no summary ({error.strerror}); see {log.name}") from None
    return Measurement(
        requests=summary.requests,
        failures=summary.failures,
        rps=summary.requests / summary.duration_s,
        duration_s=summary.duration_s,
        latency_ms=summary.latency_ms,
        # As for Locust: the share of the CPUs it was given (one per thread).
        loadgen_cpu=cpu / summary.duration_s / load.threads,
        usage_before=usage_before,
        usage_after=usage_after,
        started_at=started_at,
        host_busy=bottleneck.host_busy(host_before, host_after),
    )

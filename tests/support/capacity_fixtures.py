"""A synthetic ``labbench capacity`` run: two servers on ``io``, curves worked out by hand.

``gunicorn-sync`` has 4 slots of 100 ms sleeps, so at most 40 req/s: its p99
stays at 110 ms up to 30 req/s and passes the 200 ms budget beyond. The
greenlet server holds to 640 req/s, where its load generator runs hot.
"""

from __future__ import annotations

from pathlib import Path

from labbench.capacity import Series, summarize
from labbench.capacitymodels import CapacitySettings, Step
from labbench.knee import breaks
from labbench.results import Plan, Results, Run, save
from labcore import matrix

SLO_MS = 200.0
SETTINGS = CapacitySettings(slo_p99_ms=None, min_rps=10, factor=2, bisections=2, max_rps=800, min_samples=200)
SERVERS = ["gunicorn-sync", "gunicorn-gevent"]


def step(rate: float, achieved: float, p50: float, p99: float, bottleneck: str, loadgen: float = 0.2) -> Step:
    return Step(
        offered_rps=rate, users=int(rate * 0.4) + 1, status="ok", started_at="2026-12-01T12:00:00+00:00",
        achieved_rps=achieved, requests=int(achieved * 3), failures=0, mean_ms=p50, p50_ms=p50, p99_ms=p99,
        server_cpu=0.1 + achieved / 1000, loadgen_cpu=loadgen, host_cpu_busy=0.5, memory_peak_bytes=100 * 2**20,
        bottleneck=bottleneck,  # type: ignore[arg-type]
        broken=breaks(offered=rate, achieved=achieved, requests=int(achieved * 3), failures=0, p99_ms=p99,
                      slo_p99_ms=SLO_MS),
        raw=f"raw/x__{rate:g}rps",
    )  # fmt: skip


CURVES = {
    "gunicorn-sync": [
        step(10, 10, 101, 110, "unexplained"),
        step(20, 20, 102, 120, "unexplained"),
        step(40, 37, 300, 900, "slots"),
        step(28.3, 28.2, 104, 150, "unexplained"),
        step(33.6, 33.1, 140, 420, "slots"),
    ],
    "gunicorn-gevent": [
        *(step(rate, rate, 101, 115, "unexplained") for rate in (10, 20, 40, 80, 160, 320, 640)),
        step(800, 690, 180, 700, "load-generator", loadgen=0.97),
    ],
}


def results(repetitions: int = 1) -> Results:
    plan = Plan(
        servers=SERVERS, scenarios=["io"], users=[], duration_s=3, warmup_s=1, repetitions=repetitions,
        locust_processes=1, seed=0, quick=True, capacity=SETTINGS,
    )  # fmt: skip
    run = Run(id="2026-12-01T120000Z-capacity", started_at="2026-12-01T12:00:00+00:00", mode="native", plan=plan)
    found = Results(run=run)
    for repetition in range(1, repetitions + 1):
        for server in SERVERS:
            series = Series(matrix.get(server), "io", repetition, SLO_MS)
            found.capacity.append(summarize(series, CURVES[server], SETTINGS))
    return found


def write_run(folder: Path, repetitions: int = 1) -> Path:
    folder.mkdir(parents=True)
    save(folder, results(repetitions))
    return folder

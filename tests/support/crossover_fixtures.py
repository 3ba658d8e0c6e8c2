"""A small synthetic crossover run for the crossover tests and the browser test.

Two servers, three splits of ``/mixed`` (listed out of order), 16 users,
three repetitions, with one cell of each kind the map must tell apart: a
clear win, a win within the spread, a winner whose load generator was hot.
"""

from __future__ import annotations

from typing import Any

from labbench import metadata
from labbench.results import Plan
from labcore.scenarios import SCENARIOS
from tests.support import bench_fixtures

PURE_IO, MIDDLE, PURE_CPU = "mixed-io50-cpu0", "mixed-io30-cpu20", "mixed-io0-cpu50"
#: Median req/s per (split, users, server), each repetition a little around it (see _cells).
RPS: dict[tuple[str, int], dict[str, float]] = {
    # Pure I/O: gevent far ahead of 4 sync workers (4 ÷ 50 ms = 80 req/s at most).
    (PURE_IO, 16): {"gunicorn-sync": 78.0, "gunicorn-gevent": 300.0},
    # The middle: too close to call, the spreads overlap.
    (MIDDLE, 16): {"gunicorn-sync": 49.0, "gunicorn-gevent": 50.0},
    # Pure CPU: sync ahead, but its load generator was hot (see LOADGEN_BOUND).
    (PURE_CPU, 16): {"gunicorn-sync": 19.0, "gunicorn-gevent": 15.0},
}
LOADGEN_BOUND = (PURE_CPU, 16, "gunicorn-sync")
JITTER = {1: 0.97, 2: 1.0, 3: 1.03}


def _cells() -> list[dict[str, Any]]:
    cells = []
    for (scenario, users), by_server in RPS.items():
        for server, rps in by_server.items():
            for repetition, jitter in JITTER.items():
                value = round(rps * jitter, 3)
                hot = (scenario, users, server) == LOADGEN_BOUND
                cells.append(
                    {
                        "server": server,
                        "scenario": scenario,
                        "users": users,
                        "repetition": repetition,
                        "order": len(cells) + 1,
                        "status": "ok",
                        "started_at": "2026-12-01T16:00:00+00:00",
                        "duration_s": 10.0,
                        "requests": round(value * 10),
                        "failures": 0,
                        "rps": value,
                        "latency_ms": dict.fromkeys(["mean", "p50", "p95", "p99", "max"], users / value * 1000),
                        "loadgen_cpu": 0.95 if hot else 0.3,
                        "loadgen_bound": hot,
                        "bottleneck": "load-generator" if hot else "server-cpu",
                        "raw": f"raw/{server}__{scenario}__u{users}__r{repetition}",
                    }
                )
    return cells


def crossover_results() -> dict[str, Any]:
    """A small crossover run: two servers, three splits (listed out of order), 16 users, three repetitions."""
    data = bench_fixtures.results()
    servers = ["gunicorn-sync", "gunicorn-gevent"]
    scenarios = [MIDDLE, PURE_CPU, PURE_IO]
    plan = Plan(servers=servers, scenarios=scenarios, users=[16], duration_s=10.0, warmup_s=1.0,
                repetitions=3, locust_processes=1, seed=1, crossover=True)  # fmt: skip
    data["run"]["plan"] = plan.to_dict()
    data["servers"] = {name: bench_fixtures.SERVERS[name] for name in servers}
    data["scenarios"] = {name: metadata.scenario_info(name, plan, SCENARIOS).to_dict() for name in scenarios}
    data["cells"] = _cells()
    return data

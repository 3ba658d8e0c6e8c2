"""A small but complete synthetic ``results.json`` for the labbench tests.

Three servers (4 slots, 4000 slots, unbounded) x two scenarios (``io``,
``cpu``) x two user counts x three repetitions, in a shuffled order, with the
awkward cases a real run produces: one load-generator-bound repetition, one
server that died, one group with failures. Every ok cell is server-bound, as
labbench.bottleneck's rules would have it: ``slots`` at ``io`` (every user's
request is in flight, by construction), the load-generator-bound one too
(the slots rule comes first), and ``server-cpu`` at ``cpu``. Numbers follow a simple model
(throughput capped by slots or CPU, latency by Little's law) so every derived
value can be worked out by hand.

:func:`results` is the run as plain JSON data, for a test to bend; :func:`typed`
reads such data the way labbench reads a results.json (validated whole), for
the functions that take a :class:`~labbench.results.Results`.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

from labbench.results import Results

SERVERS: dict[str, dict[str, Any]] = {
    "gunicorn-sync": {
        "model": "processes",
        "slots": 4,
        "description": "gunicorn, 4 sync workers: one request at a time per worker process",
        "docs": "https://docs.gunicorn.org/en/stable/design.html",
    },
    "gunicorn-gevent": {
        "model": "processes+greenlets",
        "slots": 4000,
        "description": "gunicorn -k gevent, 4 workers, a greenlet per connection (monkey-patched)",
        "docs": "https://docs.gunicorn.org/en/stable/design.html#async-workers",
    },
    "flask-dev": {
        "model": "threads",
        "slots": None,
        "description": "flask run as shipped: Werkzeug's dev server, a new thread per request",
        "docs": "https://flask.palletsprojects.com/en/stable/api/#flask.Flask.run",
    },
}
SCENARIOS: dict[str, dict[str, Any]] = {
    "io": {"user_class": "Io", "path": "/io?ms=100", "kind": "io", "work_ms": 100},
    "cpu": {"user_class": "Cpu", "path": "/cpu?ms=10", "kind": "cpu", "work_ms": 10},
}
USERS = [8, 32]
REPETITIONS = 3
DURATION_S = 30.0
SEED = 1234

# The awkward cells, by (server, scenario, users, repetition).
LOADGEN_BOUND = ("flask-dev", "io", 32, 2)
DIED = ("gunicorn-sync", "cpu", 32, 3)
# The group whose every repetition fails 2% of its requests.
FAILING = ("flask-dev", "cpu", 32)
FAILURE_RATE = 0.02

# Share of the ideal req/s each server reaches, per scenario kind.
EFFICIENCY = {
    ("gunicorn-sync", "io"): 0.95,
    ("gunicorn-gevent", "io"): 0.90,
    ("flask-dev", "io"): 0.80,
    ("gunicorn-sync", "cpu"): 0.85,
    ("gunicorn-gevent", "cpu"): 0.80,
    ("flask-dev", "cpu"): 0.70,
}
# Repetition r's req/s is the model's times this, so the median is repetition 1.
JITTER = {1: 1.00, 2: 1.02, 3: 0.97}


def model_rps(server: str, scenario: str, users: int, repetition: int) -> float:
    """Throughput of the model: the ideal bound, scaled by the server's efficiency and a jitter."""
    work_s = SCENARIOS[scenario]["work_ms"] / 1000
    if SCENARIOS[scenario]["kind"] == "io":
        slots = SERVERS[server]["slots"]
        ideal = (users if slots is None else min(slots, users)) / work_s
    else:
        ideal = 1 / work_s  # limits.cpus is "1"
    return round(ideal * EFFICIENCY[(server, scenario)] * JITTER[repetition], 3)


def _cell(server: str, scenario: str, users: int, repetition: int, order: int) -> dict[str, Any]:
    key = (server, scenario, users, repetition)
    cell: dict[str, Any] = {
        "server": server,
        "scenario": scenario,
        "users": users,
        "repetition": repetition,
        "order": order,
        "started_at": f"2026-11-21T22:{order:02d}:00Z",
        "raw": f"raw/{server}__{scenario}__u{users}__r{repetition}",
    }
    if key == DIED:
        return cell | {
            "status": "server-died",
            "error": "connection refused after 12 s of the measured window",
            **dict.fromkeys(
                ["duration_s", "requests", "failures", "rps", "latency_ms", "loadgen_cpu", "loadgen_bound"], None
            ),
            **dict.fromkeys(["server_cpu_s", "server_memory_bytes", "server_memory_peak_bytes"], None),
        }
    rps = model_rps(server, scenario, users, repetition)
    requests = round(rps * DURATION_S)
    mean_ms = round(users / rps * 1000, 3)  # Little's law for a closed loop
    loadgen_cpu = 0.95 if key == LOADGEN_BOUND else 0.30
    per_request_cpu_s = 0.011 if scenario == "cpu" else 0.001
    return cell | {
        "status": "ok",
        "error": None,
        "duration_s": DURATION_S,
        "requests": requests,
        "failures": round(requests * FAILURE_RATE) if key[:3] == FAILING else 0,
        "rps": rps,
        "latency_ms": {"mean": mean_ms, "p50": mean_ms, "p95": 1.5 * mean_ms, "p99": 2 * mean_ms, "max": 3 * mean_ms},
        "loadgen_cpu": loadgen_cpu,
        "loadgen_bound": loadgen_cpu >= 0.9,
        "host_cpu_busy": 0.6,
        "bottleneck": "slots" if scenario == "io" else "server-cpu",
        "server_cpu_s": round(requests * per_request_cpu_s, 3),
        "server_memory_bytes": (60 + repetition) * 1024 * 1024,
        "server_memory_peak_bytes": (70 + repetition + users) * 1024 * 1024,
    }


def results() -> dict[str, Any]:
    """The synthetic run, as the runner would write it: a fresh copy every call."""
    runs = [
        (server, scenario, users, repetition)
        for server in SERVERS
        for scenario in SCENARIOS
        for users in USERS
        for repetition in range(1, REPETITIONS + 1)
    ]
    random.Random(SEED).shuffle(runs)
    return {
        "schema_version": 1,
        "run": {
            "id": "2026-11-21T220000Z",
            "started_at": "2026-11-21T22:00:00Z",
            "finished_at": "2026-11-21T22:40:00Z",
            "mode": "docker",
            "plan": {
                "servers": list(SERVERS),
                "scenarios": list(SCENARIOS),
                "users": USERS,
                "duration_s": DURATION_S,
                "warmup_s": 5.0,
                "repetitions": REPETITIONS,
                "locust_processes": 2,
                "seed": SEED,
                "quick": False,
            },
            "limits": {"cpus": "1", "memory_bytes": 512 * 1024 * 1024, "identical": True},
            "machine": {
                "cpu_model": "Synthetic CPU @ 3.0GHz",
                "cpu_count": 2,
                "kernel": "6.1.0-synthetic",
                "python": "3.12.7",
                "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
            },
            "versions": {
                "bench": {"locust": "2.40.0", "matplotlib": "3.11.2"},
                "app": {"flask": "3.1.2", "gunicorn": "23.0.0", "gevent": "25.5.1"},
            },
            "locust_command": ["locust", "-f", "locustfiles/locustfile.py", "--headless", "-u", "{users}", "{class}"],
        },
        "servers": copy.deepcopy(SERVERS),
        "scenarios": copy.deepcopy(SCENARIOS),
        "cells": [_cell(*run, order=order) for order, run in enumerate(runs, start=1)],
    }


def typed(data: dict[str, Any] | None = None) -> Results:
    """``data`` (default: :func:`results`) as labbench reads it from a results.json: validated, typed."""
    return Results.from_json(json.dumps(results() if data is None else data), "the fixture")


def write_run(folder: Path, data: dict[str, Any] | None = None) -> Path:
    """A run folder holding ``data`` (default: :func:`results`) as results.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results() if data is None else data, indent=2))
    return folder

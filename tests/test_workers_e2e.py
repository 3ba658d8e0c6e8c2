"""Locust workers and CPU placement end to end: natively, and through
Compose as README says to use them.

The Docker tests need an engine (see conftest.lab_stack): they skip without
one, and fail without one when LAB_REQUIRE_DOCKER=1. The in-process tests of
the same features: tests/test_workers.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import labbench, only_run
from tests.support.docker import Stack, compose

SERVER = "gunicorn-sync"
SHORT = ["--servers", SERVER, "--scenarios", "hello", "--users", "8", "--duration", "3", "--warmup", "1"]


def bench(tmp_path: Path, *flags: str, run_flags: tuple[str, ...] = ()) -> dict[str, Any]:
    """``docker compose run --rm bench FLAGS``; the run's results.json."""
    output = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
    output.mkdir()
    compose("run", "--rm", *run_flags, "--volume", f"{output}:/lab/results", "bench", *flags, timeout=600)
    return json.loads((only_run(output) / "results.json").read_text())


@pytest.mark.native
def test_two_local_workers_serve_every_cell_natively(tmp_path: Path) -> None:
    """Two `python -m labbench.worker` processes and `labbench --native
    --workers 2`: every cell (two servers, so two masters one after the other)
    gets both workers, and counts both workers' CPU."""
    # The master listens on Locust's default port, as in Compose.
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "labbench.worker", "--master-host", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        flags = ["--servers", f"{SERVER},gevent-pywsgi", *SHORT[2:], "--repetitions", "1", "--workers", "2"]
        result = labbench("--native", *flags, "--output", str(tmp_path))
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(timeout=30)
    assert result.returncode == 0, result.stderr[-3000:]
    cells = json.loads((only_run(tmp_path) / "results.json").read_text())["cells"]
    assert len(cells) == 2
    for cell in cells:
        assert cell["status"] == "ok" and cell["failures"] == 0, cell
        assert len(cell["loadgen_cpu_workers"]) == 2 and min(cell["loadgen_cpu_workers"].values()) > 0, cell


@pytest.mark.docker
def test_two_worker_containers_measure_as_a_normal_run_does(lab_stack: Stack, tmp_path: Path) -> None:
    """README's order: the lab, then the workers, then bench with --use-aliases.
    The cell has the fields a run without workers has, and each worker's own CPU."""
    compose("--profile", "bench", "build", "bench")
    alone = bench(tmp_path, *SHORT)["cells"][0]
    compose("up", "--detach", "bench-worker")
    try:
        results = bench(tmp_path, *SHORT, "--workers", "2", run_flags=("--use-aliases",))
    finally:
        compose("rm", "--stop", "--force", "bench-worker")
    assert results["run"]["plan"]["locust_workers"] == 2
    cell = results["cells"][0]
    assert cell["status"] == "ok" and cell["requests"] > 0 and cell["failures"] == 0, cell
    assert cell.keys() - {"loadgen_cpu_workers"} == alone.keys(), "the same cell fields as without workers"
    assert all(cell[name] is not None for name in ("rps", "latency_ms", "server_cpu_s", "loadgen_cpu")), cell
    workers = cell["loadgen_cpu_workers"]
    assert len(workers) == 2 and all(share > 0 for share in workers.values()), workers
    assert cell["loadgen_cpu"] >= max(workers.values()), "the busiest load generator sets loadgen_cpu"


@pytest.mark.docker
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="placement needs two CPUs")
def test_placement_puts_servers_and_load_generator_on_disjoint_cpus(
    lab_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the knobs set, the server's container and the runner's see the
    CPUs asked for, and the run records them as disjoint; without, they share."""
    compose("--profile", "bench", "build", "bench")
    monkeypatch.setenv("LAB_SERVER_CPUSET", "0")
    monkeypatch.setenv("LAB_LOADGEN_CPUSET", "1")
    try:
        compose("up", "--detach", "--no-deps", "--wait", SERVER)
        assert lab_stack.container(SERVER)["HostConfig"]["CpusetCpus"] == "0"
        placed = bench(tmp_path, *SHORT, "--repetitions", "1")["run"]["placement"]
    finally:
        monkeypatch.delenv("LAB_SERVER_CPUSET")
        monkeypatch.delenv("LAB_LOADGEN_CPUSET")
        compose("up", "--detach", "--no-deps", "--wait", SERVER)  # back as the other tests expect it
    assert placed == {"servers": {SERVER: [0]}, "loadgen": [1], "disjoint": True}
    shared = bench(tmp_path, *SHORT, "--repetitions", "1")["run"]["placement"]
    assert shared["disjoint"] is False and shared["servers"][SERVER] == shared["loadgen"], shared

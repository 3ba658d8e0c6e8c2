"""A short crossover run, native: the physics the map stands on (wide margins), and its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labbench.results import Results
from labcore import defaults
from labcore.scenarios import split_name
from tests.support.cli import labbench, only_run

pytestmark = pytest.mark.native

PURE_IO = split_name(defaults.MIXED_MS, 0)
PURE_CPU = split_name(0, defaults.MIXED_MS)
SYNC, GEVENT = "gunicorn-sync", "gunicorn-gevent"
USERS = 16
# Timings on a shared machine are noisy: a bound may be passed by this much before the test calls it broken.
SLACK = 1.15


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, str], float], Results]:
    output = tmp_path_factory.mktemp("crossover")
    result = labbench(
        "--crossover", "--native", "--output", str(output), "--servers", f"{SYNC},{GEVENT}",
        "--scenarios", f"{PURE_IO},{PURE_CPU}", "--users", str(USERS),
        "--duration", "3", "--warmup", "1", "--repetitions", "1", "--seed", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    folder = only_run(output)
    text = (folder / "results.json").read_text()
    results = Results.from_json(text)
    data: dict[str, Any] = json.loads(text)
    rps = {(cell["server"], cell["scenario"]): cell["rps"] for cell in data["cells"] if cell["status"] == "ok"}
    assert len(rps) == 4, data["cells"]
    for cell in data["cells"]:
        assert cell["failures"] == 0, cell
    return folder, rps, results


def test_at_pure_io_four_sync_workers_are_bounded_by_their_slots(run: Any) -> None:
    _, rps, _ = run
    bound = 4 / (defaults.MIXED_MS / 1000)
    assert rps[(SYNC, PURE_IO)] <= bound * SLACK
    # ...and reach a good part of it: the bound is the slots, not something else.
    assert rps[(SYNC, PURE_IO)] >= bound * 0.5


def test_at_pure_io_gevent_beats_the_sync_workers(run: Any) -> None:
    _, rps, _ = run
    assert rps[(GEVENT, PURE_IO)] > 1.5 * rps[(SYNC, PURE_IO)]


def test_at_pure_cpu_no_server_exceeds_its_cpu_limit(run: Any) -> None:
    _, rps, results = run
    # Native mode pins the servers to one CPU, its stand-in for the containers' limit.
    cpus = float(results.run.limits.cpus) if results.run.limits and results.run.limits.cpus else 1.0
    bound = cpus / (defaults.MIXED_MS / 1000)
    for server in (SYNC, GEVENT):
        assert rps[(server, PURE_CPU)] <= bound * SLACK, server


def test_the_report_draws_the_map(run: Any) -> None:
    folder, _, _ = run
    assert "## Crossover map" in (folder / "report.md").read_text()
    html = (folder / "report.html").read_text()
    assert html.count('id="crossover-map-map-cell-') == 2

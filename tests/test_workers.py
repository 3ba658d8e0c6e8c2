"""CPU placement and Locust workers, in process: what compose.yaml asks, what
the run records, and how the workers' CPU reports become a cell's numbers.

The same things end to end, through Compose: tests/test_workers_docker.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from labbench import locustrun, metadata, stats, worker
from labbench.report import findings
from labbench.results import Cell, Results
from labcore import protocol
from tests.support import ROOT
from tests.support.cli import labbench
from tests.support.mdtables import md_tables

pytestmark = pytest.mark.unit

SERVICES: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


# --- placement: compose.yaml and the run's record ---------------------------------------------


def test_servers_and_load_generators_each_take_their_own_cpuset_knob() -> None:
    """Every server gets LAB_SERVER_CPUSET, every load generator
    LAB_LOADGEN_CPUSET; upstream and the proxy neither. A service left out,
    or given the other side's knob, would share CPUs with the other side."""
    by_role: dict[str, set[str | None]] = {}
    for service in SERVICES.values():
        by_role.setdefault(service["labels"]["lab.role"], set()).add(service.get("cpuset"))
    assert by_role["server"] == {"${LAB_SERVER_CPUSET-}"}
    assert by_role["load-generator"] == {"${LAB_LOADGEN_CPUSET-}"}
    assert by_role["upstream"] == by_role["proxy"] == {None}


def test_an_unset_cpuset_knob_leaves_cpuset_out() -> None:
    """Unset, Compose drops an empty cpuset (any CPU, as before the knob);
    set, every server and load generator gets it."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker compose to render the file")

    def rendered(env: dict[str, str]) -> dict[str, Any]:
        clean = {k: v for k, v in os.environ.items() if not k.endswith("_CPUSET")} | env
        out = subprocess.run(
            ["docker", "compose", "--profile", "bench", "--profile", "workers", "config", "--format", "json"],
            cwd=ROOT, env=clean, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return json.loads(out)["services"]

    assert not any("cpuset" in service for service in rendered({}).values())
    placed = rendered({"LAB_SERVER_CPUSET": "0", "LAB_LOADGEN_CPUSET": "1"})
    assert placed["gunicorn-sync"]["cpuset"] == "0" and placed["bench-worker"]["cpuset"] == "1"
    assert "cpuset" not in placed["upstream"]


@pytest.mark.parametrize(
    ("servers", "disjoint"),
    [
        ({"a": [0], "b": [0]}, True),
        ({"a": [0], "b": [0, 1]}, False),  # one server may run where Locust does
        ({"a": [0], "b": None}, None),  # a server that did not say: unknown, not disjoint
    ],
)
def test_placement_records_each_side_and_whether_they_share_a_cpu(
    monkeypatch: pytest.MonkeyPatch, servers: dict[str, list[int] | None], disjoint: bool | None
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1})
    usages = {name: None if cpus is None else {"cpu_seconds": 1.0, "cpus": cpus} for name, cpus in servers.items()}
    placement = metadata.placement(usages)
    assert placement.servers == servers
    assert placement.loadgen == [1]
    assert placement.disjoint is disjoint


# --- the master's command and its workers' reports --------------------------------------------


def load(workers: int) -> locustrun.Load:
    return locustrun.Load("Hello", 8, 1, 2, 1, 100, 10, workers)


def test_with_workers_the_runner_s_locust_is_a_master_that_waits_for_them() -> None:
    argv = locustrun.command(load(3), "http://server:8000", "raw/cell")
    at = argv.index("--expect-workers")
    assert "--master" in argv and argv[at + 1] == "3"
    assert argv[argv.index(protocol.WORKER_CPU_FLAG) + 1] == "raw/cell_workers_cpu.json"
    assert "--master" not in locustrun.command(load(0), "http://server:8000", "raw/cell")


def test_workers_reports_become_shares(tmp_path: Path) -> None:
    path = tmp_path / "cpu.json"
    path.write_text(
        json.dumps({"w1": {"cpu_s": 1.5, "window_s": 3.0, "cpus": [1]}, "w2": {"cpu_s": 0.25, "window_s": 2.5}})
    )
    assert locustrun.worker_shares(path) == {"w1": 0.5, "w2": 0.1}
    assert locustrun.worker_shares(tmp_path / "missing.json") == {}
    path.write_text("{")  # cut short: no report rather than a traceback
    assert locustrun.worker_shares(path) == {}


@pytest.mark.parametrize(
    ("here", "workers", "shares", "expected"),
    [
        (0.3, 0, {}, 0.3),  # no workers: the Locust started here
        (0.05, 2, {"w1": 0.95, "w2": 0.4}, 0.95),  # the busiest worker, not the mean
        (0.97, 2, {"w1": 0.2, "w2": 0.4}, 0.97),  # a saturated master counts too
        (0.05, 2, {"w1": 0.2}, None),  # a missing report may have been the busiest
    ],
)
def test_the_load_generator_share_is_the_busiest(
    here: float, workers: int, shares: dict[str, float], expected: float | None
) -> None:
    assert locustrun.loadgen_share(here, workers, shares) == expected


def test_a_cell_without_workers_writes_no_workers_field() -> None:
    """Runs made before --workers read and write back unchanged."""
    cell = {"server": "s", "scenario": "hello", "users": 1, "repetition": 1, "order": 1}
    cell |= {"status": "locust-error", "started_at": "2026-12-01T00:00:00+00:00", "raw": "raw/x"}
    assert "loadgen_cpu_workers" not in Cell(**cell).to_dict()
    assert Cell(**cell, loadgen_cpu_workers={"w1": 0.5}).to_dict()["loadgen_cpu_workers"] == {"w1": 0.5}


def test_workers_and_processes_together_are_refused(tmp_path: Path) -> None:
    result = labbench("run", "--workers", "2", "--processes", "2", "--output", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "--workers and --processes" in result.stderr and "Traceback" not in result.stderr


# --- labbench.worker: a worker again after every cell ------------------------------------------


def test_the_worker_loop_starts_locust_again_until_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each cell's master quits its workers; the loop must start the next
    one (a single start would leave every cell after the first without
    workers) and stop for good on SIGTERM."""
    starts: list[list[str]] = []

    class Worker:
        def __init__(self, argv: list[str], **_kwargs: Any) -> None:
            starts.append(argv)

        def wait(self) -> int:
            if len(starts) == 3:
                signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # docker compose stop
            return 0

        def poll(self) -> int:
            return 0

    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(worker.subprocess, "Popen", Worker)
    monkeypatch.setattr(worker, "PAUSE_S", 0)
    try:
        assert worker.main(["--master-host", "bench"]) == 0
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert len(starts) == 3
    assert starts[0][starts[0].index("--master-host") + 1] == "bench" and "--worker" in starts[0]


# --- docs/methodology.md's placement table, from the committed runs ----------------------------


def placement_rows(off: Path, on: Path) -> list[dict[str, str]]:
    """One row per server: median req/s and CV of req/s over the repetitions, without and with placement."""
    rows = {}
    for label, path in (("without", off), ("with", on)):
        for row in stats.summarize(Results.from_json(path.read_text(), path.name)):
            cells = rows.setdefault(row.server, {"server": f"`{row.server}`"})
            cells[f"req/s {label}"] = f"{stats.median_rps(row):.0f}"
            cells[f"CV {label}"] = f"{row.rps_cv:.1%}"
    return list(rows.values())


def committed(which: str) -> Path:
    found = sorted((ROOT / "docs" / "images").glob(f"*-placement-{which}.json"))
    assert found, f"no docs/images/*-placement-{which}.json"
    return found[-1]


def test_methodology_s_placement_table_is_the_committed_runs() -> None:
    """Every number of the table comes from the two committed runs: an edit
    by hand, or a run swapped for another, fails here."""
    off, on = committed("off"), committed("on")
    tables = md_tables((ROOT / "docs" / "methodology.md").read_text())
    assert tables["CPU placement"] == placement_rows(off, on)
    placement = {path: Results.from_json(path.read_text(), path.name).run.placement for path in (off, on)}
    assert placement[off] is not None and placement[off].disjoint is False, "the run without shares CPUs"
    assert placement[on] is not None and placement[on].disjoint is True, "the run with does not"


# --- what the report and compare say -----------------------------------------------------------


@pytest.mark.parametrize(
    ("placement", "sentence"),
    [
        (
            {"servers": {"a": [0]}, "loadgen": [1], "disjoint": True},
            "on CPUs 0 and the load generator on CPUs 1: on separate CPUs",
        ),
        ({"servers": {"a": [0, 1]}, "loadgen": [0, 1], "disjoint": False}, "on CPUs 0,1: sharing CPUs"),
    ],
)
def test_the_report_says_where_each_side_ran(placement: dict[str, Any], sentence: str) -> None:
    data = json.loads(committed("off").read_text())
    data["run"]["placement"] = placement
    text = " ".join(findings.methodology(Results.from_json(json.dumps(data), "x")))
    assert sentence in text, text


def test_the_report_names_the_workers() -> None:
    data = json.loads(committed("off").read_text())
    data["run"]["plan"]["locust_workers"] = 3
    text = " ".join(findings.methodology(Results.from_json(json.dumps(data), "x")))
    assert "3 Locust workers" in text and "the busiest of them" in text, text

"""The locustfile, run the way people run it: Locust's own CLI, headless.

Each scenario loads a natively served gunicorn-gevent for two seconds and
must count requests and no failures; a fake server that answers 200 with the
wrong bodies must make every scenario fail, so the checks cannot pass
silently. Locust runs in a child process: importing it here would
monkey-patch this test process with gevent.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from labbench import native
from labcore import matrix
from tests.support import ROOT

pytestmark = pytest.mark.native

LOCUSTFILE = ROOT / "locustfiles" / "locustfile.py"

# User class -> the stats names its requests appear under, with default ms.
SCENARIOS = {
    "Hello": {"/"},
    "Json": {"/json"},
    "JsonDumps": {"/json-dumps"},
    "Io": {"/io?ms=100"},
    "Upstream": {"/upstream?ms=100"},
    "Cpu": {"/cpu?ms=10"},
    "AsyncIo": {"/async-io?ms=100"},
}
SCENARIOS["Mix"] = set().union(*SCENARIOS.values())
# Not in the mix: the crossover map sweeps it on its own.
SCENARIOS["Mixed"] = {"/mixed?io_ms=100&cpu_ms=10"}


@dataclass(frozen=True)
class Row:
    requests: int
    failures: int


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    stats: dict[str, Row]  # by request name, without the "Aggregated" row

    def describe(self) -> str:
        return f"exit {self.returncode}; stats {self.stats}; output tail:\n{self.output[-3000:]}"


def _environment() -> dict[str, str]:
    # LOCUST_* variables in the caller's environment would change the run.
    return {key: value for key, value in os.environ.items() if not key.startswith("LOCUST_")}


def _locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def _read_stats(prefix: Path) -> dict[str, Row]:
    """Requests and failures per endpoint, from the statistics Locust writes
    when it stops (its _stats.csv is rewritten once a second and can miss an
    endpoint whose first answer came in the last second)."""
    entries = json.loads(Path(f"{prefix}.json").read_text())
    return {entry["name"]: Row(entry["num_requests"], entry["num_failures"]) for entry in entries}


def run_headless(tmp_path: Path, *args: str, users: int = 4, seconds: int = 2) -> Run:
    """Run Locust headless, bounded in users and time, in ``tmp_path``."""
    prefix = tmp_path / "locust"
    argv = _locust(
        "--headless",
        *("--users", str(users), "--spawn-rate", str(max(users, 1)), "--run-time", f"{seconds}s"),
        *("--csv", str(prefix), "--json-file", str(prefix), "--exit-code-on-error", "1", "--only-summary"),
        *args,
    )
    # cwd=tmp_path: Locust would read a locust.conf or pyproject.toml from the cwd.
    done = subprocess.run(
        argv, cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    return Run(done.returncode, done.stdout + done.stderr, _read_stats(prefix))


def run_distributed(tmp_path: Path, *args: str, users: int, seconds: int = 2) -> tuple[Run, str]:
    """A master run headless with one worker started with the defaults, as
    workers in Compose are; returns the master's run and the worker's output."""
    port = str(native.free_port())
    worker = subprocess.Popen(
        _locust("--worker", "--master-host", "127.0.0.1", "--master-port", port),
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        run = run_headless(
            tmp_path,
            *("--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--expect-workers", "1"),
            *args,
            users=users,
            seconds=seconds,
        )
        worker_output, _ = worker.communicate(timeout=30)  # a worker quits with its master
    finally:
        worker.kill()
        worker.wait()
    return run, worker_output


@pytest.fixture(scope="module")
def server_url(upstream_url: str) -> Iterator[str]:
    with native.serve(matrix.get("gunicorn-gevent"), upstream_url=upstream_url) as url:
        yield url


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_passes_against_a_real_server(scenario: str, server_url: str, tmp_path: Path) -> None:
    run = run_headless(tmp_path, "--host", server_url, scenario)

    assert run.returncode == 0, run.describe()
    assert set(run.stats) == SCENARIOS[scenario], run.describe()
    assert all(row.requests > 0 and row.failures == 0 for row in run.stats.values()), run.describe()


class _WrongAnswers(BaseHTTPRequestHandler):
    """200 OK and JSON to every GET, with every value a scenario checks wrong."""

    def do_GET(self) -> None:
        body = json.dumps(
            {"name": "Jane", "age": 30, "slept_ms": 1, "upstream_ms": 1, "ms": 1, "io_ms": 1, "cpu_ms": 1}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would bury pytest's output


@pytest.fixture
def wrong_server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WrongAnswers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_check_fails_a_wrong_body(wrong_server_url: str, tmp_path: Path) -> None:
    # One user per scenario class; each endpoint gets requests from its own
    # scenario (and from Mix), and every one of them must count as a failure.
    run = run_headless(tmp_path, "--host", wrong_server_url, *SCENARIOS, users=len(SCENARIOS))

    assert run.returncode == 1, run.describe()
    assert set(run.stats) == set().union(*SCENARIOS.values()), run.describe()
    for name, row in run.stats.items():
        assert row.requests > 0, f"{name}: {run.describe()}"
        assert row.failures == row.requests, f"{name}: {run.describe()}"


def test_options_reach_workers(server_url: str, tmp_path: Path) -> None:
    # The worker learns the host, --io-ms and --warmup from the master's spawn message.
    run, worker_output = run_distributed(
        tmp_path, "--host", server_url, "--io-ms", "50", "--warmup", "1", "Io", users=2
    )

    assert run.returncode == 0, run.describe()
    assert set(run.stats) == {"/io?ms=50"}, run.describe()
    assert run.stats["/io?ms=50"].requests > 0, run.describe()
    assert f"Load goes to {server_url}" in worker_output, worker_output[-3000:]
    assert "Warm-up of 1s over" in worker_output, worker_output[-3000:]
    assert "Warm-up of 1s over" in run.output, run.describe()


def test_warmup_resets_the_statistics(server_url: str, tmp_path: Path) -> None:
    run = run_headless(
        tmp_path, "--host", server_url, "--io-ms", "50", "--warmup", "1.5", "--csv-full-history", "Io", seconds=4
    )

    assert run.returncode == 0, run.describe()
    assert "Warm-up of 1.5s over: statistics reset" in run.output, run.describe()
    # The history is written every second with running totals: the reset
    # shows as the only time they go down.
    with open(tmp_path / "locust_stats_history.csv", newline="") as file:
        totals = [int(row["Total Request Count"]) for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    drops = [index for index in range(1, len(totals)) if totals[index] < totals[index - 1]]
    assert len(drops) == 1, totals
    assert totals[-1] > 0, totals


def test_pace_sets_a_fixed_rate_instead_of_a_closed_loop(server_url: str, tmp_path: Path) -> None:
    # 4 users each starting a 10 ms request every 0.5 s: 8 req/s for 3 s, at
    # most 28 requests (with the spawning second, fewer); a closed loop would
    # send hundreds in the same time.
    run = run_headless(tmp_path, "--host", server_url, "--io-ms", "10", "--pace", "0.5", "Io", seconds=3)

    assert run.returncode == 0, run.describe()
    assert 10 <= run.stats["/io?ms=10"].requests <= 28, run.describe()


def test_target_reaches_workers(tmp_path: Path) -> None:
    # No host: the worker must build the URL from the master's --target, not
    # its own default. Zero users, so nothing tries to reach a Compose name.
    run, worker_output = run_distributed(tmp_path, "--target", "gunicorn-gevent", "Hello", users=0, seconds=1)

    assert run.returncode == 0, run.describe()
    assert "Load goes to http://gunicorn-gevent:8000" in worker_output, worker_output[-3000:]


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("--target", "no-such-server", "invalid choice: 'no-such-server'"),
        ("--io-ms", "-5", "must be a whole number of milliseconds"),
        ("--cpu-ms", "ten", "must be a whole number of milliseconds"),
        ("--warmup", "-1", "must be a number of seconds >= 0"),
        ("--pace", "soon", "must be a number of seconds >= 0"),
    ],
)
def test_bad_option_is_refused(option: str, value: str, complaint: str, tmp_path: Path) -> None:
    # Should the option be accepted after all, the run hits a closed loopback port.
    done = subprocess.run(
        _locust(
            "--headless", "--users", "1", "--run-time", "1s", "--host", "http://127.0.0.1:9", option, value, "Hello"
        ),
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert complaint in done.stderr


def test_each_worker_reports_its_cpu_to_the_master(server_url: str, tmp_path: Path) -> None:
    """Two workers (Locust's --processes: a master and two forked workers)
    each send their CPU over the window after the warm-up; the master writes
    both. Without the message, or with the master keeping only one, this fails."""
    report = tmp_path / "workers_cpu.json"
    run = run_headless(
        tmp_path, "--host", server_url, "--processes", "2", "--warmup", "1", "--worker-cpu-file", str(report),
        "Hello", seconds=3,
    )  # fmt: skip

    assert run.returncode == 0, run.describe()
    reports = json.loads(report.read_text())
    assert len(reports) == 2, reports
    for worker in reports.values():
        assert worker["cpu_s"] > 0, reports
        # The window after the 1 s warm-up of a 3 s run, not the whole run.
        assert 1 <= worker["window_s"] <= 2.9, reports
        assert worker["cpus"] == sorted(os.sched_getaffinity(0)), reports

"""labbench given bad input: a clear message, a failing exit code, no traceback,
and nothing already on disk touched.

tests/test_bench_run.py covers bad values of the main flags, an unknown
config option and run folders that are missing or not JSON (and
tests/test_bench_cli.py the config file's values); this file covers the
rest: a compose.yaml that is not a usable server matrix, results.json files
that parse but do not hold what the reports read, runs that cannot be
resumed, and places that cannot be written. Nothing here gets as far as
starting a server.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, bench_fixtures
from tests.support.cli import labbench

pytestmark = pytest.mark.unit


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``, hidden ones too, with the sha256 of each file."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in sorted(folder.rglob("*"))
    }


def assert_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit code 2, ``message`` (a regular expression) in a labbench error, no traceback."""
    assert result.returncode == 2, f"exit {result.returncode}:\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert re.search(r"^(usage: |labbench.*: error: )", result.stderr, re.M), result.stderr[-2000:]
    assert re.search(message, result.stderr), result.stderr[-2000:]


# --- compose.yaml -----------------------------------------------------------------

COMPOSE_FILES = {
    "no-servers": ("services:\n  web:\n    image: nginx\n", r"defines no service labelled 'lab\.role: server'"),
    "empty": ("", r"defines no service labelled 'lab\.role: server'"),
    "not-yaml": ("services: [unclosed\n", r"is not valid YAML"),
    "a-string": ("just some text\n", r"is not a Compose file: it needs a mapping of services"),
    "services-a-list": ("services:\n  - web\n", r"is not a Compose file: it needs a mapping of services"),
    "service-null": ("services:\n  web:\n", r"service 'web' in .* is not a mapping"),
    "port-not-a-number": (
        "services:\n  s:\n    labels: [lab.role=server]\n    command: serve\n    ports: ['x:8000']\n",
        r"service 's' publishes 'x:8000': 'x' is not a port number",
    ),
    "command-a-list": (
        "services:\n  s:\n    labels: {lab.role: server}\n    command: [serve]\n    ports: ['1:8000']\n",
        r"service 's' in .* needs its command as one string",
    ),
}


@pytest.mark.parametrize("args", [["--quick", "--native"], ["run", "--help"]], ids=["run", "run-help"])
@pytest.mark.parametrize("name", list(COMPOSE_FILES))
def test_a_compose_file_that_is_no_server_matrix_is_named(tmp_path: Path, name: str, args: list[str]) -> None:
    text, message = COMPOSE_FILES[name]
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(text)
    output = tmp_path / "results"
    result = labbench(*args, "--output", str(output), env={"LAB_COMPOSE_FILE": str(compose_file)})
    assert_refused(result, message)
    assert str(compose_file) in result.stderr or "service 's'" in result.stderr
    assert not output.exists(), "a run folder was created"


def test_a_missing_compose_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "compose.yaml"
    result = labbench("--quick", "--native", env={"LAB_COMPOSE_FILE": str(missing)})
    assert_refused(result, re.escape(f"cannot read {missing}: No such file or directory"))


def test_reading_results_needs_no_compose_file(tmp_path: Path) -> None:
    """report, compare and index read results.json alone: a run copied elsewhere still renders."""
    run = bench_fixtures.write_run(tmp_path / "run")
    env = {"LAB_COMPOSE_FILE": str(tmp_path / "missing.yaml")}
    assert labbench("--help", env=env).returncode == 0
    assert labbench("index", str(tmp_path), env=env).returncode == 0
    assert labbench("report", str(run), env=env).returncode == 0
    compared = labbench("compare", str(run), str(run), env=env)
    assert compared.returncode == 0, compared.stderr[-2000:]
    assert "gunicorn-sync" in compared.stdout


# --- results.json that parses but is wrong --------------------------------------------


def cell(index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["cells"][index].update(changes)

    return change


def plan(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["run"]["plan"].update(changes)

    return change


#: A committed run with every fault experiment, for fault cells to break.
FAULTS_RUN = ROOT / "docs" / "images" / "2026-11-22T012441Z-faults-docker.json"


def fault(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Add a real ``name`` fault cell (from a committed run), changed by ``change``."""

    def add(data: dict[str, Any]) -> None:
        cells = json.loads(FAULTS_RUN.read_text())["faults"]
        chosen = next(c for c in cells if c["fault"] == name and c["status"] == "ok")
        change(chosen)
        data.setdefault("faults", []).append(chosen)

    return add


def ok_index(data: dict[str, Any]) -> int:
    return next(i for i, c in enumerate(data["cells"]) if c["status"] == "ok")


# Each breaks what a reader relies on; each used to end in a traceback. The
# message is labbench.results': where in the file, then what is wrong there.
BROKEN = {
    "rps-a-string": (lambda d: cell(ok_index(d), rps="fast")(d), r"cells\[\d+\]\.rps: Input should be a valid number"),
    "users-a-string": (lambda d: cell(0, users="many")(d), r"cells\[0\]\.users: Input should be a valid integer"),
    "users-true": (lambda d: cell(0, users=True)(d), r"cells\[0\]\.users: Input should be a valid integer"),
    "status-null": (lambda d: cell(0, status=None)(d), r"cells\[0\]\.status: Input should be a valid string"),
    "latency-a-list": (
        lambda d: cell(ok_index(d), latency_ms=[1, 2])(d),
        r"cells\[\d+\]\.latency_ms: Input should be a valid dictionary",
    ),
    "latency-p95-missing": (
        lambda d: cell(ok_index(d), latency_ms={"mean": 1, "p50": 1, "p99": 1, "max": 1})(d),
        r"cells\[\d+\]\.latency_ms\.p95: Field required",
    ),
    "ok-cell-without-rps": (lambda d: cell(ok_index(d), rps=None)(d), r"cells\[\d+\]: .*an ok cell needs rps"),
    "plan-servers-a-string": (plan(servers="gunicorn-sync"), r"run\.plan\.servers: Input should be a valid list"),
    "plan-users-strings": (plan(users=["8"]), r"run\.plan\.users\[0\]: Input should be a valid integer"),
    "plan-seed-a-float": (plan(seed=1.5), r"run\.plan\.seed: Input should be a valid integer"),
    # Fault cells are read whole too: what each experiment observed has its own shape.
    "fault-observed-a-string": (
        fault("crash", lambda c: c["observed"].update(answered_again_s="soon")),
        r"faults\[0\]: .*crash experiment: answered_again_s: Input should be a valid number",
    ),
    "fault-observed-key-missing": (
        fault("stop", lambda c: c["observed"].pop("in_flight")),
        r"faults\[0\]: .*stop experiment: in_flight: Field required",
    ),
    "fault-timeline-short-point": (
        fault("crash", lambda c: c["timeline"].__setitem__(0, [1, 2])),
        r"faults\[0\]\.timeline\[0\]: List should have at least 3 items",
    ),
    "fault-unknown": (fault("crash", lambda c: c.update(fault="flood")), r"faults\[0\]: .*unknown fault 'flood'"),
}


def write_broken(folder: Path, name: str) -> Path:
    data = bench_fixtures.results()
    data["run"]["finished_at"] = None  # resumable, as far as that goes
    BROKEN[name][0](data)
    return bench_fixtures.write_run(folder, data)


@pytest.mark.parametrize("command", ["report", "compare", "--resume"])
@pytest.mark.parametrize("name", list(BROKEN))
def test_results_that_do_not_hold_what_readers_need_are_named(tmp_path: Path, name: str, command: str) -> None:
    run = write_broken(tmp_path / "run", name)
    args = [command, str(run)] + ([str(bench_fixtures.write_run(tmp_path / "good"))] if command == "compare" else [])
    before = snapshot(tmp_path)
    result = labbench(*args)
    assert_refused(result, re.escape(str(run / "results.json")) + ".*" + BROKEN[name][1])
    assert snapshot(tmp_path) == before, "files changed"


def test_a_run_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "results.json"
    not_a_folder.write_text(json.dumps(bench_fixtures.results()))
    before = snapshot(tmp_path)
    assert_refused(
        labbench("report", str(not_a_folder)), re.escape(f"{not_a_folder} is not a run folder: not a directory")
    )
    assert snapshot(tmp_path) == before


def test_results_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_bytes(b"\xff\xfe{}")
    before = snapshot(tmp_path)
    assert_refused(labbench("report", str(run)), r"cannot read .*results\.json: 'utf-8' codec can't decode")
    assert snapshot(tmp_path) == before


# --- resuming -----------------------------------------------------------------------------


def run_as_written(finished: bool) -> dict[str, Any]:
    """The synthetic run with the whole plan a runner writes (it leaves out the request work)."""
    data = bench_fixtures.results()
    data["run"]["plan"] |= {"io_ms": 100, "cpu_ms": 10}
    if not finished:
        data["run"]["finished_at"] = None
    return data


def test_resume_refuses_other_options_instead_of_ignoring_them(tmp_path: Path) -> None:
    run = bench_fixtures.write_run(tmp_path / "run", run_as_written(finished=False))
    before = snapshot(tmp_path)
    result = labbench("--resume", str(run), "--servers", "gunicorn-sync", "--seed", "0", "--native")
    assert_refused(result, r"--resume takes every option from the run; drop --native, --seed, --servers")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # Every reader refuses a key it does not know, naming it.
        ({"flavour": "vanilla"}, r"{run}/results\.json: run\.plan\.flavour: Extra inputs are not permitted"),
        # Readers default the work per request; a run carried on must not.
        ({"io_ms": None}, r"{run}: its run\.plan does not fit this labbench \(no io_ms\)"),
    ],
    ids=["unknown-key", "missing-key"],
)
def test_resume_refuses_a_plan_this_labbench_cannot_carry_on(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    data = run_as_written(finished=False)
    data["run"]["plan"] |= {k: v for k, v in change.items() if v is not None}
    for key in [k for k, v in change.items() if v is None]:
        del data["run"]["plan"][key]
    run = bench_fixtures.write_run(tmp_path / "run", data)
    before = snapshot(tmp_path)
    result = labbench("--resume", str(run))
    assert_refused(result, message.replace("{run}", re.escape(str(run))))
    assert snapshot(tmp_path) == before


def test_resume_refuses_a_finished_run(tmp_path: Path) -> None:
    run = bench_fixtures.write_run(tmp_path / "run", run_as_written(finished=True))
    before = snapshot(tmp_path)
    assert_refused(labbench("--resume", str(run)), re.escape(f"{run} is a finished run: nothing to resume"))
    assert snapshot(tmp_path) == before


# --- where things are written and read --------------------------------------------------------


def test_report_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    run = bench_fixtures.write_run(tmp_path / "run")
    (run / "report.html").mkdir()  # in the way of the report
    result = labbench("report", str(run))
    assert_refused(result, re.escape(f"cannot write {run / 'report.html'}: Is a directory"))
    assert not list(run.glob(".*.tmp")), "a temporary file was left behind"


def test_an_output_that_is_a_file_is_named_and_left_alone(tmp_path: Path) -> None:
    output = tmp_path / "results"
    output.write_text("mine\n")
    result = labbench("--quick", "--native", "--servers", "gunicorn-sync", "--output", str(output))
    assert_refused(result, r"--output: cannot create .*: Not a directory")
    assert output.read_text() == "mine\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfeusers: 8\n", r"--config: .* is not UTF-8 text"), (None, r"--config: cannot read .*: Is a directory")],
    ids=["not-utf8", "a-directory"],
)
def test_a_config_file_that_cannot_be_read_is_named(tmp_path: Path, content: bytes | None, message: str) -> None:
    config = tmp_path / "bench.yaml"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    output = tmp_path / "results"
    assert_refused(labbench("--config", str(config), "--output", str(output)), message)
    assert not output.exists()


@pytest.mark.parametrize(
    "args",
    [["compare", "only-one"], ["compare", "a", "b", "c"], ["report"], ["report", "a", "--bogus"]],
    ids=["compare-one-run", "compare-three-runs", "report-no-run", "report-bogus-flag"],
)
def test_compare_and_report_usage_errors(args: list[str]) -> None:
    assert_refused(labbench(*args), r"usage: labbench (compare|report)")

"""The user's own app, natively: a fixture app outside the lab's packages
(tests/fixtures/ownapp, installed by tests/run as a user installs theirs),
its scenarios file, and ``--target-url`` against servers the lab did not start.

Locust and labbench run in child processes, as a user runs them; every load
here is short (a second or two per cell).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labbench import native
from labcore import matrix, protocol
from tests.support import ROOT
from tests.support.cli import labbench, only_run
from tests.support.inprocess import serve_wsgi

pytestmark = pytest.mark.native

FIXTURE = ROOT / "tests" / "fixtures" / "ownapp"
LOCUSTFILE = ROOT / "locustfiles" / "locustfile.py"
#: The knobs that serve the fixture app instead of the lab's, and name its scenarios.
OWN_APP = {protocol.APP_MODULE_ENV: "ownapp:create_app()", protocol.APP_DIR_ENV: str(FIXTURE)}
USER_CLASSES = ["Home", "Add", "Token", "Missing", "AppMix"]
SHORT = ["--users", "2", "--duration", "1", "--warmup", "0", "--repetitions", "1", "--seed", "1"]


def _locust_env(extra: dict[str, str]) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("LOCUST_", "LAB_APP_"))}
    return base | extra


def _locust(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args],
        cwd=tmp_path,
        env=_locust_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _stats(prefix: Path) -> dict[str, tuple[int, int]]:
    entries = json.loads(Path(f"{prefix}.json").read_text())
    return {entry["name"]: (entry["num_requests"], entry["num_failures"]) for entry in entries}


@pytest.fixture(scope="module")
def own_app_url() -> Iterator[str]:
    """The fixture app on gunicorn-sync's real command, under the lab's /_lab instruments."""
    with native.serve(matrix.get("gunicorn-sync"), env=OWN_APP) as url:
        yield url


def test_the_locustfile_offers_a_user_class_per_scenario(tmp_path: Path) -> None:
    listed = _locust(tmp_path, {protocol.APP_DIR_ENV: str(FIXTURE)}, "--list")
    assert listed.returncode == 0, listed.stderr[-3000:]
    classes = set(listed.stdout.split())
    assert set(USER_CLASSES) <= classes, listed.stdout
    assert {"Hello", "Io", "Mix"} <= classes, "the built-in scenarios stay"


def test_a_bad_scenarios_file_stops_locust_with_its_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  home:\n    path: /\n    weight: heavy\n")
    listed = _locust(tmp_path, {protocol.APP_SCENARIOS_ENV: str(bad)}, "--list")
    assert listed.returncode != 0
    assert f"locustfile: {bad}: scenario 'home': weight: must be a whole number" in listed.stderr
    assert "Traceback" not in listed.stderr


def _headless(
    tmp_path: Path, env: dict[str, str], url: str, classes: list[str]
) -> tuple[subprocess.CompletedProcess[str], dict]:
    prefix = tmp_path / "locust"
    done = _locust(
        tmp_path, env, "--headless", "--users", str(len(classes)), "--spawn-rate", "10", "--run-time", "2s",
        "--host", url, "--json-file", str(prefix), "--only-summary", "--exit-code-on-error", "1", *classes,
    )  # fmt: skip
    assert Path(f"{prefix}.json").is_file(), done.stderr[-3000:]
    return done, _stats(prefix)


def test_every_scenario_of_the_file_passes_against_the_app(own_app_url: str, tmp_path: Path) -> None:
    done, stats = _headless(tmp_path, {protocol.APP_DIR_ENV: str(FIXTURE)}, own_app_url, USER_CLASSES)
    assert done.returncode == 0, done.stderr[-3000:]
    # POST /add with its JSON, /token with its header, and a 404 that is expected.
    assert set(stats) == {"/", "/add", "/token", "/no-such-page"}, stats
    assert all(requests > 0 and failures == 0 for requests, failures in stats.values()), stats


def test_a_wrong_expectation_fails_every_request(own_app_url: str, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "scenarios:\n"
        "  home:\n    path: /\n    expect_contains: '<xml'\n"
        "  add:\n    method: POST\n    path: /add\n    json: {a: 2, b: 3}\n    expect_contains: '\"sum\":6'\n"
        "  token:\n    path: /token\n    expect_contains: granted\n"  # no header: "denied"
        "  missing:\n    path: /no-such-page\n"  # a 404 where a 200 is expected
    )
    # No weights in this file, so no AppMix.
    done, stats = _headless(tmp_path, {protocol.APP_SCENARIOS_ENV: str(wrong)}, own_app_url, USER_CLASSES[:-1])
    assert done.returncode == 1
    assert set(stats) == {"/", "/add", "/token", "/no-such-page"}, stats
    assert all(requests > 0 and failures == requests for requests, failures in stats.values()), stats


def test_labbench_measures_the_own_app_natively(tmp_path: Path) -> None:
    result = labbench(
        "--native", "--servers", "gunicorn-sync", "--output", str(tmp_path), *SHORT, env=OWN_APP, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(tmp_path)
    data = json.loads((run / "results.json").read_text())
    # The file's scenarios are the default, each a cell without failures.
    assert data["run"]["plan"]["scenarios"] == ["home", "add", "token", "missing"]
    assert data["scenarios"]["add"] == {
        "user_class": "Add", "path": "/add", "kind": "user", "work_ms": None, "method": "POST"
    }  # fmt: skip
    assert [(c["scenario"], c["status"], c["failures"]) for c in data["cells"] if c["failures"] != 0] == []
    assert all(c["status"] == "ok" and c["requests"] > 0 for c in data["cells"]), [
        (c["status"], c["error"]) for c in data["cells"]
    ]
    report = (run / "report.md").read_text()
    assert "`POST /add`, kind user." in report
    assert "add (user): no ideal bound: the work of this request is unknown to the lab" in report


@pytest.fixture(scope="module")
def lab_app_url(upstream_url: str) -> Iterator[str]:
    """The lab's own app on gunicorn-sync: it answers the lab's /usage."""
    with native.serve(matrix.get("gunicorn-sync"), upstream_url=upstream_url) as url:
        yield url


@pytest.fixture(scope="module")
def bare_app_url() -> Iterator[str]:
    """The fixture app as a deployment the lab never touched: no /_lab instruments around it."""
    from ownapp import create_app  # the fixture project, installed by tests/run

    with serve_wsgi(create_app()) as url:
        yield url


def test_targets_with_and_without_the_usage_endpoint(bare_app_url: str, lab_app_url: str, tmp_path: Path) -> None:
    both = tmp_path / "both.yaml"
    both.write_text("scenarios:\n  root:\n    path: /\n")  # a 200 at / from either app
    result = labbench(
        "--target-url", f"lab={lab_app_url}", "--target-url", f"own={bare_app_url}",
        "--output", str(tmp_path / "out"), *SHORT,
        env={protocol.APP_SCENARIOS_ENV: str(both)}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(tmp_path / "out")
    data = json.loads((run / "results.json").read_text())
    assert data["run"]["plan"]["targets"] == {"lab": lab_app_url, "own": bare_app_url}
    cells = {cell["server"]: cell for cell in data["cells"]}
    assert set(cells) == {"lab", "own"} and all(cell["status"] == "ok" for cell in cells.values()), [
        (c["status"], c["error"]) for c in cells.values()
    ]
    assert all(cell["failures"] == 0 and cell["requests"] > 0 for cell in cells.values()), cells
    assert cells["lab"]["server_cpu_s"] is not None, "the lab's app answers /usage"
    assert cells["own"]["server_cpu_s"] is None and cells["own"]["server_memory_bytes"] is None
    assert data["servers"]["own"]["model"] == "unknown" and data["servers"]["own"]["docs"] == bare_app_url
    # Both classified (a server outside the matrix has no model to look up: the users' bound stands in).
    assert cells["own"]["bottleneck"] is not None and cells["lab"]["bottleneck"] is not None
    report = (run / "report.md").read_text()
    assert "own is a target outside this Compose project" in report
    assert f"unknown: the target does not expose {protocol.PREFIX}/usage" in report

"""The lab's access-logging policy, LAB_ACCESS_LOG: one knob, every server.

The native tests run every server's real command from compose.yaml with the
knob off and on, send tagged requests and count the lines of its output that
carry the tag: none with it off, one per request with it on. A server that
ignores the knob (logs as it ships) fails one of the two.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from labbench import BenchError, compare, native
from labbench.results import Results
from labcore import accesslog, matrix
from tests.support import ROOT, bench_fixtures
from tests.support.cli import labbench, only_run

REQUESTS = 40  # per server and setting: enough to tell "one per request" from "some"


# --- the knob ---------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(("value", "expected"), [("0", False), ("1", True), ("", False), (None, False)])
def test_the_knob_reads_0_and_1_and_defaults_to_off(value: str | None, expected: bool) -> None:
    environ = {} if value is None else {accesslog.VARIABLE: value}
    assert accesslog.enabled(environ) is expected


@pytest.mark.unit
@pytest.mark.parametrize("value", ["yes", "true", "2", " 1", "on"])
def test_a_bad_value_is_an_error_naming_the_knob(value: str) -> None:
    with pytest.raises(accesslog.AccessLogError, match=f"LAB_ACCESS_LOG must be 0 .* or 1 .*, not {value!r}"):
        accesslog.enabled({accesslog.VARIABLE: value})
    with pytest.raises(SystemExit, match="LAB_ACCESS_LOG must be 0"):
        accesslog.enabled_or_exit({accesslog.VARIABLE: value})


@pytest.mark.unit
def test_compose_passes_the_knob_to_every_server_with_labcore_s_default() -> None:
    document = yaml.safe_load(matrix.compose_file().read_text())
    expected = f"${{{accesslog.VARIABLE}:-{accesslog.DEFAULT}}}"
    for server in matrix.load():
        environment = document["services"][server.name]["environment"]
        assert environment.get(accesslog.VARIABLE) == expected, f"{server.name} is not given {accesslog.VARIABLE}"
    bench = document["services"]["bench"]["environment"]
    assert bench.get(accesslog.VARIABLE) == expected, "the runner must see the policy it records"


# --- every server, natively -----------------------------------------------------------


def _tagged_lines(server: matrix.Server, value: str, upstream_url: str) -> int:
    tag = uuid.uuid4().hex
    with tempfile.TemporaryFile("w+") as log:
        with native.serve(server, upstream_url=upstream_url, env={accesslog.VARIABLE: value}, log=log) as url:
            for _ in range(REQUESTS):
                # In the path, not the query: Granian's default line leaves the query out.
                with pytest.raises(urllib.error.HTTPError, match="404"):
                    urllib.request.urlopen(f"{url}/{tag}", timeout=30)
            time.sleep(0.5)  # some servers write the line after the response
        fd = log.fileno()
        text = os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")
    return sum(tag in line for line in text.splitlines())


@pytest.mark.native
@pytest.mark.parametrize("name", matrix.names())
def test_every_server_logs_each_request_with_the_knob_on_and_none_with_it_off(name: str, upstream_url: str) -> None:
    server = matrix.get(name)
    counted = {value: _tagged_lines(server, value, upstream_url) for value in ("0", "1")}
    assert counted == {"0": 0, "1": REQUESTS}, f"{name}: lines carrying the tag for {REQUESTS} requests"


@pytest.mark.native
@pytest.mark.parametrize("name", matrix.names())
def test_every_server_refuses_a_bad_value_with_the_knob_s_message(name: str, upstream_url: str) -> None:
    with (
        pytest.raises(native.ServerFailed, match="LAB_ACCESS_LOG must be 0") as failed,
        native.serve(matrix.get(name), upstream_url=upstream_url, env={accesslog.VARIABLE: "yes"}, startup_timeout=20),
    ):
        pass
    assert "Traceback" not in str(failed.value), f"{name} answered a bad value with a traceback"


# --- the run's metadata -----------------------------------------------------------------


@pytest.mark.unit
def test_a_run_without_the_field_reads_as_made_before_the_knob() -> None:
    data = bench_fixtures.results()
    assert "access_log" not in data["run"]
    assert bench_fixtures.typed(data).run.access_log is None
    data["run"]["access_log"] = True
    assert bench_fixtures.typed(data).run.access_log is True
    data["run"]["access_log"] = "1"  # strict: the policy is a bool, never the knob's string
    with pytest.raises(BenchError, match="access_log"):
        bench_fixtures.typed(data)


@pytest.mark.unit
def test_labbench_refuses_a_bad_value_before_it_makes_a_run_folder(tmp_path: Path) -> None:
    result = labbench("--native", "--quick", "--output", str(tmp_path), env={accesslog.VARIABLE: "on"}, timeout=60)
    assert result.returncode != 0
    assert "LAB_ACCESS_LOG must be 0 (no access log) or 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not [path for path in tmp_path.iterdir() if path.is_dir()], "a run folder for a run that never ran"


@pytest.mark.unit
def test_a_run_resumes_only_under_the_policy_it_started_with(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    data["run"] |= {"access_log": False, "finished_at": None}
    data["run"]["plan"] |= {"io_ms": 100, "cpu_ms": 10}
    folder = bench_fixtures.write_run(tmp_path / "run", data)
    result = labbench("run", "--resume", str(folder), env={accesslog.VARIABLE: "1"}, timeout=60)
    assert result.returncode != 0
    assert "was run with LAB_ACCESS_LOG=0: resume it with the same" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.native
@pytest.mark.parametrize("value", ["0", "1"])
def test_a_run_records_the_policy_its_servers_followed(tmp_path: Path, value: str) -> None:
    args = ["--native", "--output", str(tmp_path), "--servers", "gunicorn-sync", "--scenarios", "hello"]
    args += ["--users", "2", "--duration", "1", "--warmup", "0", "--repetitions", "1"]
    result = labbench(*args, env={accesslog.VARIABLE: value}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    run = Results.from_json((only_run(tmp_path) / "results.json").read_text()).run
    assert run.access_log is (value == "1")


# --- docs/results.md: what the policy costs ----------------------------------------------

#: The two runs docs/results.md compares: the same plan, with LAB_ACCESS_LOG=0 then 1.
COST_RUNS = {
    "off": ROOT / "docs" / "images" / "2026-12-01T140859Z-access-log-off-results.json",
    "on": ROOT / "docs" / "images" / "2026-12-01T140504Z-access-log-on-results.json",
}


@pytest.mark.unit
def test_results_md_shows_the_cost_table_labbench_compare_renders(tmp_path: Path) -> None:
    folders = {}
    for policy, path in COST_RUNS.items():
        folders[policy] = tmp_path / policy
        folders[policy].mkdir()
        shutil.copyfile(path, folders[policy] / "results.json")
        assert Results.from_json(path.read_text()).run.access_log is (policy == "on"), path.name
    rendered = compare.compare(folders["off"], folders["on"])
    table = [line for line in rendered.splitlines() if line.startswith("|")]
    text = (ROOT / "docs" / "results.md").read_text()
    shown = section(text, "## Access logs off and on")
    assert [line for line in shown.splitlines() if line.startswith("|")] == table
    # The setup differs in the policy alone: anything else would be in the difference too.
    assert "- access log: A False, B True" in rendered
    assert [line for line in rendered.splitlines() if line.startswith("- ") and ": A " in line] == [
        "- access log: A False, B True"
    ]


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same level."""
    start = text.index(heading + "\n") + len(heading) + 1
    level = heading.split(" ", 1)[0]
    end = text.find("\n" + level + " ", start)
    return text[start:] if end < 0 else text[start:end]

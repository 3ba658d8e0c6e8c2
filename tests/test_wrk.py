"""wrk, the second engine (labbench.wrkrun, wrk.lua) and ``--engine both``.

Unit tests pin the parsing of wrk.lua's summary, the answers it checks, the
run order of two engines and their cross-check; native tests run Debian's wrk
against a loopback server that answers wrongly, and labbench end to end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labbench import runner, wrkrun
from labbench.crosschecks import crosschecks
from labbench.plan import CellKey, done, run_order
from labbench.report import render_markdown
from labbench.results import Cell, Results
from labbench.stats import summarize
from labcore import defaults
from labcore.scenarios import SCENARIOS
from tests.support import bench_fixtures
from tests.support.cli import labbench, only_run
from tests.support.docker import compose

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="Debian's wrk is not installed (tests/run does it)")


def summary(**changes: object) -> str:
    data: dict[str, object] = {
        "requests": 1000,
        "duration_us": 2_000_000,
        "bytes": 50_000,
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
        "bad_status": 0,
        "wrong_body": 0,
        "sample": "",
        "latency_us": {"mean": 1500.5, "p50": 1200, "p95": 4000, "p99": 9000, "max": 20000},
    }
    return json.dumps(data | changes)


# --- wrk.lua's summary -----------------------------------------------------------------------


@pytest.mark.unit
def test_a_clean_summary_becomes_the_lab_s_units() -> None:
    found = wrkrun.parse_summary(summary())
    assert (found.requests, found.failures, found.duration_s) == (1000, 0, 2.0)
    assert found.latency_ms.model_dump() == {"mean": 1.5005, "p50": 1.2, "p95": 4.0, "p99": 9.0, "max": 20.0}


@pytest.mark.unit
def test_wrong_statuses_wrong_bodies_and_socket_errors_are_failures() -> None:
    errors = {"connect": 1, "read": 2, "write": 3, "status": 40, "timeout": 4}
    found = wrkrun.parse_summary(summary(errors=errors, bad_status=40, wrong_body=7, sample="status 500: {}"))
    # wrk's own status count (≥ 400) is inside bad_status: counted once.
    assert found.failures == 40 + 7 + 1 + 3 + 4
    assert found.errors["wrong_body"] == 7 and found.sample == "status 500: {}"


@pytest.mark.unit
def test_a_server_that_closes_each_connection_after_answering_has_no_failures() -> None:
    # uWSGI's HTTP socket on 2026-12-01: a read error for every answer, every answer right.
    errors = {"connect": 0, "read": 35734, "write": 0, "status": 0, "timeout": 0}
    found = wrkrun.parse_summary(summary(requests=35737, errors=errors))
    assert found.failures == 0 and found.errors["read"] == 35734


@pytest.mark.unit
def test_a_window_without_an_answer_has_no_latencies() -> None:
    zeros = {"mean": 0, "p50": 0, "p95": 0, "p99": 0, "max": 0}
    found = wrkrun.parse_summary(summary(requests=0, latency_us=zeros))
    assert found.latency_ms.model_dump() == dict.fromkeys(zeros)


@pytest.mark.unit
@pytest.mark.parametrize(
    "text", ["", "Running 10s test @ http://x/", summary(requests="many"), summary(duration_us=0), '{"requests": 1}']
)
def test_anything_else_is_a_clear_wrk_failure(text: str) -> None:
    with pytest.raises(wrkrun.WrkFailed, match="summary"):
        wrkrun.parse_summary(text)


# --- what wrk.lua checks ------------------------------------------------------------------------


def lua_check(mode: str, expected: str, body: str) -> bool:
    """wrk.lua's correct(), in Python, to pin what its data must mean."""
    if mode == "body":
        return body == expected
    at = body.find(expected)
    return at >= 0 and body[at + len(expected) : at + len(expected) + 1] in (",", "}")


@pytest.mark.unit
@pytest.mark.parametrize("name", [name for name in SCENARIOS if name != "mix"])
def test_wrk_checks_what_the_locustfile_checks(name: str) -> None:
    scenario = SCENARIOS[name]
    ms = scenario.work_ms()
    mode, expected = scenario.wire_answer(ms)
    if mode == "body":
        assert scenario.verify(expected, ms) is None, "the bytes wrk expects are a correct answer to Locust"
        assert not lua_check(mode, expected, expected[:-1])
    else:
        right = json.dumps({scenario.field: ms, "rounds": 3}, separators=(",", ":"))
        assert scenario.verify(right, ms) is None and lua_check(mode, expected, right)
        wrong = json.dumps({scenario.field: ms * 10}, separators=(",", ":"))
        assert scenario.verify(wrong, ms) is not None and not lua_check(mode, expected, wrong)


@pytest.mark.unit
def test_wrk_lua_reads_every_variable_labbench_sets() -> None:
    script = (Path(wrkrun.__file__).parent / "wrk.lua").read_text()
    for name in (wrkrun.ENV_STATUS, wrkrun.ENV_MODE, wrkrun.ENV_EXPECT, wrkrun.ENV_OUT):
        assert f'os.getenv("{name}")' in script, name


@pytest.mark.unit
def test_the_mix_is_refused_before_any_load(tmp_path: Path) -> None:
    result = labbench("run", "--engine", "wrk", "--scenarios", "hello,mix", "--output", str(tmp_path), "--native")
    assert result.returncode != 0
    assert "--engine wrk: scenario mix" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir()), "no run folder"


@pytest.mark.unit
def test_an_unknown_engine_names_the_flag() -> None:
    result = labbench("run", "--engine", "ab")
    assert result.returncode == 2 and "--engine" in result.stderr and "locust, wrk, both" in result.stderr


# --- two engines: order, cross-check, reports -----------------------------------------------------


@pytest.mark.unit
def test_both_engines_measure_each_cell_back_to_back_in_a_seeded_order() -> None:
    plan = bench_fixtures.typed().run.plan.model_copy(update={"engine": "both", "faults": []})
    order = [key for key in run_order(plan) if isinstance(key, CellKey)]
    assert len(order) == len(run_order(plan))
    pairs = list(zip(order[::2], order[1::2], strict=True))
    for first, second in pairs:
        assert {first.engine, second.engine} == {"locust", "wrk"}
        assert first.slug.removesuffix("__wrk") == second.slug.removesuffix("__wrk"), "the same cell, back to back"
    assert {first.engine for first, _ in pairs} == {"locust", "wrk"}, "which engine goes first is drawn, not fixed"
    assert run_order(plan) == run_order(plan), "the seed decides"
    # One engine: the order a run had before there were two (a resumed old run finds its cells).
    alone = run_order(plan.model_copy(update={"engine": "locust"}))
    assert len(alone) * 2 == len(order) and {key.engine for key in alone if isinstance(key, CellKey)} == {"locust"}


def cell(engine: str, rps: float, repetition: int = 1, status: str = "ok", bottleneck: str | None = None) -> Cell:
    latency = {"mean": 5.0, "p50": 4.0, "p95": 9.0, "p99": 12.0, "max": 20.0}
    return Cell.model_validate(
        {
            "server": "gunicorn-sync", "scenario": "hello", "users": 16, "repetition": repetition,
            "order": 1, "status": status, "started_at": "2026-12-01T00:00:00+00:00", "duration_s": 10.0,
            "requests": int(rps * 10), "failures": 0, "rps": rps, "latency_ms": latency, "engine": engine,
            "raw": "raw/x", "bottleneck": bottleneck,
        }
    )  # fmt: skip


@pytest.mark.unit
def test_the_crosscheck_is_each_cell_over_the_other_engine_s_same_round() -> None:
    cells = [cell("locust", 1500, 1), cell("wrk", 2000, 2), cell("wrk", 3000, 1)]
    runner.crosscheck(cells, cells[2])
    assert (cells[0].crosscheck, cells[2].crosscheck) == (0.5, 2.0)
    assert cells[1].crosscheck is None, "another round's cell is not its partner"
    failed = [cell("locust", 1500), cell("wrk", 0, status="wrk-error")]
    runner.crosscheck(failed, failed[1])
    assert failed[0].crosscheck is None


@pytest.mark.unit
def test_reports_never_pool_two_engines_and_show_the_crosscheck() -> None:
    results = bench_fixtures.typed()
    results.run.plan = results.run.plan.model_copy(
        update={"engine": "both", "servers": ["gunicorn-sync"], "scenarios": ["hello"], "users": [16], "faults": []}
    )
    results.faults = []
    # As the runner classifies them once paired: Locust at 0.28 of wrk set its own number.
    results.cells = [
        cell("locust", 1000, 1, bottleneck="load-generator"),
        cell("wrk", 4000, 1, bottleneck="server-cpu"),
        cell("locust", 1200, 2, bottleneck="load-generator"),
        cell("wrk", 4000, 2, bottleneck="server-cpu"),
    ]
    for partner in (results.cells[1], results.cells[3]):
        runner.crosscheck(results.cells, partner)
    rows = {row.engine: row for row in summarize(results)}
    assert rows["locust"].rps is not None and rows["locust"].rps.median == 1100
    assert rows["wrk"].rps is not None and rows["wrk"].rps.median == 4000
    (check,) = crosschecks(results)
    assert (check.locust_rps, check.wrk_rps, check.ratio, check.rounds) == (1100, 4000, 0.275, 2)
    markdown = render_markdown(results, summarize(results))
    assert "## Cross-check: Locust and wrk" in markdown and "| gunicorn-sync | hello | 16 | 1100 | 4000 | 0.28 |" in (
        markdown.replace(",", "")
    )
    assert "gunicorn-sync (wrk)" in markdown
    assert "16 users by wrk: gunicorn-sync" in markdown, "the server-bound engine's row wins"
    assert "16 users: gunicorn-sync" not in markdown, "a load-generator-bound row never wins"


@pytest.mark.unit
def test_old_results_read_as_locust_cells_and_resume_by_engine() -> None:
    results = bench_fixtures.typed()
    assert {c.engine for c in results.cells} == {"locust"} and results.run.plan.engine == "locust"
    first = results.cells[0]
    key = CellKey(first.server, first.scenario, first.users, first.repetition)
    assert key in done(results)
    assert CellKey(first.server, first.scenario, first.users, first.repetition, "wrk") not in done(results)


# --- native: Debian's wrk against real sockets -------------------------------------------------------------

TINY_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
body = sys.argv[1].encode()
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@contextmanager
def tiny_server(body: str) -> Iterator[str]:
    """A loopback server that answers every GET with ``body``."""
    process = subprocess.Popen([sys.executable, "-c", TINY_SERVER, body], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.kill()
        process.wait()


@pytest.mark.native
@needs_wrk
@pytest.mark.parametrize(("body", "wrong"), [("Hello, World!", False), ("Hello, World?", True)])
def test_a_wrong_body_is_a_failure_under_wrk(tmp_path: Path, body: str, wrong: bool) -> None:
    load = wrkrun.Load(SCENARIOS["hello"], 4, 0, 1, 1, defaults.IO_MS, defaults.CPU_MS)
    started = time.monotonic()
    with tiny_server(body) as url:
        m = wrkrun.measure(load, url, tmp_path / "cell")
    assert m.requests > 0 and time.monotonic() - started < 30
    assert m.failures == (m.requests if wrong else 0), (tmp_path / "cell_wrk.json").read_text()
    assert 0 < m.loadgen_cpu <= 1.05


def check_engines(folder: Path, engines: set[str], cells: int) -> Results:
    results = Results.from_json((folder / "results.json").read_text())
    assert len(results.cells) == cells and {c.engine for c in results.cells} == engines
    for measured in results.cells:
        assert measured.ok and measured.requests and measured.failures == 0, measured
        assert measured.server_cpu_s and measured.loadgen_cpu, measured
        assert (measured.crosscheck is not None) == (len(engines) == 2), measured
    markdown = (folder / "report.md").read_text()
    assert ("## Cross-check: Locust and wrk" in markdown) == (len(engines) == 2)
    return results


@pytest.mark.native
@needs_wrk
def test_engine_both_natively(tmp_path: Path) -> None:
    result = labbench(
        "run", "--native", "--engine", "both", "--servers", "gunicorn-sync", "--scenarios", "hello,json,io,cpu",
        "--users", "8", "--duration", "2", "--warmup", "1", "--repetitions", "1", "--seed", "3",
        "--output", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = check_engines(only_run(tmp_path), {"locust", "wrk"}, 8)
    orders = {(c.scenario, c.engine): c.order for c in results.cells}
    assert all(abs(orders[(s, "locust")] - orders[(s, "wrk")]) == 1 for s in ("hello", "json", "io", "cpu"))


@pytest.mark.native
@needs_wrk
def test_engine_wrk_natively(tmp_path: Path) -> None:
    # uwsgi-threads closes every connection after its answer: wrk's read errors, and no failure.
    result = labbench(
        "run", "--native", "--engine", "wrk", "--servers", "eventlet-wsgi,uwsgi-threads",
        "--scenarios", "json-dumps,async-io",
        "--users", "8", "--duration", "2", "--warmup", "1", "--repetitions", "1", "--output", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    check_engines(only_run(tmp_path), {"wrk"}, 4)


@pytest.mark.docker
def test_engine_both_through_compose(lab_stack: object, tmp_path: Path) -> None:
    compose("--profile", "bench", "build", "bench")
    volume = f"{tmp_path}:/lab/results"
    compose(
        "run", "--rm", "--volume", volume, "bench", "--engine", "both", "--servers", "gunicorn-gevent",
        "--scenarios", "hello,upstream", "--users", "8", "--duration", "2", "--warmup", "1", "--repetitions", "1",
        timeout=600,
    )  # fmt: skip
    results = check_engines(only_run(tmp_path), {"locust", "wrk"}, 4)
    assert results.run.mode == "docker" and results.run.wrk_command and results.run.wrk_command[0] == "wrk"


@pytest.mark.docker
def test_plain_wrk_runs_by_hand_on_the_lab_s_network(lab_stack: object) -> None:
    """docs/methodology.md's command for wrk by hand."""
    compose("--profile", "bench", "build", "bench")
    out = compose("run", "--rm", "--entrypoint", "wrk", "bench", "-t1", "-c4", "-d1s", "http://gunicorn-sync:8000/")
    assert "Requests/sec:" in out.stdout and "Non-2xx" not in out.stdout, out.stdout

"""labbench timeline on fixed inputs: the app's record, the assembly of a burst, the
most requests in service at once, the clock check, the words, the file and its doc,
the command line and the report (no server under load: see test_timeline_native.py).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from labbench import BenchError, cli, timeline
from labbench.report import render_timeline
from labbench.timelinedata import (
    Burst,
    Request,
    Served,
    TimelineRun,
    Timelines,
    TimelineServer,
    clock_check,
    findings,
    ideal_s,
    max_in_service,
    slots,
    summarize,
)
from labcore import protocol
from labcore.scenarios import SCENARIOS
from tests.support import ROOT, timeline_fixtures
from tests.support.inprocess import serve_app
from tests.support.mdtables import md_tables
from tests.test_bench_cli import help_text, option_lines

pytestmark = pytest.mark.unit


def burst(fixture: Timelines, server: str, scenario: str = "io") -> Burst:
    return next(b for b in fixture.bursts if b.server == server and b.scenario == scenario)


@pytest.fixture
def fixture() -> Timelines:
    return timeline_fixtures.typed()


# --- the app's record ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    # A real server thread rather than Flask's test client: the browser tests' Playwright
    # keeps an event loop running in this thread, where an async view cannot run its own.
    with serve_app() as url:
        yield url


def get(url: str, headers: dict[str, str]) -> tuple[int, str, Message]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as reply:
            return reply.status, reply.read().decode(), reply.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


@pytest.mark.parametrize("name", ["io", "upstream", "cpu", "async-io"])
def test_every_workload_endpoint_tells_where_and_when_it_ran_on_request(app_url: str, name: str) -> None:
    scenario = SCENARIOS[name]
    # /upstream is asked for an ms past the cap: a 400 before any call upstream, and still a record.
    path = scenario.request(io_ms=20, cpu_ms=5) if name != "upstream" else "/upstream?ms=5000000"
    status, body, headers = get(app_url + path, {protocol.TIMELINE_HEADER: "1"})
    plain_status, plain_body, plain_headers = get(app_url + path, {})
    assert protocol.TIMELINE_HEADER not in plain_headers, "off by default"
    assert status == plain_status
    # The same body, asked or not (/cpu's counts of its own work vary from one request to the next).
    assert json.loads(body).keys() == json.loads(plain_body).keys()
    assert name == "cpu" or body == plain_body
    if name != "upstream":
        assert scenario.verify(body, scenario.work_ms(20, 5)) is None
    record = Served.model_validate(json.loads(headers[protocol.TIMELINE_HEADER]))
    assert record.start <= record.end
    assert record.model == "threads" and record.in_flight >= 1 and record.pid == os.getpid()
    if name in ("io", "async-io"):
        assert record.end - record.start >= 0.02


def test_a_header_value_other_than_1_asks_for_nothing(app_url: str) -> None:
    _, _, headers = get(app_url + "/io?ms=0", {protocol.TIMELINE_HEADER: "yes"})
    assert protocol.TIMELINE_HEADER not in headers


def test_fire_records_every_request_on_one_clock() -> None:
    with serve_app() as url:
        requests = timeline.fire(url + "/io?ms=100", 4, 10, lambda body: SCENARIOS["io"].verify(body, 100))
    assert [request.index for request in requests] == [0, 1, 2, 3]
    assert all(request.ok for request in requests), requests
    assert max_in_service([(r.served.start, r.served.end) for r in requests if r.served]) == 4
    check = clock_check(Burst(server="s", scenario="io", path="/io", kind="io", work_ms=100, status="ok",
                              requests=requests))  # fmt: skip
    assert check is not None and check.violations == 0 and check.low <= 0 <= check.high


def test_fire_records_what_failed_without_raising() -> None:
    with serve_app() as url:
        (wrong,) = timeline.fire(url + "/io?ms=5", 1, 10, lambda body: "not what was asked")
        (missing,) = timeline.fire(url + "/nowhere", 1, 10)
    assert wrong.result == "200" and wrong.error == "not what was asked" and not wrong.ok
    assert missing.result == "404" and missing.served is not None, "errors carry their record too"
    (refused,) = timeline.fire("http://127.0.0.1:1/io", 1, 5)
    assert refused.result == "ConnectionRefusedError" and refused.served is None


# --- the assembly of a burst ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "most"),
    [
        ([], 0),
        ([(0, 1)], 1),
        ([(0, 1), (1, 2), (2, 3)], 1),  # back to back: one ends as the next starts
        ([(0, 1), (0.5, 1.5), (0.9, 2)], 3),
        ([(0, 10), (1, 2), (3, 4), (5, 6)], 2),
        ([(0, 1)] * 5, 5),
    ],
)
def test_max_in_service(intervals: list[tuple[float, float]], most: int) -> None:
    assert max_in_service(intervals) == most


def test_slots_are_processes_then_threads_in_order_of_first_start(fixture: Timelines) -> None:
    found, rows = slots(burst(fixture, "gunicorn-sync"))
    assert [slot.pid for slot in found] == [100, 101, 102, 103]
    assert [slot.label for slot in found] == [f"pid {pid} · thread 1" for pid in (100, 101, 102, 103)]
    assert rows == {i: i % 4 for i in range(8)}, "each worker's second request on its own row"
    found, rows = slots(burst(fixture, "gunicorn-gthread"))
    assert [(slot.pid, slot.label) for slot in found] == [(200, "pid 200 · thread 1"), (200, "pid 200 · thread 2")]
    assert {slot.process for slot in found} == {0}
    found, _ = slots(burst(fixture, "gevent-pywsgi"))
    assert len(found) == 8 and found[0].label == "pid 300 · greenlet 1", "a greenlet is a slot, not the thread"


def test_a_request_without_a_record_has_no_slot(fixture: Timelines) -> None:
    chosen = burst(fixture, "gunicorn-sync")
    chosen.requests[0] = Request(index=0, sent=1.0, received=2.0, result="timeout")
    found, rows = slots(chosen)
    assert 0 not in rows and len(found) == 4


def test_summary_of_each_fixed_burst(fixture: Timelines) -> None:
    s = summarize(burst(fixture, "gunicorn-sync"), fixture.servers["gunicorn-sync"])
    assert (s.requests, s.ok, s.most_at_once, s.pids, s.slots_seen, s.expected_at_once) == (8, 8, 4, 4, 4, 4)
    assert s.took_s == pytest.approx(2 * 0.5 + 2 * timeline_fixtures.LAG)
    assert s.ideal_s == pytest.approx(1.0)
    g = summarize(burst(fixture, "gunicorn-gthread"), fixture.servers["gunicorn-gthread"])
    assert (g.most_at_once, g.pids, g.slots_seen, g.expected_at_once) == (2, 1, 2, 8)
    assert g.ideal_s == pytest.approx(0.5)
    v = summarize(burst(fixture, "gevent-pywsgi"), fixture.servers["gevent-pywsgi"])
    assert (v.most_at_once, v.slots_seen) == (8, 8)
    c = summarize(burst(fixture, "gevent-pywsgi", "cpu"), fixture.servers["gevent-pywsgi"])
    assert c.most_at_once == 1
    assert c.ideal_s == pytest.approx(0.8), "CPU work waits for the one CPU, whatever the slots"


@pytest.mark.parametrize(
    ("kind", "slots_", "cpus", "expected"),
    [
        ("io", 4, None, 1.0),
        ("io", None, None, 0.5),
        ("io", 16, None, 0.5),
        ("cpu", 4, 1.0, 8 * 0.5),
        ("cpu", 4, 2.0, 2.0),
    ],
)
def test_ideal_finish(kind: str, slots_: int | None, cpus: float | None, expected: float) -> None:
    chosen = Burst(server="s", scenario=kind, path="/", kind=kind, work_ms=500, status="ok", cpus=cpus)  # type: ignore[arg-type]
    assert ideal_s(chosen, slots_, 8) == pytest.approx(expected)


def test_the_clock_check_bounds_the_offset_and_counts_violations(fixture: Timelines) -> None:
    chosen = burst(fixture, "gunicorn-sync")
    check = clock_check(chosen)
    assert check is not None and check.violations == 0 and check.worst_ms == 0
    lag = timeline_fixtures.LAG
    assert check.low == pytest.approx(-lag, abs=1e-6) and check.high == pytest.approx(lag, abs=1e-6)
    # A server clock 5 ms ahead: its ends come after the client's receives.
    for request in chosen.requests:
        assert request.served is not None
        request.served.start += 0.005
        request.served.end += 0.005
    shifted = clock_check(chosen)
    assert shifted is not None and shifted.violations == 8 and shifted.worst_ms == pytest.approx(4.0, abs=1e-3)
    assert shifted.low == pytest.approx(0.004, abs=1e-6) and shifted.high == pytest.approx(0.006, abs=1e-6)


# --- in words ---------------------------------------------------------------------------------


def test_the_words_say_where_a_label_is_contradicted(fixture: Timelines) -> None:
    said = findings(burst(fixture, "gunicorn-gthread"), fixture.servers["gunicorn-gthread"])
    assert said[0] == (
        "gunicorn-gthread ran at most 2 of 8 requests at once, though its label promises 8 slots (4 × 2): "
        "it never ran 8 together in the io burst."
    )
    assert "1 process served" in said[1] and "2 serving slots" in said[1]
    assert "4.0× the ideal 0.50 s" in said[2]
    assert said[3].startswith("Clock check: all 8 server records fall inside their client times")


def test_the_words_say_where_a_label_holds(fixture: Timelines) -> None:
    said = findings(burst(fixture, "gunicorn-sync"), fixture.servers["gunicorn-sync"])
    assert said[0] == "gunicorn-sync ran 4 of 8 requests at once, as its 4 slots allow."
    said = findings(burst(fixture, "gevent-pywsgi"), fixture.servers["gevent-pywsgi"])
    assert said[0] == "gevent-pywsgi ran 8 of 8 requests at once, as its 1000 slots allow."


def test_the_words_name_more_than_the_label_counts() -> None:
    server = TimelineServer(model="processes", slots=1, slot_factors=[1], description="")
    typed = timeline_fixtures.typed()
    assert "more than the 1 slot its label counts" in findings(burst(typed, "gunicorn-sync"), server)[0]


# --- the file and its doc ----------------------------------------------------------------------


def test_the_file_reads_back_as_it_was_written(fixture: Timelines) -> None:
    assert json.loads(fixture.to_json()) == timeline_fixtures.data()


def test_a_bad_file_names_the_field() -> None:
    document = timeline_fixtures.data()
    document["bursts"][1]["requests"][3]["served"]["pid"] = "100"
    with pytest.raises(BenchError, match=r"bursts\[1\]\.requests\[3\]\.served\.pid"):
        timeline_fixtures.typed(document)
    with pytest.raises(BenchError, match="schema_version 1"):
        Timelines.from_json(json.dumps({"schema_version": 2}))


SCHEMA = md_tables((ROOT / "docs" / "timeline-schema.md").read_text())
SECTIONS = {"Top level": Timelines, "`run`": TimelineRun, "`servers`": TimelineServer, "`bursts[]`": Burst,
            "`requests[]`": Request, "`served`": Served}  # fmt: skip


@pytest.mark.parametrize("heading", list(SECTIONS))
def test_timeline_schema_md_lists_exactly_each_models_fields(heading: str) -> None:
    documented = {key for row in SCHEMA[heading] for key in re.findall(r"`([a-z_][a-z0-9_]*)`", row["key"])}
    assert documented == set(SECTIONS[heading].model_fields), heading


def test_every_committed_timeline_reads_back_as_it_was() -> None:
    for path in sorted((ROOT / "docs" / "images").glob("*timeline*.json")):
        original = json.loads(path.read_text())
        assert json.loads(Timelines.from_json(path.read_text(), path.name).to_json()) == original, path.name


# --- the command line ----------------------------------------------------------------------------


def test_timeline_help_shows_every_flag_with_its_default() -> None:
    lines = option_lines(help_text("timeline"))
    assert set(lines) == set(TIMELINE_FLAGS)
    for flag, line in lines.items():
        assert re.search(r"\(default: [^)]+\)$", line), f"{flag} shows no default: {line}"
    assert lines["--requests"].endswith("(default: 16)") and lines["--io-ms"].endswith("(default: 500)")
    assert lines["--scenarios"].endswith("(default: io,cpu)")


TIMELINE_FLAGS = ["--servers", "--scenarios", "--requests", "--io-ms", "--cpu-ms", "--timeout", "--output", "--native"]


def test_benchmarks_md_lists_every_timeline_flag() -> None:
    rows = md_tables((ROOT / "docs" / "benchmarks.md").read_text())["`labbench timeline`'s options"]
    assert [re.match(r"`(--[a-z-]+)", row["flag"])[1] for row in rows] == TIMELINE_FLAGS


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--requests", "0"], "argument --requests: must be at least 1"),
        (["--requests", "1000"], "argument --requests: must be at most 256"),
        (["--scenarios", "hello"], "argument --scenarios: unknown hello"),
        (["--servers", "nginx"], "argument --servers: unknown nginx"),
    ],
)
def test_bad_timeline_flags_stop_before_anything_runs(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["timeline", *argv])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


# --- the report ----------------------------------------------------------------------------------


def test_the_report_draws_every_burst_and_writes_each_picture(tmp_path: Path) -> None:
    folder = timeline_fixtures.write_run(tmp_path / "run")
    written = render_timeline(folder)
    names = sorted(path.name for path in written)
    servers = list(timeline_fixtures.SERVERS)
    expected = ["report.html"] + [f"timeline-{s}.svg" for s in ("io", "cpu")]
    expected += [f"timeline-{s}-{server}.svg" for s in ("io", "cpu") for server in servers]
    assert names == sorted(expected)
    for path in written[1:]:
        assert path.read_text().startswith("<svg "), path.name
    html = (folder / "report.html").read_text()
    assert html.count('<figure class="chart">') == 2 * (1 + len(servers))
    assert "ran at most 2 of 8 requests at once, though its label promises 8 slots (4 × 2)" in html
    assert "gevent-pywsgi ran at most 1 of 8 requests at once" in html, "the cpu burst, one at a time"
    # The same data draws the same pictures.
    assert render_timeline(folder) and (folder / "report.html").read_text() == html


def test_labbench_report_renders_a_timeline_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = timeline_fixtures.write_run(tmp_path / "run")
    assert cli.main(["report", str(folder)]) == 0
    assert f"wrote {folder / 'report.html'}" in capsys.readouterr().out

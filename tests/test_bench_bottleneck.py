"""Bottlenecks in the report: a row whose number may not be the server's is marked everywhere and never wins.

Built on the synthetic run of bench_fixtures (its ok cells server-bound, but
for one load-generator-bound repetition), bent per test; and the committed
run of 2026-12-01, made before cells were classified.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from labbench.compare import compare
from labbench.report import render
from labbench.report.format import NSB_LABEL, UNCLASSIFIED_LABEL, flag
from labbench.results import Cell
from labbench.runner import classify_cell
from labbench.stats import can_win, no_winner, summarize, winners
from labcore import matrix
from tests.support import ROOT, bench_fixtures
from tests.support.mdtables import md_tables

pytestmark = pytest.mark.unit

OLD_RUN = ROOT / "docs" / "images" / "2026-12-01T102246Z-results.json"


def _with(bottleneck: str, server: str, scenario: str, users: int, repetitions: tuple[int, ...] = (1, 2, 3)) -> Any:
    data = bench_fixtures.results()
    for cell in data["cells"]:
        group = (cell["server"], cell["scenario"], cell["users"])
        if group == (server, scenario, users) and cell["repetition"] in repetitions and cell["status"] == "ok":
            cell["bottleneck"] = bottleneck
    return data


def _rows(data: dict[str, Any]) -> dict[tuple[str, str, int], Any]:
    return {row.key[:3]: row for row in summarize(bench_fixtures.typed(data))}  # every cell here is Locust's


def _md(folder: Path, data: dict[str, Any]) -> tuple[str, str]:
    html_path, md_path = render(bench_fixtures.write_run(folder, data))
    return html_path.read_text(), md_path.read_text()


def _winner_of(data: dict[str, Any], scenario: str, users: int) -> str | None:
    found = {(w.scenario, w.users): w.row.server for w in winners(summarize(bench_fixtures.typed(data)))}
    return found.get((scenario, users))


def test_the_fastest_row_loses_its_win_when_one_repetition_is_not_server_bound() -> None:
    assert _winner_of(bench_fixtures.results(), "io", 32) == "gunicorn-gevent"
    data = _with("unexplained", "gunicorn-gevent", "io", 32, repetitions=(2,))
    row = _rows(data)[("gunicorn-gevent", "io", 32)]
    assert row.bottlenecks == {"slots": 2, "unexplained": 1}
    assert not row.server_bound and not can_win(row)
    # Its ceiling is unknown and at least what it measured: no slower row is crowned.
    assert _winner_of(data, "io", 32) is None


@pytest.mark.parametrize("other", ["load-generator", "machine", "unexplained"])
def test_only_server_cpu_and_slots_rows_can_win(other: str) -> None:
    assert _winner_of(bench_fixtures.results(), "cpu", 8) == "gunicorn-sync"
    # The fastest row not server-bound: its ceiling is unknown, so nobody wins.
    data = _with(other, "gunicorn-sync", "cpu", 8)
    assert _winner_of(data, "cpu", 8) is None
    case = [row for row in summarize(bench_fixtures.typed(data)) if (row.scenario, row.users) == ("cpu", 8)]
    assert no_winner(case).startswith(f"the fastest row, gunicorn-sync, was not server-bound (its limit was {other}")
    # A slower row not server-bound cannot take the win from a faster one that was.
    assert _winner_of(_with(other, "gunicorn-gevent", "cpu", 8), "cpu", 8) == "gunicorn-sync"


def test_a_row_not_server_bound_is_marked_in_report_md_with_its_bottlenecks_and_a_legend(tmp_path: Path) -> None:
    data = _with("machine", "gunicorn-gevent", "io", 8, repetitions=(1,))
    html, md = _md(tmp_path, data)
    rows = {(row["Server"], int(row["Users"])): row for row in md_tables(md)["io"]}
    marked = rows[("gunicorn-gevent", 8)]
    assert NSB_LABEL in marked["Notes"] and "fastest" not in marked["Notes"]
    assert marked["Bottleneck"] == "slots ×2, machine ×1"
    assert rows[("gunicorn-sync", 8)]["Bottleneck"] == "slots"
    assert NSB_LABEL not in rows[("gunicorn-sync", 8)]["Notes"]
    io = md.split("\n## io\n")[1].split("\n## ")[0]
    assert f"- {NSB_LABEL}: in a repetition neither the server's CPU nor its slots were the limit" in io
    assert "gunicorn-gevent × io × 8 users: ⚠ not server-bound (slots ×2, machine ×1)" in md
    # report.html: the row's badge and class, and the legend under the table.
    assert f'<span class="badge nsb">{NSB_LABEL}</span>' in html
    assert '<tr class="nsb">' in html and '<ul class="legend">' in html


def test_a_case_without_a_server_bound_row_has_no_winner_and_says_why(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    for cell in data["cells"]:
        if (cell["scenario"], cell["users"]) == ("cpu", 8) and cell["status"] == "ok":
            cell["bottleneck"] = "unexplained"
    assert _winner_of(data, "cpu", 8) is None
    _, md = _md(tmp_path, data)
    headline = md.split("## Winners")[1].split("\n## ")[0]
    assert "  - 8 users: no winner, no row was server-bound (its limit was unexplained" in headline
    assert not any("fastest" in row["Notes"] for row in md_tables(md)["cpu"] if row["Users"] == "8")


def test_charts_mark_each_kind_of_row() -> None:
    rows = _rows(_with("unexplained", "gunicorn-gevent", "io", 8))
    assert flag(rows[("gunicorn-gevent", "io", 8)]) == NSB_LABEL
    assert flag(rows[("gunicorn-sync", "io", 8)]) is None
    assert flag(rows[bench_fixtures.LOADGEN_BOUND[:3]]) == "⚠ LG-bound"
    data = bench_fixtures.results()
    for cell in data["cells"]:
        cell.pop("bottleneck", None)
    assert flag(_rows(data)[("gunicorn-sync", "io", 8)]) == UNCLASSIFIED_LABEL


def test_an_old_run_renders_with_every_row_not_classified_and_no_winner(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copyfile(OLD_RUN, folder / "results.json")
    html_path, md_path = render(folder)
    md = md_path.read_text()
    for scenario, rows in md_tables(md).items():
        if scenario in ("hello", "io", "upstream", "cpu"):
            assert all(UNCLASSIFIED_LABEL in row["Notes"] and row["Bottleneck"] == "not classified" for row in rows)
            assert not any("fastest" in row["Notes"] for row in rows)
    assert "- **io**: No winner at io.\n  - 32 users: no winner, not classified by bottleneck" in md
    assert "52 measured groups not classified by bottleneck" in md  # 13 servers x 4 scenarios x 32 users
    assert UNCLASSIFIED_LABEL in html_path.read_text()


def test_compare_shows_a_change_of_bottleneck(tmp_path: Path) -> None:
    a = bench_fixtures.write_run(tmp_path / "a", bench_fixtures.results())
    b = bench_fixtures.write_run(tmp_path / "b", _with("unexplained", "gunicorn-sync", "io", 8))
    lines = [line for line in compare(a, b).splitlines() if line.startswith("| gunicorn-sync | io | 8 |")]
    assert lines and f"{NSB_LABEL} in B" in lines[0] and "bottleneck slots → unexplained" in lines[0]


def _cell(scenario: str, users: int, **measured: Any) -> Cell:
    latency = {"mean": measured.pop("mean_ms"), "p50": None, "p95": None, "p99": None, "max": None}
    head = {"server": "s", "scenario": scenario, "users": users, "repetition": 1, "order": 1, "started_at": "t"}
    return Cell(**head, status="ok", raw="raw/x", requests=1, failures=0, latency_ms=latency, **measured)


def test_the_runner_classifies_a_cell_from_what_it_recorded() -> None:
    sync, gevent = matrix.get("gunicorn-sync"), matrix.get("gunicorn-gevent")
    assert (sync.slots, gevent.slots) == (4, 4000)
    # cpu: 4.6 CPU-seconds in 5 s against a 1-CPU limit.
    busy = _cell("cpu", 32, duration_s=5.0, rps=90.0, mean_ms=350.0, server_cpu_s=4.6, loadgen_cpu=0.3)
    assert classify_cell(busy, sync, cpu_limit=1.0) == "server-cpu"
    assert classify_cell(busy, sync, cpu_limit=None) == "unexplained"
    # io: 38 req/s x 0.82 s = 31 in flight, against 4 slots.
    slots = _cell("io", 32, duration_s=5.0, rps=38.0, mean_ms=820.0, server_cpu_s=0.3, loadgen_cpu=0.1)
    assert classify_cell(slots, sync, cpu_limit=1.0) == "slots"
    # 4000 greenlets but 32 users: 300 req/s x 0.105 s = 31.5 in flight ≥ 0.9 x 32.
    full = _cell("io", 32, duration_s=5.0, rps=300.0, mean_ms=105.0, server_cpu_s=1.0, loadgen_cpu=0.5)
    assert classify_cell(full, gevent, cpu_limit=1.0) == "slots"
    half = _cell("io", 32, duration_s=5.0, rps=150.0, mean_ms=105.0, server_cpu_s=1.0, loadgen_cpu=0.5)
    assert classify_cell(half, gevent, cpu_limit=1.0) == "unexplained"
    hot = _cell("hello", 32, duration_s=5.0, rps=1500.0, mean_ms=20.0, server_cpu_s=2.5, loadgen_cpu=0.95)
    assert classify_cell(hot, sync, cpu_limit=1.0) == "load-generator"
    machine = _cell("hello", 32, duration_s=5.0, rps=1500.0, mean_ms=20.0, server_cpu_s=2.5, host_cpu_busy=0.97)
    assert classify_cell(machine, sync, cpu_limit=1.0) == "machine"
    assert classify_cell(machine.model_copy(update={"crosscheck": 0.5}), sync, cpu_limit=1.0) == "load-generator"
    # A crossover split that only waits: 4 sync workers full at 4 / 50 ms = 80 req/s are its slots' limit,
    # as at io; one whose CPU binds first (1 / 40 ms = 25 req/s) is not, however full its slots look.
    waits = _cell("mixed-io50-cpu0", 32, duration_s=5.0, rps=78.0, mean_ms=400.0, server_cpu_s=0.5, loadgen_cpu=0.2)
    assert classify_cell(waits, sync, cpu_limit=1.0) == "slots"
    computes = waits.model_copy(update={"scenario": "mixed-io10-cpu40", "rps": 20.0, "server_cpu_s": 4.0})
    assert classify_cell(computes, sync, cpu_limit=1.0) == "unexplained"
    # Plain /mixed carries the run's work: 100 ms I/O + 10 ms CPU lets 4 slots bind (36 req/s < 100),
    # --io-ms 20 --cpu-ms 40 does not (4 / 60 ms = 67 req/s > 1 / 40 ms = 25 req/s).
    mixed = _cell("mixed", 32, duration_s=5.0, rps=24.0, mean_ms=1200.0, server_cpu_s=4.0, loadgen_cpu=0.2)
    assert classify_cell(mixed, sync, cpu_limit=1.0) == "slots"
    assert classify_cell(mixed, sync, cpu_limit=1.0, io_ms=20, cpu_ms=40) == "unexplained"
    # A --target-url server has no model: the users' bound still says when it was full.
    assert classify_cell(full, None, cpu_limit=1.0) == "slots"
    assert classify_cell(half, None, cpu_limit=None) == "unexplained"

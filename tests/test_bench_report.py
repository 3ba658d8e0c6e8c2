"""labbench.report and labbench.compare on the synthetic run of bench_fixtures.

The report is read back the way a person or a tool would: report.md's tables
parsed cell by cell, report.html searched for anything that would need the
network and for one <svg> per chart.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from labbench import BenchError
from labbench.compare import compare
from labbench.report import DASH, render
from labbench.stats import TIMES
from tests.support import ROOT, bench_fixtures
from tests.support.mdtables import md_tables

pytestmark = pytest.mark.unit

GROUPS = [
    (server, scenario, users)
    for server in bench_fixtures.SERVERS
    for scenario in bench_fixtures.SCENARIOS
    for users in bench_fixtures.USERS
]
# Resources a browser would fetch by itself; a link a reader may click is fine.
FETCHED = re.compile(
    r"<(?:script|img|iframe|source|embed|video|audio)\b[^>]*\bsrc=|<link\b|@import|url\(\s*['\"]?https?:"
)


def rendered(folder: Path, data: dict[str, Any] | None = None) -> tuple[str, str]:
    """report.html and report.md of ``data`` (default: the synthetic run)."""
    html_path, md_path = render(bench_fixtures.write_run(folder, data))
    assert (html_path.name, md_path.name) == ("report.html", "report.md")
    return html_path.read_text(), md_path.read_text()


def md_rows(markdown: str) -> dict[tuple[str, str, int], dict[str, str]]:
    found: dict[tuple[str, str, int], dict[str, str]] = {}
    for scenario, rows in md_tables(markdown).items():
        for row in rows:
            key = (row["Server"], scenario, int(row["Users"]))
            assert key not in found, f"{key} appears twice in report.md"
            found[key] = row
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return rendered(tmp_path_factory.mktemp("run"))


# --- report.md -------------------------------------------------------------------------


def test_markdown_has_every_group_exactly_once(report: tuple[str, str]) -> None:
    assert sorted(md_rows(report[1])) == sorted(GROUPS)


def test_markdown_shows_the_numbers_of_a_group(report: tuple[str, str]) -> None:
    row = md_rows(report[1])[("gunicorn-sync", "io", 32)]
    assert row[f"req/s median [min{DASH}max]"] == f"38.0 [36.9{DASH}38.8]"
    assert row["Ideal req/s"] == "40.0"
    assert row["Efficiency"] == "95%"
    assert row["Eff. concurrency"] == "32.0"
    assert row["Failures"] == "0%"
    assert row["MiB"] == "105"


def test_markdown_flags_the_loadgen_bound_group_only(report: tuple[str, str]) -> None:
    flagged = [key for key, row in md_rows(report[1]).items() if "⚠ LG-bound" in row["Notes"]]
    assert flagged == [bench_fixtures.LOADGEN_BOUND[:3]]


def test_markdown_shows_the_dead_server_by_status(report: tuple[str, str]) -> None:
    row = md_rows(report[1])[bench_fixtures.DIED[:3]]
    assert f"server-died {TIMES}1" in row["Notes"]
    assert "2/3 reps" in row["Notes"]
    warnings = report[1].split("## Warnings")[1].split("\n## ")[0]
    assert f"- gunicorn-sync {TIMES} cpu {TIMES} 32 users: server-died in repetition 3: connection refused" in warnings


def test_markdown_warns_of_the_loadgen_bound_repetition_and_the_failures(report: tuple[str, str]) -> None:
    warnings = report[1].split("## Warnings")[1].split("\n## ")[0]
    assert (
        f"- flask-dev {TIMES} io {TIMES} 32 users: the load generator used up to 95% of its CPU in repetition 2"
        in warnings
    )
    assert f"- flask-dev {TIMES} cpu {TIMES} 32 users: 2.01% of requests failed." in warnings
    assert warnings.count("\n- ") == 3


def test_markdown_names_a_winner_per_scenario(report: tuple[str, str]) -> None:
    winners = report[1].split("## Winners")[1].split("\n## ")[0]
    assert "- **io**: gunicorn-gevent is the fastest at io at every user count." in winners
    assert "- **cpu**: gunicorn-sync is the fastest at cpu at every user count." in winners


def test_a_group_without_an_ok_cell_shows_its_status_not_zeros(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    for cell in data["cells"]:
        if (cell["server"], cell["scenario"], cell["users"]) == ("gunicorn-gevent", "cpu", 8):
            cell |= {"status": "locust-error", "error": "Locust exited 1", "rps": None, "latency_ms": None}
    html, markdown = rendered(tmp_path, data)
    row = md_rows(markdown)[("gunicorn-gevent", "cpu", 8)]
    assert row["Notes"].startswith(f"locust-error {TIMES}3")
    numbers = [value for column, value in row.items() if column not in ("Server", "Users", "Ideal req/s", "Notes")]
    assert set(numbers) == {"—"}
    assert f"locust-error {TIMES}3" in html


def test_a_baseline_scenario_and_a_window_without_requests(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    data["scenarios"]["hello"] = {"user_class": "Hello", "path": "/", "kind": "baseline", "work_ms": None}
    data["run"]["plan"]["scenarios"].append("hello")
    data["cells"] += [cell | {"scenario": "hello"} for cell in data["cells"] if cell["scenario"] == "io"]
    for cell in data["cells"]:
        if (cell["server"], cell["scenario"], cell["users"]) == ("flask-dev", "hello", 8):
            cell |= {"requests": 0, "failures": 0, "rps": 0.0, "latency_ms": dict.fromkeys(cell["latency_ms"])}
    html, markdown = rendered(tmp_path, data)
    hello = {key: row for key, row in md_rows(markdown).items() if key[1] == "hello"}
    assert len(hello) == len(bench_fixtures.SERVERS) * len(bench_fixtures.USERS)
    assert {(row["Ideal req/s"], row["Efficiency"]) for row in hello.values()} == {("—", "—")}
    empty = hello[("flask-dev", "hello", 8)]
    assert (empty[f"req/s median [min{DASH}max]"], empty["p95 ms"], empty["Failures"]) == (
        f"0.00 [0.00{DASH}0.00]",
        "—",
        "—",
    )
    assert "hello (baseline): no ideal" in markdown
    assert len(_charts(html)) == html.count("<svg") == 4 * 3
    assert "no requests" in html


def test_methodology_comes_from_the_run(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    data["run"]["plan"] |= {"seed": 987654, "warmup_s": 7.5, "duration_s": 45.0, "locust_processes": 1}
    data["run"]["limits"] = {"cpus": "1.5", "memory_bytes": 768 * 2**20, "note": "pinned by hand"}
    html, markdown = rendered(tmp_path, data)
    limits = "under limits that DIFFER (cpus 1.5, memory bytes 805306368, note pinned by hand)"
    for fragment in ("seed 987654", "7.5 s warm-up", "45 s measured", "1 Locust process;", limits):
        assert fragment in markdown
        assert fragment in html


def test_an_unfinished_quick_run_says_so(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    data["run"]["finished_at"] = None
    data["run"]["plan"]["quick"] = True
    data["cells"] = data["cells"][:10]
    html, markdown = rendered(tmp_path, data)
    warnings = markdown.split("## Warnings")[1]
    assert "10 of 36 planned cells are in" in warnings
    assert "A quick run" in warnings
    assert "not finished" in html


# --- report.html -----------------------------------------------------------------------


def _charts(html: str) -> list[str]:
    return re.findall(r'<figure class="chart">.*?</figure>', html, flags=re.S)


def test_html_needs_no_network(report: tuple[str, str]) -> None:
    html = report[0]
    assert FETCHED.search(html) is None
    assert "<script" not in html
    # Links in the text (the servers' docs) may point anywhere; so may the
    # SVGs' XML namespaces, which are names, never fetched. Nothing else may.
    for url in re.findall(r"https?://[^\s\"'<>)]+", re.sub(r'\sxmlns(?::\w+)?="[^"]*"', "", html)):
        assert re.search(rf'<a href="{re.escape(url)}">', html), f"{url} is not a plain link"


def test_html_has_one_svg_per_chart(report: tuple[str, str]) -> None:
    html = report[0]
    charts = _charts(html)
    # Per scenario: throughput, latency, throughput against users, concurrency.
    assert len(charts) == 4 * len(bench_fixtures.SCENARIOS)
    assert all(chart.count("<svg") == 1 for chart in charts)
    assert html.count("<svg") == len(charts)


def test_html_without_a_sweep_has_no_users_chart(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    data["run"]["plan"]["users"] = [8]
    data["cells"] = [cell for cell in data["cells"] if cell["users"] == 8]
    html, _markdown = rendered(tmp_path, data)
    assert len(_charts(html)) == html.count("<svg") == 3 * len(bench_fixtures.SCENARIOS)
    assert "Throughput against users" not in html


def test_svg_ids_are_unique_on_the_page(report: tuple[str, str]) -> None:
    ids = re.findall(r'\bid="([^"]+)"', report[0])
    duplicates = {name for name in ids if ids.count(name) > 1}
    assert not duplicates


def test_html_hatches_and_badges_the_loadgen_bound_group(report: tuple[str, str]) -> None:
    html = report[0]
    flagged_rows = re.findall(r'<tr class="[^"]*\blg\b[^"]*">(.*?)</tr>', html)
    assert len(flagged_rows) == 1
    assert "flask-dev" in flagged_rows[0]
    assert "⚠ LG-bound" in flagged_rows[0]
    io_charts, cpu_charts = _charts(html)[:4], _charts(html)[4:]
    # Hatching is an SVG <pattern>: in every io chart, in no cpu chart.
    assert all("<pattern" in chart for chart in io_charts)
    assert not any("<pattern" in chart for chart in cpu_charts)


def test_html_shows_a_headline_per_scenario(report: tuple[str, str]) -> None:
    cards = re.findall(r'<article class="card".*?</article>', report[0], flags=re.S)
    assert len(cards) == len(bench_fixtures.SCENARIOS)
    assert "gunicorn-gevent is the fastest at io at every user count." in cards[0]
    assert "gunicorn-sync is the fastest at cpu at every user count." in cards[1]


def test_html_keeps_each_server_in_one_colour(report: tuple[str, str]) -> None:
    html = report[0]
    for server in bench_fixtures.SERVERS:
        swatches = set(re.findall(rf'background:(#[0-9a-f]{{6}})"></span>{server}<', html))
        assert len(swatches) == 1, f"{server} has colours {swatches}"


def test_metadata_has_both_environments_versions(report: tuple[str, str]) -> None:
    details = report[0].split("<details>")[1].split("</details>")[0]
    assert "<td>locust</td><td>2.40.0</td><td>—</td>" in details
    assert "<td>gunicorn</td><td>—</td><td>23.0.0</td>" in details


# --- the templates ---------------------------------------------------------------------------

#: A server name that would run in a browser if the page did not escape it.
EVIL = "<script>alert('x')</script>"


def _renamed(data: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``data`` with server ``old`` called ``new`` everywhere results.json names it."""
    data["servers"] = {new if name == old else name: spec for name, spec in data["servers"].items()}
    data["run"]["plan"]["servers"] = [new if name == old else name for name in data["run"]["plan"]["servers"]]
    for cell in data["cells"]:
        if cell["server"] == old:
            cell["server"] = new
    return data


def test_html_escapes_every_name_from_results_json(tmp_path: Path) -> None:
    data = _renamed(bench_fixtures.results(), "flask-dev", EVIL)
    data["servers"][EVIL]["description"] = "threads & <b>bold</b> claims"
    data["servers"][EVIL]["docs"] = 'https://example.com/?a=1&b="2"'
    html, markdown = rendered(tmp_path, data)
    assert EVIL in markdown, "the name is in the data the page is rendered from"
    assert "<script" not in html
    assert "<b>bold" not in html
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    # Its rows in both scenario tables, the methodology's servers, the warnings.
    assert html.count(f"</span>{escaped}<") >= 2 * len(bench_fixtures.USERS) + 1
    assert "threads &amp; &lt;b&gt;bold&lt;/b&gt; claims" in html
    assert '<a href="https://example.com/?a=1&amp;b=&#34;2&#34;">docs</a>' in html


def test_html_inlines_its_stylesheet(report: tuple[str, str]) -> None:
    css = resources.files("labbench.report").joinpath("templates", "report.css").read_text()
    styles = re.findall(r"<style>(.*?)</style>", report[0], flags=re.S)
    assert len(styles) == 1
    assert styles[0].strip() == css.strip()
    assert ".badge.lg {" in styles[0], "the stylesheet is the report's"
    assert "<link" not in report[0]
    assert "<script" not in report[0]


def test_the_templates_ship_as_package_data() -> None:
    """Every file in labbench/report/templates matches the package-data patterns pyproject.toml declares."""
    pyproject = tomllib.loads((ROOT / "services" / "bench" / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["labbench.report"]
    templates = resources.files("labbench.report").joinpath("templates")
    names = sorted(entry.name for entry in templates.iterdir() if entry.is_file())
    assert {"report.html", "report.css"} <= set(names)
    for name in names:
        assert any(fnmatch.fnmatch(f"templates/{name}", pattern) for pattern in patterns), f"{name} is not shipped"


# --- writing ------------------------------------------------------------------------------


def test_render_writes_atomically_and_the_same_bytes_each_time(tmp_path: Path) -> None:
    folder = bench_fixtures.write_run(tmp_path / "run")
    first = [path.read_bytes() for path in render(folder)]
    second = [path.read_bytes() for path in render(folder)]
    assert first == second
    assert sorted(path.name for path in folder.iterdir()) == ["report.html", "report.md", "results.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "holds no results.json"),
        ("{", "not valid JSON"),
        (json.dumps({**bench_fixtures.results(), "schema_version": 2}), "has schema_version 2"),
        (json.dumps({"schema_version": 1}), r"results\.json: run: Field required"),
        (
            json.dumps({**bench_fixtures.results(), "cells": [{"server": "flask-dev"}]}),
            r"cells\[0\]\.scenario: Field required",
        ),
    ],
    ids=["no-results", "corrupt-json", "schema-2", "no-content", "bad-cell"],
)
def test_render_refuses_what_is_not_a_run(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    with pytest.raises(BenchError, match=message):
        render(tmp_path)
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(BenchError, match="no such directory"):
        render(tmp_path / "missing")


# --- compare ------------------------------------------------------------------------------


def _compare_rows(text: str) -> dict[tuple[str, str, int], dict[str, str]]:
    rows = md_tables("## compare\n" + text)["compare"]
    return {(row["Server"], row["Scenario"], int(row["Users"])): row for row in rows}


def _snapshot(*folders: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for folder in folders for path in sorted(folder.rglob("*"))}


def test_compare_a_run_with_itself_changes_nothing(tmp_path: Path) -> None:
    folder = bench_fixtures.write_run(tmp_path / "a")
    text = compare(folder, folder)
    rows = _compare_rows(text)
    assert sorted(rows) == sorted(GROUPS)
    assert {row["Δ req/s"] for row in rows.values()} == {"+0.0%"}
    assert {row["Δ p95"] for row in rows.values()} == {"+0.0%"}
    assert "not set up alike" not in text


def test_compare_shows_changes_and_flags(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    for cell in data["cells"]:
        if cell["server"] == "gunicorn-gevent" and cell["status"] == "ok":
            cell["rps"] *= 2
            cell["latency_ms"]["p95"] /= 2
    data["cells"] = [cell for cell in data["cells"] if cell["server"] != "flask-dev"]
    data["run"]["plan"]["servers"].remove("flask-dev")
    data["run"]["plan"]["duration_s"] = 60.0
    a, b = bench_fixtures.write_run(tmp_path / "a"), bench_fixtures.write_run(tmp_path / "b", data)
    before = _snapshot(a, b)
    text = compare(a, b)
    assert _snapshot(a, b) == before
    rows = _compare_rows(text)
    assert sorted(rows) == sorted(GROUPS)
    gevent = rows[("gunicorn-gevent", "io", 32)]
    assert (gevent["req/s A"], gevent["req/s B"], gevent["Δ req/s"], gevent["Δ p95"]) == (
        "288",
        "576",
        "+100.0%",
        "-50.0%",
    )
    assert rows[("flask-dev", "io", 8)]["Flags"] == "only in A"
    assert rows[("flask-dev", "io", 8)]["req/s B"] == "—"
    assert rows[bench_fixtures.LOADGEN_BOUND[:3]]["Flags"] == "only in A, ⚠ LG-bound in A"
    assert rows[bench_fixtures.DIED[:3]]["Flags"] == f"A: server-died {TIMES}1, B: server-died {TIMES}1"
    assert "- measured seconds: A 30.0, B 60.0" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "holds no results.json"),
        ("{not json", "not valid JSON"),
        (json.dumps({**bench_fixtures.results(), "schema_version": 2}), "has schema_version 2"),
        (json.dumps([1, 2]), "holds no results object"),
    ],
    ids=["no-results", "corrupt-json", "schema-2", "not-an-object"],
)
def test_compare_refuses_a_folder_that_is_not_a_run(tmp_path: Path, content: str | None, message: str) -> None:
    good = bench_fixtures.write_run(tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    if content is not None:
        (bad / "results.json").write_text(content)
    for a, b in ((good, bad), (bad, good)):
        with pytest.raises(BenchError, match=message) as caught:
            compare(a, b)
        assert str(bad) in str(caught.value)


def test_compare_refuses_a_missing_folder(tmp_path: Path) -> None:
    good = bench_fixtures.write_run(tmp_path / "good")
    with pytest.raises(BenchError, match=r"missing is not a run folder: no such directory"):
        compare(good, tmp_path / "missing")
    assert not (tmp_path / "missing").exists()

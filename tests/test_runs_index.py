"""results/index.html: every run listed, newest first, linked to its report and to
a comparison with the run before it; an unreadable run listed with its reason."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from labbench.report import render
from labbench.runsindex import render_index
from tests.support import bench_fixtures, timeline_fixtures
from tests.support.cli import labbench

pytestmark = pytest.mark.unit


class Links(HTMLParser):
    """Every href of a page, and its table rows as text."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.rows: list[str] = []
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]
        if tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.rows.append(" ".join("".join(self._row).split()))
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self._row.append(data)


def _run(output: Path, name: str, started: str, **changes: object) -> Path:
    data = copy.deepcopy(bench_fixtures.results())
    data["run"] |= {"id": name, "started_at": started, **changes}
    folder = bench_fixtures.write_run(output / name, data)
    render(folder)
    return folder


@pytest.fixture
def output(tmp_path: Path) -> Path:
    _run(tmp_path, "2026-11-30T100000Z", "2026-11-30T10:00:00+00:00")
    _run(tmp_path, "2026-11-30T120000Z", "2026-11-30T12:00:00+00:00", finished_at=None)
    _run(tmp_path, "2026-12-01T080000Z", "2026-12-01T08:00:00+00:00", mode="native")
    broken = tmp_path / "2026-12-01T090000Z"
    broken.mkdir()
    (broken / "results.json").write_text('{"schema_version": 1, "cells": [')
    (tmp_path / "not-a-run").mkdir()  # no results.json: not listed
    return tmp_path


def _parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text())
    return links


def test_every_run_is_listed_newest_first_with_its_outcome(output: Path) -> None:
    rows = _parse(render_index(output)).rows[1:]  # the header row first
    assert [row.split()[0] for row in rows] == [
        "2026-12-01T090000Z",  # unreadable: sorted by its name
        "2026-12-01T080000Z",
        "2026-11-30T120000Z",
        "2026-11-30T100000Z",
    ]
    assert "unreadable:" in rows[0] and "is not valid JSON" in rows[0]
    assert "native" in rows[1]
    assert "not finished" in rows[2] and "not finished" not in rows[3]
    assert not any("not-a-run" in row for row in rows)


def test_every_link_resolves_and_each_run_is_compared_with_the_one_before(output: Path) -> None:
    index = render_index(output)
    hrefs = _parse(index).hrefs
    assert all((output / href).is_file() for href in hrefs), hrefs
    assert "2026-12-01T080000Z/report.html" in hrefs
    comparisons = sorted(href for href in hrefs if href.startswith("compare/"))
    # Readable runs only, each with its predecessor: two pairs among three runs.
    assert comparisons == [
        "compare/2026-11-30T100000Z__2026-11-30T120000Z.html",
        "compare/2026-11-30T120000Z__2026-12-01T080000Z.html",
    ]
    page = (output / comparisons[1]).read_text()
    # compare's table as HTML, and its note on what differs between the runs.
    assert re.search(r"<table>.*<th>Server</th>", page, flags=re.S)
    assert "mode: A docker, B native" in page
    assert all((output / "compare" / href).resolve().is_file() for href in _parse(output / comparisons[1]).hrefs)


def test_names_from_results_are_escaped(tmp_path: Path) -> None:
    data = bench_fixtures.results()
    data["run"]["plan"]["faults"] = ["<script>x</script>"]
    bench_fixtures.write_run(tmp_path / "2026-12-01T000000Z", data)
    page = render_index(tmp_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_cli_writes_the_index_and_names_a_missing_folder(output: Path, tmp_path: Path) -> None:
    result = labbench("index", str(output), timeout=120)
    assert result.returncode == 0, result.stderr
    assert (output / "index.html").is_file()
    missing = labbench("index", str(tmp_path / "nowhere"), timeout=60)
    assert missing.returncode == 2
    assert "FOLDER:" in missing.stderr and "Traceback" not in missing.stderr


def test_timeline_runs_have_their_own_table_after_the_benchmark_runs(output: Path) -> None:
    timeline_fixtures.write_run(output / "2026-12-01T100000Z-timeline")
    broken = output / "2026-12-01T110000Z-timeline"
    broken.mkdir()
    (broken / "timeline.json").write_text("{")
    page = _parse(render_index(output))
    timelines = page.rows[page.rows.index("RunStartedWhat") + 1 :]
    assert [row.split()[0] for row in timelines] == ["2026-12-01T110000Z-timeline", "2026-12-01T100000Z-timeline"]
    assert "unreadable:" in timelines[0]
    assert "3 servers" in timelines[1] and "8 concurrent requests per burst" in timelines[1]
    # Not among the benchmark runs, and no comparison of a timeline with anything.
    assert not any("timeline" in href for href in page.hrefs if href.startswith("compare/"))

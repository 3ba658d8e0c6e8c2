"""report.html in a real browser: headless Chromium opens it from disk, offline.

Checks what only a browser can: every chart's SVG is laid out with a size,
the page asks for nothing over the network, and it looks right (the
screenshot lands in test-artifacts/report.png for a person to look at).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from labbench.report import render
from tests.support import ARTIFACTS, bench_fixtures, capacity_fixtures, crossover_fixtures

pytestmark = [pytest.mark.unit, pytest.mark.browser]

SCREENSHOT = ARTIFACTS / "report.png"


def test_report_renders_offline_with_every_chart(page: Page, tmp_path: Path) -> None:
    html_path, _ = render(bench_fixtures.write_run(tmp_path / "run"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(html_path.as_uri())

    assert requested == [html_path.as_uri()], "the page fetched more than itself"
    charts = page.locator("figure.chart svg")
    assert charts.count() == 4 * len(bench_fixtures.SCENARIOS)
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, f"chart {index} is laid out as {box}"
        # Drawn, not just sized: matplotlib's bars, lines and glyphs are paths.
        assert charts.nth(index).locator("path").count() > 20
    assert page.locator(".card").count() == len(bench_fixtures.SCENARIOS)
    assert page.locator("tr.lg .badge.lg").count() == 1
    # Wide tables scroll inside their frame instead of widening the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_capacity_report_draws_its_chart_and_table(page: Page, tmp_path: Path) -> None:
    html_path, _ = render(capacity_fixtures.write_run(tmp_path / "run"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(html_path.as_uri())

    assert requested == [html_path.as_uri()], "the page fetched more than itself"
    section = page.locator("section#capacity-io")
    chart = section.locator("figure.chart svg")
    assert chart.count() == 1
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 150, box
    # Two servers' p99 and p50 lines, their points, the SLO line and the knees: many paths.
    assert chart.locator("path").count() > 30
    rows = section.locator("tbody tr")
    assert rows.count() == 2 and rows.first.locator("td").first.inner_text().endswith("gunicorn-gevent")
    page.locator("nav a[href='#capacity-io']").click()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    section.screenshot(path=str(ARTIFACTS / "capacity-report.png"))


def test_a_crossover_run_s_report_shows_the_heatmap(page: Page, tmp_path: Path) -> None:
    html_path, _ = render(bench_fixtures.write_run(tmp_path / "run", crossover_fixtures.crossover_results()))
    page.goto(html_path.as_uri())
    heatmap = page.locator("#crossover-map figure.chart svg")
    assert heatmap.count() == 1
    box = heatmap.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100, f"the heatmap is laid out as {box}"
    # One rectangle per (split, users) cell, each drawn.
    assert heatmap.locator('[id^="crossover-map-map-cell-"]').count() == 3
    assert page.locator('nav a[href="#crossover-map"]').count() == 1

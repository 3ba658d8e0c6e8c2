"""A timeline run's report.html in a real browser: headless Chromium opens it from disk, offline.

Built from the fixed timeline of tests/support/timeline_fixtures.py (no
server, no Docker): every Gantt chart is laid out with a size and drawn,
the page asks for nothing over the network, and the label it contradicts is
named at the top. The screenshot lands in test-artifacts/timeline.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from labbench.report import render_timeline
from tests.support import ARTIFACTS, timeline_fixtures

pytestmark = [pytest.mark.unit, pytest.mark.browser]

SCREENSHOT = ARTIFACTS / "timeline.png"


def test_timeline_report_renders_offline_with_every_burst(page: Page, tmp_path: Path) -> None:
    html_path = render_timeline(timeline_fixtures.write_run(tmp_path / "run"))[0]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(html_path.as_uri())

    assert requested == [html_path.as_uri()], "the page fetched more than itself"
    scenarios, servers = ["io", "cpu"], list(timeline_fixtures.SERVERS)
    for scenario in scenarios:
        section = page.locator(f"section#timeline-{scenario}")
        charts = section.locator("figure.chart svg")
        assert charts.count() == 1 + len(servers), "the small multiples, then each server's own"
        for index in range(charts.count()):
            box = charts.nth(index).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100, f"{scenario} chart {index}: {box}"
            # Drawn, not just sized: the bars and glyphs are paths.
            assert charts.nth(index).locator("path").count() > 20
        assert section.locator("table tbody tr").count() == len(servers)
    contradictions = page.locator("section#labels .warnings li")
    assert contradictions.count() == 3, "gthread's two bursts and gevent's cpu"
    assert "gunicorn-gthread ran at most 2 of 8 requests at once" in contradictions.first.inner_text()
    assert page.locator("h3 .badge.bad").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

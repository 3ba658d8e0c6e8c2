"""A run's report: ``report.html`` (one self-contained page) and ``report.md``.

Both are rendered from ``results.json`` alone (docs/results-schema.md), so a
report can be rebuilt at any time, also for an interrupted run. Every sentence
that states a result or a setting is generated from the data.

The modules build on each other in one direction only:

* ``format``: how a number, a group and a server's colour are written;
* ``tables``: what the scenario and fault tables hold;
* ``findings``: warnings, headlines and the method, in words;
* ``charts`` and ``faultcharts``: the matplotlib figures, as inline SVG;
* ``timelinecharts`` and ``timelinepage``: a timeline run's Gantt charts and
  its own report.html (with every chart also as an SVG file);
* ``markdown`` and ``html``: the two documents (``html`` fills the Jinja2
  templates in ``templates/``, package data);
* this package: :func:`render`, which writes both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labbench.report.format import DASH
from labbench.report.html import render_html
from labbench.report.markdown import render_markdown
from labbench.report.timelinepage import render_timeline
from labbench.results import Results, load_results, write_atomically
from labbench.stats import Row, summarize

__all__ = ["DASH", "RENDERERS", "render", "render_html", "render_markdown", "render_timeline"]

RENDERERS: list[tuple[str, Callable[[Results, list[Row]], str]]] = [
    ("report.html", render_html),
    ("report.md", render_markdown),
]


def render(folder: Path) -> list[Path]:
    """Write ``report.html`` and ``report.md`` next to ``folder/results.json``; return their paths."""
    folder = Path(folder)
    results = load_results(folder)
    rows = summarize(results)
    written = []
    for name, renderer in RENDERERS:
        path = folder / name
        write_atomically(path, renderer(results, rows))
        written.append(path)
    return written

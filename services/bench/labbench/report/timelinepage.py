"""A timeline run's report: ``report.html``, and every picture as an SVG file beside it.

The page fills templates/timeline.html (in templates/page.html's shell, as
every labbench page): for each scenario, the small multiples of every
server's burst, a table of what each burst shows, and each server's own
Gantt chart with its findings in words. Where a burst contradicts its
server's label (fewer requests in service at once than its slots and the
burst allow), the page says so at the top.

The same charts go to ``timeline-<scenario>.svg`` and
``timeline-<scenario>-<server>.svg`` in the run's folder, for the docs to embed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from labbench.report.charts import Chart
from labbench.report.format import UNKNOWN, first_seen
from labbench.report.html import environment, stylesheet
from labbench.report.timelinecharts import burst_chart, small_multiples
from labbench.results import write_atomically
from labbench.timelinedata import Burst, Timelines, findings, load_timelines, slots_text, summarize


@dataclass(frozen=True)
class BurstView:
    """One server's burst of one scenario, as the page shows it."""

    server: str
    status: str
    values: list[str]
    findings: list[str]
    contradicts: bool
    chart: Chart | None


@dataclass(frozen=True)
class ScenarioView:
    name: str
    path: str
    overview: Chart
    bursts: list[BurstView]


HEADERS = ["Server", "Model", "Slots (label)", "Most at once", "Processes", "Slots seen", "Took s", "Ideal s", "Clock"]


def _seconds(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:.2f}"


def _burst(timelines: Timelines, burst: Burst, files: dict[str, str]) -> BurstView:
    server = timelines.servers.get(burst.server)
    said = findings(burst, server)
    if not burst.requests:
        return BurstView(burst.server, burst.status, [], said, False, None)
    s = summarize(burst, server)
    clock = UNKNOWN if s.clock is None else ("ok" if not s.clock.violations else f"{s.clock.violations} off")
    values = [
        server.model if server else UNKNOWN,
        slots_text(server),
        str(s.most_at_once),
        str(s.pids),
        str(s.slots_seen),
        _seconds(s.took_s),
        _seconds(s.ideal_s),
        clock,
    ]
    drawn = burst_chart(burst, server)
    files[f"timeline-{burst.scenario}-{burst.server}.svg"] = drawn
    chart = Chart(f"{burst.server}", " " + said[0], Markup(drawn))
    return BurstView(burst.server, burst.status, values, said, s.most_at_once < s.expected_at_once, chart)


def views(timelines: Timelines) -> tuple[list[ScenarioView], dict[str, str]]:
    """Every scenario's section of the page, and every SVG file by name."""
    files: dict[str, str] = {}
    sections = []
    for scenario in first_seen(burst.scenario for burst in timelines.bursts):
        mine = [burst for burst in timelines.bursts if burst.scenario == scenario]
        overview = small_multiples(mine, timelines.servers)
        files[f"timeline-{scenario}.svg"] = overview
        caption = (
            f" {len(mine)} servers, {timelines.run.requests} concurrent requests each, on one time axis. "
            "A row per serving slot (process, then thread or greenlet); grey: waiting before the server started "
            "the request; coloured by the serving process; dashed: the ideal finish for the label's slots."
        )
        sections.append(
            ScenarioView(
                scenario,
                next((burst.path for burst in mine), ""),
                Chart("Every server's burst", caption, Markup(overview)),
                [_burst(timelines, burst, files) for burst in mine],
            )
        )
    return sections, files


def render_timeline_html(timelines: Timelines, sections: list[ScenarioView]) -> str:
    run = timelines.run
    contradictions = [
        view.findings[0] for section in sections for view in section.bursts if view.contradicts
    ]  # fmt: skip
    return (
        environment()
        .get_template("timeline.html")
        .render(
            css=stylesheet(),
            run=run,
            sections=sections,
            headers=HEADERS,
            contradictions=contradictions,
            facts=[
                ("Run", run.id),
                ("Mode", run.mode),
                ("Started", run.started_at),
                ("Finished", run.finished_at or "— (not finished)"),
                ("Requests per burst", run.requests),
                ("Request timeout", f"{run.timeout_s:g} s"),
                *((f"Machine {key.replace('_', ' ')}", value) for key, value in dict(run.machine or {}).items()),
            ],
        )
    )


def render_timeline(folder: Path) -> list[Path]:
    """Write ``report.html`` and every chart's SVG file next to ``folder/timeline.json``; return their paths."""
    folder = Path(folder)
    timelines = load_timelines(folder)
    sections, files = views(timelines)
    written = []
    path = folder / "report.html"
    write_atomically(path, render_timeline_html(timelines, sections))
    written.append(path)
    for name, text in files.items():
        write_atomically(folder / name, text)
        written.append(folder / name)
    return written

"""report.html: one self-contained page, rendered with Jinja2 from templates/ (package data).

Like Locust's own report (locust/html.py), the page is a template filled from
the run's data: templates/report.html and its macros, with templates/report.css
inlined into a <style>, so the page needs no network and runs no JavaScript.
Autoescaping is on: every name and sentence from results.json is escaped by
Jinja2. Only two things go in as markup, deliberately: the CSS, our own file,
and the charts' SVG, which matplotlib drew (labbench.report.charts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import jinja2
from markupsafe import Markup

from labbench import faults
from labbench.crosschecks import crosschecks
from labbench.crossover import MapCell, crossover_map
from labbench.report import capacity, crossovermap
from labbench.report.charts import Chart, chart_data, charts
from labbench.report.faultcharts import fault_charts
from labbench.report.findings import Headline, headlines, methodology, notices
from labbench.report.format import LG_LABEL, MUTED, first_seen, fmt, fmt_setting, run_colours, server_label
from labbench.report.tables import (
    COLUMNS,
    CROSSCHECK_COLUMNS,
    CROSSCHECK_TEXT,
    fault_cells,
    fault_headers,
    fault_values,
    faults_present,
    legend,
    notes,
    table_order,
    values,
    won,
)
from labbench.results import Results, ScenarioInfo, ServerInfo
from labbench.stats import TIMES, Row, engines, median_rps, winners

#: The sign before each warning, by its kind.
ICONS = {"status": "✖", "loadgen": "⚠", "bottleneck": "⚠", "failures": "✖", "noise": "≈", "run": "⚠"}


@cache
def environment() -> jinja2.Environment:
    """The templates, read from the installed package; autoescaping on for every template."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("labbench.report"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def stylesheet() -> Markup:
    """templates/report.css, to inline: our own file, so trusted as it is."""
    env = environment()
    assert env.loader is not None
    source, _filename, _uptodate = env.loader.get_source(env, "report.css")
    return Markup(source)


def chart_view(chart: Chart) -> Chart:
    """A chart for the template: matplotlib's SVG marked safe, deliberately; its title and caption get escaped."""
    return Chart(chart.title, chart.caption, Markup(chart.svg))


# --- what each part of the page shows -----------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    """One group's line of a scenario table."""

    server: str
    colour: str
    classes: str
    badges: list[tuple[str, str]]
    values: list[str]


def _table(
    rows: Sequence[Row], winning: set[tuple[str, str, int, str]], colours: dict[str, str]
) -> list[list[TableRow]]:
    """A scenario's table as one body per user count, each row with its classes and badges."""
    bodies: dict[int, list[TableRow]] = {}
    for row in rows:
        marks = (("lg", row.loadgen_bound), ("nsb", row.measured and row.not_server_bound), ("none", not row.measured))
        classes = [name for name, on in marks if on]
        classes += ["win"] if row.key in winning else []
        bodies.setdefault(row.users, []).append(
            TableRow(
                server_label(row), colours[row.server], " ".join(classes), notes(row, row.key in winning), values(row)
            )
        )
    return list(bodies.values())


@dataclass(frozen=True)
class ScenarioSection:
    name: str
    spec: ScenarioInfo | None
    bodies: list[list[TableRow]]
    legend: list[str]
    charts: list[Chart]


def _scenario(results: Results, scenario: str, rows: list[Row], colours: dict[str, str]) -> ScenarioSection:
    spec = results.scenarios.get(scenario)
    mine = [row for row in rows if row.scenario == scenario]
    # The charts draw one engine's numbers (the first the plan names): two
    # engines' bars for one server would read as two servers.
    drawn_rows = [row for row in mine if row.engine == engines(results)[0]]
    drawn = charts(chart_data(scenario, drawn_rows, colours), spec.kind if spec else "baseline")
    return ScenarioSection(
        scenario,
        spec,
        _table(table_order(mine), won(mine), colours),
        legend(mine),
        [chart_view(chart) for chart in drawn],
    )


@dataclass(frozen=True)
class FaultRow:
    server: str
    colour: str
    ok: bool
    values: list[str]


@dataclass(frozen=True)
class FaultSection:
    name: str
    title: str
    question: str
    headers: list[str]
    rows: list[FaultRow]
    charts: list[Chart]


def _faults(results: Results, colours: dict[str, str]) -> list[FaultSection]:
    sections = []
    for fault in faults_present(results):
        spec, mine = faults.FAULTS[fault], fault_cells(results, fault)
        rows = [
            FaultRow(cell.server, colours.get(cell.server, MUTED), cell.ok, fault_values(fault, cell)) for cell in mine
        ]
        drawn = [chart_view(chart) for chart in fault_charts(fault, mine, colours)]
        sections.append(FaultSection(fault, spec.title, spec.question, fault_headers(fault), rows, drawn))
    return sections


@dataclass(frozen=True)
class CapacitySection:
    name: str
    headers: list[str]
    rows: list[tuple[str, str, list[str]]]  # server, colour, values
    chart: Chart
    reading: str


def _capacity(results: Results) -> list[CapacitySection]:
    colours = run_colours([], [entry.server for entry in results.capacity] + results.run.plan.servers)
    sections = []
    for scenario in capacity.scenarios(results):
        ranked = capacity.rows(results, scenario)
        sections.append(
            CapacitySection(
                scenario,
                capacity.HEADERS,
                [(row.server, colours.get(row.server, MUTED), row.values()) for row in ranked],
                chart_view(capacity.chart(results, scenario)),
                capacity.reading(ranked),
            )
        )
    return sections


@dataclass(frozen=True)
class Card:
    """A scenario's headline: who leads it, in the leader's colour, and each user count's winner."""

    headline: Headline
    spec: ScenarioInfo | None
    leader: str | None
    accent: str
    details: list[tuple[str, str]]  # (colour, winner_detail)


def _card(headline: Headline, results: Results, colours: dict[str, str]) -> Card:
    leader = headline.leader.row.server if headline.leader else None
    details = zip(headline.winners, headline.details, strict=True)
    return Card(
        headline,
        results.scenarios.get(headline.scenario),
        leader,
        colours.get(leader, MUTED) if leader else MUTED,
        [(colours.get(winner.row.server, MUTED), detail) for winner, detail in details]
        + [(MUTED, detail) for detail in headline.unwon_details],
    )


def _docs_link(server: ServerInfo) -> str | None:
    """A server's docs as a link, when they are a web address."""
    return server.docs if server.docs.startswith(("http://", "https://")) else None


def _facts(results: Results) -> list[tuple[str, object]]:
    run = results.run
    machine = dict(run.machine) if run.machine else {}
    return [
        ("Run", run.id),
        ("Mode", run.mode),
        ("Started", run.started_at),
        ("Finished", run.finished_at or "— (not finished)"),
        ("Cells", len(results.cells) + len(results.faults)),
        *((f"Machine {key.replace('_', ' ')}", value) for key, value in machine.items()),
        *(
            (f"Image digest, {name}", digest or "— (not run from the lab's image)")
            for name, digest in (run.images or {}).items()
        ),
    ]


def _versions(results: Results) -> list[tuple[str, str, str]]:
    versions = results.run.versions or {}
    bench, app = versions.get("bench") or {}, versions.get("app") or {}
    return [(name, bench.get(name, "—"), app.get(name, "—")) for name in sorted(set(bench) | set(app), key=str.lower)]


def _shape(results: Results) -> str:
    plan = results.run.plan
    shape = (
        f"{len(plan.measured)} servers {TIMES} {len(plan.scenarios)} scenarios {TIMES} "
        f"{len(plan.users)} user counts {TIMES} {plan.repetitions} repetitions"
    )
    if plan.faults:
        shape += f", {len(plan.faults)} fault experiments"
    return shape


@dataclass(frozen=True)
class MapSection:
    """The crossover map: its heatmap and one line per cell."""

    chart: Chart
    rows: list[tuple[str, int, str, str, str]]  # split, users, winner, its req/s, verdict


def _map(cells: list[MapCell], colours: dict[str, str]) -> MapSection | None:
    if not cells:
        return None
    rows = [
        (
            crossovermap.split_text(cell),
            cell.users,
            cell.winner.row.server if cell.winner else "—",
            fmt(median_rps(cell.winner.row)) if cell.winner else "—",
            crossovermap.verdict(cell),
        )
        for cell in cells
    ]
    return MapSection(chart_view(crossovermap.heatmap(cells, colours)), rows)


def render_html(results: Results, rows: list[Row]) -> str:
    scenarios = first_seen(row.scenario for row in rows)
    colours = run_colours(rows, results.run.plan.measured)
    fault_sections = _faults(results, colours)
    capacity_sections = _capacity(results)
    crossover = _map(crossover_map(results, rows), colours)
    nav = [("warnings", "Warnings"), *((("crossover-map", "Crossover map"),) if crossover else ())]
    nav += [(f"scenario-{name}", name) for name in scenarios]
    checks = [
        [
            check.server,
            check.scenario,
            str(check.users),
            fmt(check.locust_rps),
            fmt(check.wrk_rps),
            f"{check.ratio:.2f}",
        ]
        for check in crosschecks(results)
    ]
    nav += [("crosscheck", "cross-check")] if checks else []
    nav += [(f"fault-{section.name}", f"fault: {section.name}") for section in fault_sections]
    nav += [(f"capacity-{section.name}", f"capacity: {section.name}") for section in capacity_sections]
    nav += [("methodology", "Methodology"), ("metadata", "Metadata")]
    template = environment().get_template("report.html")
    return template.render(
        css=stylesheet(),
        run=results.run,
        shape=_shape(results),
        nav=nav,
        cards=[_card(headline, results, colours) for headline in headlines(scenarios, winners(rows), rows)],
        notices=notices(results, rows),
        crossover=crossover,
        icons=ICONS,
        lg_label=LG_LABEL,
        columns=COLUMNS,
        scenarios=[_scenario(results, scenario, rows, colours) for scenario in scenarios],
        faults=fault_sections,
        crosscheck=checks,
        crosscheck_columns=CROSSCHECK_COLUMNS,
        crosscheck_text=CROSSCHECK_TEXT,
        capacity=capacity_sections,
        method=methodology(results),
        servers=[
            (name, colours.get(name, MUTED), server, _docs_link(server)) for name, server in results.servers.items()
        ],
        scenario_specs=list(results.scenarios.items()),
        fmt_setting=fmt_setting,
        facts=_facts(results),
        command=" ".join(results.run.locust_command or []),
        versions=_versions(results),
    )

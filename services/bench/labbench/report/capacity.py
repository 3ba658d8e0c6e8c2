"""The capacity part of a report: per scenario, a ranked table and a latency-against-throughput chart.

A ``labbench capacity`` run fills ``results.capacity`` (one entry per server ×
scenario × repetition, each with its curve of steps); this module turns it
into what report.md and report.html show. The capacity of repeated runs is
their median, with the lowest and highest beside it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from labbench.capacitymodels import Capacity
from labbench.report.charts import CHART_STYLE, CHART_WIDTH, Chart, svg
from labbench.report.format import DASH, INK, MUTED, UNKNOWN, first_seen, fmt, server_colours
from labbench.results import Results

HEADERS = ["server", "req/s at SLO", "req per CPU-s", "peak MiB", "past the knee", "steps", "note"]


@dataclass(frozen=True)
class CapacityRow:
    """One server's line of a scenario's capacity table, over its repetitions."""

    server: str
    slo_p99_ms: float
    capacities: list[float]
    per_cpu: float | None
    peak_mib: float | None
    bottleneck: str | None
    steps: int
    note: str | None
    #: Whether every repetition's knee was the server's (Capacity.knee_is_the_servers).
    own: bool = False

    @property
    def median(self) -> float | None:
        return statistics.median(self.capacities) if self.capacities else None

    def values(self) -> list[str]:
        """The table's cells after the server's name."""
        capacity = fmt(self.median)
        if len(self.capacities) > 1:
            capacity += f" [{fmt(min(self.capacities))}{DASH}{fmt(max(self.capacities))}]"
        return [
            capacity,
            fmt(self.per_cpu),
            fmt(self.peak_mib),
            self.bottleneck or UNKNOWN,
            str(self.steps),
            self.note or "",
        ]


def scenarios(results: Results) -> list[str]:
    return first_seen(entry.scenario for entry in results.capacity)


def rows(results: Results, scenario: str) -> list[CapacityRow]:
    """The scenario's servers, ranked by median capacity (none found last, in the plan's order)."""
    mine = [entry for entry in results.capacity if entry.scenario == scenario]
    found = []
    for server in first_seen(entry.server for entry in mine):
        entries = [entry for entry in mine if entry.server == server]
        per_cpu = [entry.capacity_per_cpu for entry in entries if entry.capacity_per_cpu is not None]
        peaks = [entry.memory_peak_bytes for entry in entries if entry.memory_peak_bytes is not None]
        classes = Counter(entry.bottleneck for entry in entries if entry.bottleneck)
        found.append(
            CapacityRow(
                server=server,
                slo_p99_ms=entries[0].slo_p99_ms,
                capacities=[entry.capacity_rps for entry in entries if entry.capacity_rps is not None],
                per_cpu=statistics.median(per_cpu) if per_cpu else None,
                peak_mib=max(peaks) / 2**20 if peaks else None,
                bottleneck=classes.most_common(1)[0][0] if classes else None,
                steps=sum(len(entry.curve) for entry in entries),
                note=next((entry.reason for entry in entries if entry.reason), None),
                own=all(entry.knee_is_the_servers for entry in entries),
            )
        )
    return sorted(found, key=lambda row: -(row.median or -1))


def reading(ranked: list[CapacityRow]) -> str:
    """How far the table's order is a ranking: only knees the server set, in every repetition, measure it."""
    # A row without a capacity (the SLO broke at its lowest step) has no knee to rank.
    knees = [row for row in ranked if row.capacities]
    own = [row.server for row in knees if row.own]
    why = "(its CPU or its slots full past it, in every repetition)"
    if not knees:
        return "No server held the SLO at any step: there is no knee to rank."
    if len(own) == len(knees):
        return f"Every knee here was the server's {why}."
    if not own:
        return (
            f"None of the {len(knees)} knees was the server's {why}: every capacity here is a lower bound"
            " on this machine, and their order ranks nothing."
        )
    verb = "was" if len(own) == 1 else "were"
    return (
        f"Only {len(own)} of {len(knees)} knees {verb} the server's {why}: {', '.join(own)}."
        " The other capacities are lower bounds on this machine: their order ranks nothing."
    )


def markdown(results: Results) -> list[str]:
    """The capacity sections of report.md."""
    lines: list[str] = []
    for scenario in scenarios(results):
        ranked = rows(results, scenario)
        slo = ranked[0].slo_p99_ms
        lines += ["", f"## Capacity: {scenario}", ""]
        lines += [
            f"The highest offered rate at which p99 ≤ {slo:g} ms, failures ≤ 0.1 % and ≥ 95 % of it achieved.",
            reading(ranked),
            "",
        ]
        lines += ["| " + " | ".join(HEADERS) + " |", "|---|--:|--:|--:|---|--:|---|"]
        lines += ["| " + " | ".join([row.server, *row.values()]).replace("\n", " ") + " |" for row in ranked]
    return lines


# --- the chart -------------------------------------------------------------------------------


def _number(value: float, _position: int) -> str:
    return f"{value:g}"


def _draw(ax: Axes, entry: Capacity, colour: str) -> None:
    points = sorted(
        (step for step in entry.curve if step.achieved_rps and step.p99_ms is not None and step.p50_ms is not None),
        key=lambda step: step.offered_rps,
    )
    if not points:
        return
    x = [step.achieved_rps for step in points]
    ax.plot(x, [step.p99_ms for step in points], color=colour, linewidth=1.6, zorder=3)
    ax.plot(x, [step.p50_ms for step in points], color=colour, linewidth=1, linestyle="--", zorder=2)
    for step in points:
        # A step that held is filled; one that broke the SLO is hollow.
        face = colour if step.holds else "white"
        ax.plot(step.achieved_rps, step.p99_ms, marker="o", markersize=5, color=colour, markerfacecolor=face, zorder=4)
    knee = next((step for step in points if step.offered_rps == entry.capacity_rps and step.holds), None)
    if knee is not None:
        ax.plot(knee.achieved_rps, knee.p99_ms, marker="*", markersize=16, color=colour, markeredgecolor=INK, zorder=5)


def chart(results: Results, scenario: str) -> Chart:
    """Every server's p50 and p99 against the achieved rate, the SLO as a line, each knee a star."""
    mine = [entry for entry in results.capacity if entry.scenario == scenario]
    colours = server_colours(first_seen([*(entry.server for entry in mine), *results.run.plan.servers]))
    slo = mine[0].slo_p99_ms
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 4.6), layout="constrained")
        ax = figure.add_subplot()
        for entry in mine:
            _draw(ax, entry, colours[entry.server])
        ax.axhline(slo, color=MUTED, linestyle=":", linewidth=1.4, zorder=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(_number))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("achieved req/s (log)")
        ax.set_ylabel("latency, ms (log)")
        ax.grid(True, which="major")
        handles = [Line2D([], [], color=colours[server], linewidth=2, label=server) for server in first_seen(
            entry.server for entry in mine
        )]  # fmt: skip
        handles += [
            Line2D([], [], color=INK, linewidth=1.6, label="p99"),
            Line2D([], [], color=INK, linewidth=1, linestyle="--", label="p50"),
            Line2D([], [], color=MUTED, linestyle=":", label=f"SLO p99 {slo:g} ms"),
            Line2D([], [], color=INK, marker="*", markersize=12, linestyle="", label="knee (capacity)"),
            Line2D([], [], color=INK, marker="o", markerfacecolor="white", linestyle="", label="broke the SLO"),
        ]
        figure.legend(handles=handles, loc="outside right upper", fontsize=8)
        drawn = svg(figure, f"capacity-{scenario}")
    caption = (
        f" Each server's p99 (solid) and p50 (dashed) at each offered rate, against what it achieved; "
        f"the dotted line is the SLO's p99 budget ({slo:g} ms), the star the capacity, a hollow point a step "
        "that broke the SLO."
    )
    return Chart(f"Latency against throughput: {scenario}", caption, drawn)

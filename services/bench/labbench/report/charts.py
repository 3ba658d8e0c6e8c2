"""The charts of a scenario: matplotlib figures, each inlined into report.html as an SVG.

Each server keeps one colour in every chart; a group whose number may not be
the server's (load-generator bound, not server-bound, or not classified by
bottleneck) is hatched and badged, and a group without a measurement shows its status
where its mark would be. The same data gives byte-identical SVG.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from labbench.report.format import (
    ALERT,
    DASH,
    INK,
    LG_LABEL,
    MUTED,
    NSB_LABEL,
    UNCLASSIFIED_LABEL,
    first_seen,
    flag,
    fmt,
    fmt_pct,
    users_text,
)
from labbench.stats import TIMES, Row

LG_HATCH = "////"
AMBER = "#b45309"
#: Per mark (format.flag): its hatch, its colour and what the legend says it means.
MARKS = {
    LG_LABEL: (LG_HATCH, ALERT, "the load generator may be the limit"),
    NSB_LABEL: ("\\\\", AMBER, "not the server's CPU or slots: cannot win"),
    UNCLASSIFIED_LABEL: ("..", AMBER, "bottleneck not measured: cannot win"),
}

# Inches: about the page's content width, so charts show near the size they were drawn at.
CHART_WIDTH = 11.5
CHART_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "xtick.color": MUTED,
    "ytick.color": INK,
    "grid.color": "#e5e7eb",
    "hatch.linewidth": 1.2,
    "legend.frameon": False,
    # The same data gives byte-identical SVG, so re-rendering a report changes nothing.
    "svg.hashsalt": "labbench",
    "svg.fonttype": "path",
}


@dataclass(frozen=True)
class Chart:
    """One figure of the report: its title and caption, and the figure as inline SVG markup."""

    title: str
    caption: str
    svg: str


def svg(figure: Figure, prefix: str) -> str:
    """The figure as an inline <svg>, its ids prefixed so several can share a page."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # RDF metadata (creator, format) means nothing inline and only names URLs.
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = text.replace("url(#", f"url(#{prefix}-").replace('href="#', f'href="#{prefix}-')
    return text


@dataclass(frozen=True)
class ChartData:
    """What every chart of one scenario needs."""

    scenario: str
    servers: list[str]  # top to bottom
    users: list[int]
    rows: dict[tuple[str, int], Row]  # (server, users) → row
    colours: dict[str, str]


def chart_data(scenario: str, rows: Iterable[Row], colours: dict[str, str]) -> ChartData:
    """The data of one scenario's charts, from a run's rows (those of other scenarios are left out)."""
    mine = [row for row in rows if row.scenario == scenario]
    return ChartData(
        scenario,
        first_seen(row.server for row in mine),
        sorted({row.users for row in mine}),
        {(row.server, row.users): row for row in mine},
        colours,
    )


def _facets(data: ChartData) -> tuple[Figure, list[Axes]]:
    """One panel per user count, servers down the side, shared between panels."""
    figure = Figure(figsize=(CHART_WIDTH, 1.1 + 0.36 * len(data.servers)), layout="constrained")
    axes = list(figure.subplots(1, len(data.users), sharey=True, squeeze=False)[0])
    for ax, users in zip(axes, data.users, strict=True):
        ax.set_title(users_text(users), loc="left")
        ax.set_yticks(range(len(data.servers)), data.servers)
        ax.set_ylim(len(data.servers) - 0.5, -0.5)
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
    return figure, axes


def _status_text(ax: Axes, y: float, row: Row) -> None:
    """Why a group has no mark, where its mark would be (x in axes units: log axes have no 0)."""
    # A measured group lacks a value only when its window held no request (Locust's "N/A").
    text = "no requests" if row.measured else row.status
    ax.text(0.01, y, text, transform=ax.get_yaxis_transform(), va="center", color=ALERT, style="italic", fontsize=8.5)


def _bar(ax: Axes, y: float, value: float, colour: str, mark: str | None) -> None:
    """A server's bar; hatched and outlined in the mark's colour when its number may not be the server's."""
    hatch, edge, _ = MARKS[mark] if mark else (None, colour, "")
    ax.barh(y, value, height=0.7, color=colour, edgecolor=edge, hatch=hatch, linewidth=1.4 if mark else 0)


def _flag_row(ax: Axes, y: float, mark: str) -> None:
    """A hatched band and a badge across one server's row of a panel."""
    hatch, colour, _ = MARKS[mark]
    ax.axhspan(y - 0.45, y + 0.45, facecolor="none", edgecolor=colour, hatch=hatch, alpha=0.35, linewidth=0)
    ax.text(1, y, mark + " ", transform=ax.get_yaxis_transform(), va="center", ha="right", color=colour, fontsize=8)


def _legend(figure: Figure, handles: list[Any]) -> None:
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8.5)


def _mark_handles(data: ChartData) -> list[Any]:
    """A legend entry for each mark the chart shows."""
    shown = {flag(row) for row in data.rows.values()}
    return [
        Patch(facecolor="white", edgecolor=colour, hatch=hatch, label=f"{mark}: {meaning}")
        for mark, (hatch, colour, meaning) in MARKS.items()
        if mark in shown
    ]


def _panel_marked(data: ChartData, users: int) -> bool:
    return any(flag(row) for (_, u), row in data.rows.items() if u == users)


def chart_rps(data: ChartData) -> str:
    """Median req/s per server, min-to-max whiskers, one panel per user count."""
    figure, axes = _facets(data)
    for ax, users in zip(axes, data.users, strict=True):
        top = max((row.rps.high for (_, u), row in data.rows.items() if u == users and row.rps), default=1.0)
        # Room right of the longest bar for its label, and for a badge when there is one.
        ax.set_xlim(0, top * (1.8 if _panel_marked(data, users) else 1.3))
        for y, server in enumerate(data.servers):
            row = data.rows.get((server, users))
            if row is None:
                continue
            if row.rps is None:
                _status_text(ax, y, row)
                continue
            mark = flag(row)
            _bar(ax, y, row.rps.median, data.colours[server], mark)
            error = [[row.rps.median - row.rps.low], [row.rps.high - row.rps.median]]
            ax.errorbar(row.rps.median, y, xerr=error, fmt="none", ecolor=INK, capsize=3, linewidth=1)
            label = f" {fmt(row.rps.median)}" + (f"  {mark}" if mark else "")
            ax.text(row.rps.high, y, label, va="center", fontsize=8.5, color=MARKS[mark][1] if mark else INK)
        ax.set_xlabel(f"req/s (median, whiskers min{DASH}max)")
    _legend(figure, _mark_handles(data))
    return svg(figure, f"rps-{data.scenario}")


PERCENTILES = [("p50", "o"), ("p95", "s"), ("p99", "^"), ("max_ms", "x")]


def _plain_number(value: float, _position: int) -> str:
    return f"{value:g}"


def chart_latency(data: ChartData) -> str:
    """p50, p95, p99 and max per server on a log scale, one panel per user count."""
    figure, axes = _facets(data)
    for ax, users in zip(axes, data.users, strict=True):
        ax.set_xscale("log")
        for y, server in enumerate(data.servers):
            row = data.rows.get((server, users))
            if row is None:
                continue
            if row.p50 is None:
                _status_text(ax, y, row)
                continue
            values = [getattr(row, name) for name, _ in PERCENTILES]
            colour = data.colours[server]
            ax.plot([min(values), max(values)], [y, y], color=colour, linewidth=2, alpha=0.45, solid_capstyle="round")
            for (_name, marker), value in zip(PERCENTILES, values, strict=True):
                ax.scatter(value, y, marker=marker, s=34, color=colour, zorder=3, linewidths=1.5)
            if mark := flag(row):
                _flag_row(ax, y, mark)
        if _panel_marked(data, users):
            left, right = ax.get_xlim()
            ax.set_xlim(left, right * 3)  # room for the badges at the panel's right edge
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(_plain_number))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency, ms (log scale; medians over repetitions)")
    handles: list[Any] = [
        Line2D([], [], linestyle="none", marker=marker, color=MUTED, label=name.removesuffix("_ms"))
        for name, marker in PERCENTILES
    ]
    _legend(figure, handles + _mark_handles(data))
    return svg(figure, f"latency-{data.scenario}")


def chart_rps_vs_users(data: ChartData) -> str:
    """One line per server: how its req/s scales with the user count."""
    figure = Figure(figsize=(CHART_WIDTH, 3.6), layout="constrained")
    ax = figure.subplots()
    failed_any = False
    for server in data.servers:
        rows = [data.rows[(server, users)] for users in data.users if (server, users) in data.rows]
        measured = [(row, row.rps) for row in rows if row.rps is not None]
        colour = data.colours[server]
        ax.errorbar(
            [row.users for row, _ in measured],
            [rps.median for _, rps in measured],
            yerr=[[rps.median - rps.low for _, rps in measured], [rps.high - rps.median for _, rps in measured]],
            color=colour,
            marker="o",
            markersize=5,
            capsize=3,
            linewidth=2,
            label=server,
        )
        for row, rps in measured:
            if mark := flag(row):
                hatch, edge, _ = MARKS[mark]
                ax.scatter(row.users, rps.median, s=260, facecolor="none", edgecolor=edge, hatch=hatch, zorder=4)
        for row in rows:
            if row.rps is None:
                failed_any = True
                ax.scatter(row.users, 0, marker="X", s=70, color=colour, edgecolor=ALERT, zorder=4, clip_on=False)
    ax.set_xscale("log", base=2)
    ax.set_xticks(data.users, [str(users) for users in data.users])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(bottom=0)
    ax.set_xlabel("users (log scale)")
    ax.set_ylabel(f"req/s (median, whiskers min{DASH}max)")
    ax.grid(axis="y")
    ax.set_axisbelow(True)
    extra: list[Any] = _mark_handles(data)
    if failed_any:
        extra.append(
            Line2D([], [], linestyle="none", marker="X", color=MUTED, markeredgecolor=ALERT, label="no ok repetition")
        )
    handles, _labels = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8.5)
    return svg(figure, f"users-{data.scenario}")


def chart_concurrency(data: ChartData) -> str:
    """Little's law concurrency per server against what the ideal server keeps in service."""
    figure, axes = _facets(data)
    with_ideal = False
    for ax, users in zip(axes, data.users, strict=True):
        ax.axvline(users, color=MUTED, linestyle="--", linewidth=1)
        for y, server in enumerate(data.servers):
            row = data.rows.get((server, users))
            if row is None:
                continue
            if row.effective_concurrency is None:
                _status_text(ax, y, row)
                continue
            mark = flag(row)
            _bar(ax, y, row.effective_concurrency, data.colours[server], mark)
            label = f" {fmt(row.effective_concurrency)}"
            if row.ideal_concurrency is not None:
                with_ideal = True
                ax.plot([row.ideal_concurrency] * 2, [y - 0.42, y + 0.42], color=INK, linewidth=2.5)
                label += f" · {fmt_pct(row.efficiency)} of ideal"
            if mark:
                label += f"  {mark}"
            colour = MARKS[mark][1] if mark else INK
            ax.text(row.effective_concurrency, y, label, va="center", fontsize=8.5, color=colour)
        panel = [row for (_, u), row in data.rows.items() if u == users]
        marks = [users] + [
            value for row in panel for value in (row.effective_concurrency, row.ideal_concurrency) if value
        ]
        ax.set_xlim(0, max(marks) * 1.6)
        ax.set_xlabel(f"requests in flight (req/s {TIMES} mean latency)")
    handles: list[Any] = [Line2D([], [], color=MUTED, linestyle="--", label="users (offered concurrency)")]
    if with_ideal:
        handles.append(Line2D([], [], color=INK, linewidth=2.5, label=f"ideal: ideal req/s {TIMES} work per request"))
    _legend(figure, handles + _mark_handles(data))
    return svg(figure, f"concurrency-{data.scenario}")


def charts(data: ChartData, kind: str) -> list[Chart]:
    """Every chart of one scenario, each an inline SVG."""
    with mpl.rc_context(CHART_STYLE):
        result = [
            Chart(
                "Throughput",
                "Median req/s over repetitions; the whiskers span the slowest and fastest repetition.",
                chart_rps(data),
            ),
            Chart(
                "Latency percentiles",
                "Medians over repetitions of each percentile, log scale: ● p50, ■ p95, ▲ p99, ✕ max.",
                chart_latency(data),
            ),
        ]
        if len(data.users) > 1:
            result.append(
                Chart(
                    "Throughput against users",
                    "How each server's req/s changes as more users keep a request in flight.",
                    chart_rps_vs_users(data),
                )
            )
        ideal_note = (
            "The black tick is what an ideal server keeps in service at once (ideal req/s times work per request); "
            "bars past the tick are requests waiting in a queue."
            if kind in ("io", "cpu", "mixed")
            else "This scenario has no ideal bound."
        )
        result.append(
            Chart(
                "Effective concurrency against the ideal",
                "Requests in flight on average (Little's law); the dashed line is the user count. " + ideal_note,
                chart_concurrency(data),
            )
        )
    return result

"""A run's report: ``report.html`` (one self-contained page) and ``report.md``.

Both are rendered from ``results.json`` alone (docs/results-schema.md), so a
report can be rebuilt at any time, also for an interrupted run. Every sentence
that states a result or a setting is generated from the data.

The HTML page needs no network to be read: CSS is inline, and the charts are
matplotlib SVGs inlined into the page (no JavaScript at all). Each server keeps
one colour in every chart and table; a load-generator-bound group is hatched
and badged wherever it appears, and a group without a measurement shows its
status instead of a number.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from labbench.results import load_results, write_atomically
from labbench.stats import (
    MAX_WINNER_FAILURE_PCT,
    NOISY_CV,
    TIMES,
    Row,
    Winner,
    median_rps,
    summarize,
    winners,
)
from labcore.defaults import LOADGEN_HOT as LOADGEN_BOUND_AT

DASH = "\N{EN DASH}"

# Tableau 10: distinct, colour-blind-aware, one per server of the matrix.
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
ALERT = "#b91c1c"
INK = "#1f2937"
MUTED = "#6b7280"
LG_HATCH = "////"
LG_LABEL = "⚠ LG-bound"

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


# ---------------------------------------------------------------------------
# Formatting


def fmt(value: float | None) -> str:
    """Three significant figures or whole numbers, with thousands separators; a dash for unknown."""
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_setting(value: float | None) -> str:
    """A configured number as given: 10, 7.5, 0.25."""
    return "—" if value is None else f"{value:g}"


def fmt_rps(row: Row) -> str:
    if row.rps is None:
        return "—"
    return f"{fmt(row.rps.median)} [{fmt(row.rps.low)}{DASH}{fmt(row.rps.high)}]"


def fmt_pct(fraction: float | None) -> str:
    return "—" if fraction is None else f"{100 * fraction:.0f}%"


def fmt_failures(row: Row) -> str:
    if row.failure_pct is None:
        return "—"
    return "0%" if row.failure_pct == 0 else f"{row.failure_pct:.2f}%"


def users_text(users: int) -> str:
    return f"{users} user{'' if users == 1 else 's'}"


def group_name(row: Row) -> str:
    return f"{row.server} {TIMES} {row.scenario} {TIMES} {users_text(row.users)}"


def first_seen(names: Iterable[str]) -> list[str]:
    """Each name once, in order of appearance: rows come in the plan's order, so this is the plan's."""
    return list(dict.fromkeys(names))


def server_colours(servers: Sequence[str]) -> dict[str, str]:
    return {server: PALETTE[index % len(PALETTE)] for index, server in enumerate(servers)}


# ---------------------------------------------------------------------------
# What a reader must not miss


@dataclass(frozen=True)
class Notice:
    """One warning: ``kind`` is status, loadgen, failures, noise or run."""

    kind: str
    text: str


def _repetitions(cells: Sequence[dict[str, Any]]) -> str:
    numbers = sorted(cell["repetition"] for cell in cells)
    return f"repetition{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}"


def _cell_notices(row: Row, cells: Sequence[dict[str, Any]]) -> list[Notice]:
    """A group's failed cells, one notice per status and error, and its load-generator-bound ones."""
    found = []
    failed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in cells:
        if cell["status"] != "ok":
            failed.setdefault((cell["status"], cell.get("error") or "no detail recorded"), []).append(cell)
    for (status, error), same in failed.items():
        found.append(Notice("status", f"{group_name(row)}: {status} in {_repetitions(same)}: {error}"))
    hot = [cell for cell in cells if cell["status"] == "ok" and cell.get("loadgen_bound")]
    if hot:
        cpu = [cell["loadgen_cpu"] for cell in hot if cell.get("loadgen_cpu") is not None]
        used = f"used up to {fmt_pct(max(cpu))} of its CPU" if cpu else "was flagged as busy"
        found.append(
            Notice(
                "loadgen",
                f"{group_name(row)}: the load generator {used} in {_repetitions(hot)}; "
                "the server may be faster than measured.",
            )
        )
    return found


def notices(results: dict[str, Any], rows: Sequence[Row]) -> list[Notice]:
    """Everything that limits what the numbers mean, most serious first."""
    run, plan = results["run"], results["run"]["plan"]
    found: list[Notice] = []
    if not run.get("finished_at"):
        planned = len(rows) * plan["repetitions"]
        found.append(
            Notice(
                "run",
                f"The run has not finished (no finished_at): it is still going or was interrupted; "
                f"{len(results['cells'])} of {planned} planned cells are in.",
            )
        )
    if plan.get("quick"):
        found.append(Notice("run", "A quick run: short cells, meant as a smoke test, not for conclusions."))
    by_group: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for cell in results["cells"]:
        by_group.setdefault((cell["server"], cell["scenario"], cell["users"]), []).append(cell)
    per_row = [_cell_notices(row, by_group.get(row.key, [])) for row in rows]
    found += [Notice("status", f"{group_name(row)}: not run.") for row in rows if row.status == "not run"]
    found += [notice for notes in per_row for notice in notes if notice.kind == "status"]
    found += [notice for notes in per_row for notice in notes if notice.kind == "loadgen"]
    found += [
        Notice("failures", f"{group_name(row)}: {fmt_failures(row)} of requests failed.")
        for row in rows
        if row.failure_pct
    ]
    found += [
        Notice("noise", f"{group_name(row)}: req/s varies by {fmt_pct(row.rps_cv)} (CV) across repetitions.")
        for row in rows
        if row.rps_cv is not None and row.rps_cv > NOISY_CV
    ]
    return found


# ---------------------------------------------------------------------------
# Headlines


def winner_detail(winner: Winner) -> str:
    """The user count, the winner and its req/s, by how much it won, and anything that qualifies it."""
    row = winner.row
    parts = [f"{users_text(winner.users)}: {row.server}, {fmt(median_rps(row))} req/s"]
    if winner.runner_up is not None:
        margin = winner.margin
        versus = f"{margin:.2f}{TIMES} {winner.runner_up.server}" if margin else f"ahead of {winner.runner_up.server}"
        parts.append(versus if winner.clear else f"{versus}, within the spread of repetitions")
    if row.statuses:
        parts.append(f"though {row.status} among its repetitions")
    if row.loadgen_bound:
        parts.append(f"{LG_LABEL}: may be faster")
    return ", ".join(parts)


@dataclass(frozen=True)
class Headline:
    """What a reader should take from one scenario, before any number."""

    scenario: str
    winners: list[Winner]  # one per user count that has one, fewest users first

    @property
    def leader(self) -> Winner | None:
        """The winner under the heaviest load: the one a headline names."""
        return self.winners[-1] if self.winners else None

    @property
    def sentence(self) -> str:
        if self.leader is None:
            return f"No server completed {self.scenario} with at most {MAX_WINNER_FAILURE_PCT:g}% failures."
        name = self.leader.row.server
        if len({winner.row.server for winner in self.winners}) > 1:
            return (
                f"{name} is the fastest at {self.scenario} with {users_text(self.leader.users)}; "
                "with fewer users another server leads."
            )
        where = "at every user count" if len(self.winners) > 1 else f"with {users_text(self.leader.users)}"
        return f"{name} is the fastest at {self.scenario} {where}."

    @property
    def loadgen_bound(self) -> bool:
        return any(winner.row.loadgen_bound for winner in self.winners)


def headlines(scenarios: Sequence[str], found: Sequence[Winner]) -> list[Headline]:
    return [
        Headline(scenario, sorted((w for w in found if w.scenario == scenario), key=lambda winner: winner.users))
        for scenario in scenarios
    ]


# ---------------------------------------------------------------------------
# Methodology, from run.plan, run.limits, servers and scenarios


def _limits_text(run: dict[str, Any]) -> str:
    """The limits' plain values (cpus, memory, any note); anything nested stays in results.json."""
    limits = run.get("limits") or {}
    parts = [
        f"{key.replace('_', ' ')} {value}"
        for key, value in limits.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    ]
    return ", ".join(parts) or "none recorded"


def _ideal_text(name: str, spec: dict[str, Any], cpus: str | None) -> str:
    work_ms = spec.get("work_ms")
    kind = spec.get("kind")
    if kind == "io" and work_ms:
        return f"{name} (io, {work_ms:g} ms asleep per request): min(slots, users) ÷ {work_ms / 1000:g} s"
    if kind == "cpu" and work_ms:
        bound = f"{cpus} CPU ÷ {work_ms / 1000:g} s" if cpus else "no ideal, as the run recorded no CPU limit"
        return f"{name} (cpu, {work_ms:g} ms of CPU per request): {bound}"
    if kind == "baseline":
        return f"{name} (baseline): no ideal; it measures the server's own overhead"
    return f"{name} ({kind}): no ideal"


def methodology(results: dict[str, Any]) -> list[str]:
    """The method, one sentence per point, as this run's data records it."""
    run, plan = results["run"], results["run"]["plan"]
    servers, scenarios, users = plan["servers"], plan["scenarios"], plan["users"]
    where = "its own Compose container" if run.get("mode") == "docker" else "native processes on loopback"
    processes = plan["locust_processes"]
    cpus = (run.get("limits") or {}).get("cpus")
    from labbench import faultreport  # see render_html

    first = [
        f"One server at a time, in {where}: {len(servers)} servers, "
        + ("each under identical limits" if (run.get("limits") or {}).get("identical") else "under limits that DIFFER")
        + f" ({_limits_text(run)}).",
    ]
    cells = [
        f"Each cell is one server, scenario and user count: a {plan['warmup_s']:g} s warm-up that is not "
        f"counted, then a fixed {plan['duration_s']:g} s measured window.",
        f"Users never wait between requests (a closed loop), so the user count is the offered concurrency: "
        f"{', '.join(map(str, users))} users.",
        f"{plan['repetitions']} repetitions of each of the {len(servers) * len(scenarios) * len(users)} combinations, "
        f"in rounds of one repetition each, every round in its own shuffled order (seed {plan['seed']}), so drift "
        "over time spreads over every server; "
        "tables show the median with the lowest and highest repetition.",
        "Every response is verified: a wrong body or status counts as a failure, and a server that answers wrongly "
        "cannot win.",
        f"The load generator ran {processes} Locust process{'es' if processes != 1 else ''}; a cell is flagged "
        f"{LG_LABEL} when they used ≥ {run.get('loadgen_bound_at', LOADGEN_BOUND_AT):.0%} of their CPU, "
        "since the limit may then be Locust's, not the server's.",
        "Server CPU seconds and memory come from the app's own /usage endpoint (its cgroup, or its process group "
        "natively), read at both ends of each measured window; memory is the largest peak, which counts from "
        "the server's start and so can include earlier cells of the same server.",
        "Effective concurrency is Little's law, req/s times mean latency: the requests in flight on average.",
        "Ideal req/s, and efficiency = req/s ÷ ideal: "
        + "; ".join(_ideal_text(name, results["scenarios"].get(name, {}), cpus) for name in scenarios)
        + ".",
    ]
    return first + (cells if scenarios else []) + faultreport.methodology(results)


# ---------------------------------------------------------------------------
# Charts


def _svg(figure: Figure, prefix: str) -> str:
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


def _bar(ax: Axes, y: float, value: float, colour: str, loadgen_bound: bool) -> None:
    """A server's bar; hatched and outlined in red when the load generator may have been the limit."""
    ax.barh(
        y,
        value,
        height=0.7,
        color=colour,
        edgecolor=ALERT if loadgen_bound else colour,
        hatch=LG_HATCH if loadgen_bound else None,
        linewidth=1.4 if loadgen_bound else 0,
    )


def _flag_row(ax: Axes, y: float) -> None:
    """A hatched band and a badge across one server's row of a panel."""
    ax.axhspan(y - 0.45, y + 0.45, facecolor="none", edgecolor=ALERT, hatch=LG_HATCH, alpha=0.35, linewidth=0)
    ax.text(1, y, LG_LABEL + " ", transform=ax.get_yaxis_transform(), va="center", ha="right", color=ALERT, fontsize=8)


def _legend(figure: Figure, handles: list[Any]) -> None:
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8.5)


def _lg_handle() -> Patch:
    return Patch(
        facecolor="white", edgecolor=ALERT, hatch=LG_HATCH, label=f"{LG_LABEL}: the load generator may be the limit"
    )


def _panel_lg(data: ChartData, users: int) -> bool:
    return any(row.loadgen_bound for (_, u), row in data.rows.items() if u == users)


def _any_lg(data: ChartData) -> bool:
    return any(row.loadgen_bound for row in data.rows.values())


def chart_rps(data: ChartData) -> str:
    """Median req/s per server, min-to-max whiskers, one panel per user count."""
    figure, axes = _facets(data)
    for ax, users in zip(axes, data.users, strict=True):
        top = max((row.rps.high for (_, u), row in data.rows.items() if u == users and row.rps), default=1.0)
        # Room right of the longest bar for its label, and for a badge when there is one.
        ax.set_xlim(0, top * (1.8 if _panel_lg(data, users) else 1.3))
        for y, server in enumerate(data.servers):
            row = data.rows.get((server, users))
            if row is None:
                continue
            if row.rps is None:
                _status_text(ax, y, row)
                continue
            lg = row.loadgen_bound
            _bar(ax, y, row.rps.median, data.colours[server], lg)
            error = [[row.rps.median - row.rps.low], [row.rps.high - row.rps.median]]
            ax.errorbar(row.rps.median, y, xerr=error, fmt="none", ecolor=INK, capsize=3, linewidth=1)
            label = f" {fmt(row.rps.median)}" + (f"  {LG_LABEL}" if lg else "")
            ax.text(row.rps.high, y, label, va="center", fontsize=8.5, color=ALERT if lg else INK)
        ax.set_xlabel(f"req/s (median, whiskers min{DASH}max)")
    _legend(figure, [_lg_handle()] if _any_lg(data) else [])
    return _svg(figure, f"rps-{data.scenario}")


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
            if row.loadgen_bound:
                _flag_row(ax, y)
        if _panel_lg(data, users):
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
    _legend(figure, handles + ([_lg_handle()] if _any_lg(data) else []))
    return _svg(figure, f"latency-{data.scenario}")


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
            if row.loadgen_bound:
                ax.scatter(row.users, rps.median, s=260, facecolor="none", edgecolor=ALERT, hatch=LG_HATCH, zorder=4)
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
    extra: list[Any] = []
    if _any_lg(data):
        extra.append(_lg_handle())
    if failed_any:
        extra.append(
            Line2D([], [], linestyle="none", marker="X", color=MUTED, markeredgecolor=ALERT, label="no ok repetition")
        )
    handles, _labels = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8.5)
    return _svg(figure, f"users-{data.scenario}")


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
            lg = row.loadgen_bound
            _bar(ax, y, row.effective_concurrency, data.colours[server], lg)
            label = f" {fmt(row.effective_concurrency)}"
            if row.ideal_concurrency is not None:
                with_ideal = True
                ax.plot([row.ideal_concurrency] * 2, [y - 0.42, y + 0.42], color=INK, linewidth=2.5)
                label += f" · {fmt_pct(row.efficiency)} of ideal"
            if lg:
                label += f"  {LG_LABEL}"
            ax.text(row.effective_concurrency, y, label, va="center", fontsize=8.5, color=ALERT if lg else INK)
        panel = [row for (_, u), row in data.rows.items() if u == users]
        marks = [users] + [
            value for row in panel for value in (row.effective_concurrency, row.ideal_concurrency) if value
        ]
        ax.set_xlim(0, max(marks) * 1.6)
        ax.set_xlabel(f"requests in flight (req/s {TIMES} mean latency)")
    handles: list[Any] = [Line2D([], [], color=MUTED, linestyle="--", label="users (offered concurrency)")]
    if with_ideal:
        handles.append(Line2D([], [], color=INK, linewidth=2.5, label=f"ideal: ideal req/s {TIMES} work per request"))
    _legend(figure, handles + ([_lg_handle()] if _any_lg(data) else []))
    return _svg(figure, f"concurrency-{data.scenario}")


@dataclass(frozen=True)
class Chart:
    title: str
    caption: str
    svg: str


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
            if kind in ("io", "cpu")
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


# ---------------------------------------------------------------------------
# Tables


COLUMNS = [
    "Server",
    "Users",
    f"req/s median [min{DASH}max]",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "Failures",
    "req per CPU-s",
    "MiB",
    "Eff. concurrency",
    "Ideal req/s",
    "Efficiency",
]
# Markdown has no room under a name, so its notes come right after the group's name.
MD_COLUMNS = [*COLUMNS[:2], "Notes", *COLUMNS[2:]]


def _notes(row: Row, winner: bool) -> list[tuple[str, str]]:
    """(css class, text) badges for a row, in order of importance."""
    notes = []
    if row.statuses or not row.repetitions:
        notes.append(("bad", row.status))
    if row.loadgen_bound:
        notes.append(("lg", LG_LABEL))
    if winner:
        notes.append(("win", "fastest"))
    if row.failure_pct:
        notes.append(("bad", "failures"))
    if row.planned and row.repetitions and row.repetitions < row.planned:
        notes.append(("info", f"{row.repetitions}/{row.planned} reps"))
    if row.rps_cv is not None and row.rps_cv > NOISY_CV:
        notes.append(("info", f"noisy: CV {fmt_pct(row.rps_cv)}"))
    return notes


def _values(row: Row) -> list[str]:
    """Every numeric column of a row, formatted."""
    return [
        str(row.users),
        fmt_rps(row),
        fmt(row.p50),
        fmt(row.p95),
        fmt(row.p99),
        fmt(row.max_ms),
        fmt_failures(row),
        fmt(row.req_per_cpu_s),
        fmt(row.memory_mib),
        fmt(row.effective_concurrency),
        fmt(row.ideal),
        fmt_pct(row.efficiency),
    ]


def table_order(rows: Iterable[Row]) -> list[Row]:
    """By user count, then fastest first; groups without a measurement last."""
    return sorted(rows, key=lambda row: (row.users, row.rps is None, -(row.rps.median if row.rps else 0)))


# ---------------------------------------------------------------------------
# Markdown


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(results: dict[str, Any], rows: list[Row]) -> str:
    from labbench import faultreport  # see render_html

    run = results["run"]
    found = winners(rows)
    won = {winner.row.key for winner in found}
    finished = run.get("finished_at") or "— (not finished)"
    lines = [f"# Benchmark run {run.get('id')}", ""]
    lines += [
        f"{run.get('mode')} mode, started {run.get('started_at')}, finished {finished}.",
    ]
    scenarios = first_seen(row.scenario for row in rows)
    if scenarios:
        lines += ["", "## Winners", ""]
    for headline in headlines(scenarios, found):
        lines.append(f"- **{headline.scenario}**: {headline.sentence}")
        lines += [f"  - {winner_detail(winner)}" for winner in headline.winners]
    for scenario in scenarios:
        spec = results["scenarios"].get(scenario, {})
        lines += ["", f"## {scenario}", "", f"`GET {spec.get('path', '?')}`, kind {spec.get('kind', '?')}.", ""]
        lines.append("| " + " | ".join(MD_COLUMNS) + " |")
        lines.append("|---|--:|---|" + "--:|" * (len(MD_COLUMNS) - 3))
        for row in table_order(row for row in rows if row.scenario == scenario):
            users, *numbers = _values(row)
            notes = ", ".join(text for _, text in _notes(row, row.key in won))
            lines.append("| " + " | ".join(_md_cell(cell) for cell in [row.server, users, notes, *numbers]) + " |")
    lines += faultreport.markdown(results)
    lines += ["", "## Warnings", ""]
    lines += [f"- {notice.text}" for notice in notices(results, rows)] or ["None."]
    lines += ["", "## Methodology", ""]
    lines += [f"- {sentence}" for sentence in methodology(results)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# HTML

CSS = """
:root { --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --alert: #b91c1c; --bg: #f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 32px 28px 64px; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 44px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
.sub { color: var(--muted); margin: 0; }
code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #eef2f7; padding: 1px 5px;
  border-radius: 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 16px; margin-top: 20px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
  border-top: 5px solid var(--accent, var(--muted)); }
.card .what { color: var(--muted); font-size: 13px; }
.card .what b { color: var(--ink); font-size: 15px; }
.card .who { font-size: 22px; font-weight: 700; margin: 2px 0 6px; }
.card ul { margin: 8px 0 0; padding-left: 0; list-style: none; color: #374151; font-size: 14px; }
.card li { margin: 3px 0; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 7px;
  vertical-align: baseline; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; line-height: 1.5; padding: 0 7px;
  border-radius: 999px; margin: 1px 3px 1px 0; white-space: nowrap; }
.badge.lg { background: repeating-linear-gradient(135deg, #fee2e2 0 5px, #fecaca 5px 10px); color: var(--alert);
  border: 1px solid var(--alert); }
.badge.bad { background: #fee2e2; color: var(--alert); }
.badge.win { background: #dcfce7; color: #166534; }
.badge.info { background: #e0e7ff; color: #3730a3; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 9px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap;
  vertical-align: top; }
th { background: #f1f5f9; font-weight: 600; color: #374151; white-space: normal; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
table.text th, table.text td { text-align: left; white-space: normal; }
tbody + tbody tr:first-child td { border-top: 2px solid #cbd5e1; }
tr.lg td { background: repeating-linear-gradient(135deg, #fff 0 8px, #fef2f2 8px 16px); }
tr.none td { color: var(--muted); }
tr.win td:first-child { font-weight: 700; }
figure.chart { background: #fff; border: 1px solid var(--line); border-radius: 10px; margin: 16px 0;
  padding: 14px 16px 10px; }
figure.chart svg { display: block; width: 100%; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13.5px; margin-bottom: 8px; }
figcaption strong { color: var(--ink); font-size: 15px; display: block; }
.warnings { background: #fff; border: 1px solid #fecaca; border-left: 5px solid var(--alert); border-radius: 10px;
  padding: 10px 18px; }
.warnings.clean { border-color: #bbf7d0; border-left-color: #16a34a; }
.warnings ul { list-style: none; padding-left: 0; }
.warnings li { margin: 4px 0; padding-left: 1.5em; text-indent: -1.5em; }
.method li { margin: 6px 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
details { margin-top: 14px; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 10px 16px; }
summary { cursor: pointer; font-weight: 600; }
details table { margin-top: 10px; }
a { color: #2563eb; }
nav { display: flex; flex-wrap: wrap; gap: 6px; margin: 14px 0 0; }
nav a { font-size: 13px; text-decoration: none; padding: 2px 10px; border: 1px solid var(--line); border-radius: 999px;
  background: #fff; color: #374151; }
nav a:hover { border-color: #94a3b8; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _swatch(colour: str) -> str:
    return f'<span class="swatch" style="background:{colour}"></span>'


def _badges(notes: Iterable[tuple[str, str]]) -> str:
    return "".join(f'<span class="badge {kind}">{_e(text)}</span>' for kind, text in notes)


def _html_headlines(found: list[Headline], colours: dict[str, str], results: dict[str, Any]) -> str:
    cards = []
    for headline in found:
        spec = results["scenarios"].get(headline.scenario, {})
        leader = headline.leader.row.server if headline.leader else None
        accent = colours.get(leader, MUTED) if leader else MUTED
        who = f"{_swatch(accent)}{_e(leader)}" if leader else "no winner"
        details = "".join(
            f"<li>{_swatch(colours.get(winner.row.server, MUTED))}{_e(winner_detail(winner))}</li>"
            for winner in headline.winners
        )
        badge = _badges([("lg", LG_LABEL)]) if headline.loadgen_bound else ""
        cards.append(
            f'<article class="card" style="--accent:{accent}">'
            f'<div class="what"><b>{_e(headline.scenario)}</b> · {_e(spec.get("kind", "?"))} · '
            f"<code>GET {_e(spec.get('path', '?'))}</code></div>"
            f'<div class="who">{who} {badge}</div>'
            f"<div>{_e(headline.sentence)}</div><ul>{details}</ul></article>"
        )
    return f'<section class="cards">{"".join(cards)}</section>'


def _html_table(rows: list[Row], won: set[tuple[str, str, int]], colours: dict[str, str]) -> str:
    # The notes sit under each server's name, where the eye starts: a wide table must not hide a flag.
    head = "".join(f"<th>{_e(column).replace(' [', '<br>[')}</th>" for column in COLUMNS)
    bodies = []
    for users in dict.fromkeys(row.users for row in rows):
        lines = []
        for row in (row for row in rows if row.users == users):
            classes = [name for name, on in (("lg", row.loadgen_bound), ("none", not row.measured)) if on]
            classes += ["win"] if row.key in won else []
            notes = _badges(_notes(row, row.key in won))
            cells = [f"<td>{_swatch(colours[row.server])}{_e(row.server)}{f'<div>{notes}</div>' if notes else ''}</td>"]
            cells += [f"<td>{_e(value)}</td>" for value in _values(row)]
            lines.append(f'<tr class="{" ".join(classes)}">{"".join(cells)}</tr>')
        bodies.append(f"<tbody>{''.join(lines)}</tbody>")
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>{"".join(bodies)}</table></div>'


def _html_chart(chart: Chart) -> str:
    return (
        f'<figure class="chart"><figcaption><strong>{_e(chart.title)}</strong>{_e(chart.caption)}</figcaption>'
        f"{chart.svg}</figure>"
    )


def _html_scenario(results: dict[str, Any], scenario: str, rows: list[Row], colours: dict[str, str]) -> str:
    spec = results["scenarios"].get(scenario, {})
    mine = [row for row in rows if row.scenario == scenario]
    servers = first_seen(row.server for row in mine)
    users = sorted({row.users for row in mine})
    data = ChartData(scenario, servers, users, {(row.server, row.users): row for row in mine}, colours)
    won = {winner.row.key for winner in winners(mine)}
    work = f", {spec['work_ms']:g} ms of work per request" if spec.get("work_ms") else ""
    return (
        f'<section id="scenario-{_e(scenario)}"><h2>{_e(scenario)}</h2>'
        f'<p class="sub">Locust class <code>{_e(spec.get("user_class", "?"))}</code>, '
        f"<code>GET {_e(spec.get('path', '?'))}</code>, kind {_e(spec.get('kind', '?'))}{_e(work)}.</p>"
        f"<h3>Summary</h3>{_html_table(table_order(mine), won, colours)}"
        + "".join(_html_chart(chart) for chart in charts(data, spec.get("kind", "baseline")))
        + "</section>"
    )


def _html_notices(found: list[Notice]) -> str:
    if not found:
        return (
            '<div class="warnings clean">No warnings: every cell ran ok, none load-generator bound, no failures.</div>'
        )
    icons = {"status": "✖", "loadgen": "⚠", "failures": "✖", "noise": "≈", "run": "⚠"}
    items = "".join(f"<li>{icons.get(notice.kind, '•')} {_e(notice.text)}</li>" for notice in found)
    return f'<div class="warnings"><ul>{items}</ul></div>'


def _text_table(headers: list[str], body: str) -> str:
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    return (
        f'<div class="table-wrap"><table class="text"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _link(url: str) -> str:
    return f'<a href="{_e(url)}">docs</a>' if url.startswith(("http://", "https://")) else ""


def _html_method(results: dict[str, Any], colours: dict[str, str]) -> str:
    points = "".join(f"<li>{_e(sentence)}</li>" for sentence in methodology(results))
    servers = "".join(
        f"<tr><td>{_swatch(colours.get(name, MUTED))}{_e(name)}</td><td>{_e(spec.get('model', ''))}</td>"
        f"<td>{_e('unbounded' if spec.get('slots') is None else spec['slots'])}</td>"
        f"<td>{_e(spec.get('description', ''))}</td><td>{_link(spec.get('docs', ''))}</td></tr>"
        for name, spec in results["servers"].items()
    )
    scenarios = "".join(
        f"<tr><td>{_e(name)}</td><td><code>{_e(spec.get('user_class', ''))}</code></td>"
        f"<td><code>GET {_e(spec.get('path', ''))}</code></td><td>{_e(spec.get('kind', ''))}</td>"
        f"<td>{_e(fmt_setting(spec.get('work_ms')))}</td></tr>"
        for name, spec in results["scenarios"].items()
    )
    return (
        f'<section id="methodology"><h2>Methodology</h2><ul class="method">{points}</ul>'
        f"<h3>Servers</h3>{_text_table(['Server', 'Model', 'Slots', 'Description', ''], servers)}"
        f"<h3>Scenarios</h3>{_text_table(['Scenario', 'Locust class', 'Request', 'Kind', 'Work ms'], scenarios)}"
        "</section>"
    )


def _versions_table(versions: dict[str, dict[str, str]]) -> str:
    bench, app = versions.get("bench") or {}, versions.get("app") or {}
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_e(bench.get(name, '—'))}</td><td>{_e(app.get(name, '—'))}</td></tr>"
        for name in sorted(set(bench) | set(app), key=str.lower)
    )
    return _text_table(["Package", "bench (load generator)", "app (servers)"], rows)


def _html_metadata(results: dict[str, Any]) -> str:
    run = results["run"]
    machine = run.get("machine") or {}
    facts = [
        ("Run", run.get("id")),
        ("Mode", run.get("mode")),
        ("Started", run.get("started_at")),
        ("Finished", run.get("finished_at") or "— (not finished)"),
        ("Cells", len(results["cells"]) + len(results.get("faults", []))),
        *((f"Machine {key.replace('_', ' ')}", value) for key, value in machine.items()),
        *(
            (f"Image digest, {name}", digest or "— (not run from the lab's image)")
            for name, digest in (run.get("images") or {}).items()
        ),
    ]
    listing = "".join(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>" for key, value in facts)
    command = " ".join(run.get("locust_command") or [])
    return (
        f'<section id="metadata"><h2>Metadata</h2><dl class="meta">{listing}'
        f"<dt>Locust command</dt><dd><code>{_e(command)}</code></dd></dl>"
        f"<details><summary>Package versions of both environments</summary>"
        f"{_versions_table(run.get('versions') or {})}</details></section>"
    )


def _html_nav(scenarios: list[str], faults: list[str]) -> str:
    targets = [("warnings", "Warnings")] + [(f"scenario-{name}", name) for name in scenarios]
    targets += [(f"fault-{name}", f"fault: {name}") for name in faults]
    targets += [("methodology", "Methodology"), ("metadata", "Metadata")]
    return "<nav>" + "".join(f'<a href="#{_e(anchor)}">{_e(text)}</a>' for anchor, text in targets) + "</nav>"


def render_html(results: dict[str, Any], rows: list[Row]) -> str:
    # The fault sections build on this module's helpers, hence imported here.
    from labbench import faultreport

    run = results["run"]
    scenarios = first_seen(row.scenario for row in rows)
    plan = run["plan"]
    colours = server_colours(first_seen([*(row.server for row in rows), *plan["servers"]]))
    shape = (
        f"{len(plan['servers'])} servers {TIMES} {len(plan['scenarios'])} scenarios {TIMES} "
        f"{len(plan['users'])} user counts {TIMES} {plan['repetitions']} repetitions"
    )
    if plan.get("faults"):
        shape += f", {len(plan['faults'])} fault experiments"
    unfinished = "" if run.get("finished_at") else f" {_badges([('bad', 'not finished')])}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Benchmark run {_e(run.get('id'))}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>Benchmark run {_e(run.get('id'))}{unfinished}</h1>"
        f'<p class="sub">{_e(shape)} · {_e(run.get("mode"))} mode · {_e(run.get("started_at"))} → '
        f"{_e(run.get('finished_at') or '…')}</p></header>"
        + _html_nav(scenarios, faultreport.present(results))
        + _html_headlines(headlines(scenarios, winners(rows)), colours, results)
        + f'<section id="warnings"><h2>Warnings</h2>{_html_notices(notices(results, rows))}</section>'
        + "".join(_html_scenario(results, scenario, rows, colours) for scenario in scenarios)
        + faultreport.html(results, colours)
        + _html_method(results, colours)
        + _html_metadata(results)
        + "<footer>Rendered by labbench from results.json; see docs/results-schema.md for every field.</footer>"
        + "</main></body></html>\n"
    )


# ---------------------------------------------------------------------------
# Writing


RENDERERS: list[tuple[str, Callable[[dict[str, Any], list[Row]], str]]] = [
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

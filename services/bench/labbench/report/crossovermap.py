"""The crossover map: which server wins each (I/O:CPU split, users) cell of a crossover run.

The cells come from :func:`labbench.stats.crossover_map`; this module words
them (one text for the heatmap, the table and the docs) and draws the heatmap.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from labbench.crossover import MapCell
from labbench.report.charts import CHART_STYLE, CHART_WIDTH, Chart, svg
from labbench.report.format import MUTED, fmt, users_text
from labbench.stats import TIMES, median_rps

#: The heatmap's SVG groups one rectangle per map cell under this id (a test counts them).
CELL_ID = "map-cell"
NO_WINNER = "#f3f4f6"
WITHIN_ALPHA = 0.35


def split_text(cell: MapCell) -> str:
    """``40 ms I/O + 10 ms CPU``, the column's heading."""
    return f"{cell.io_ms} ms I/O + {cell.cpu_ms} ms CPU"


def verdict(cell: MapCell) -> str:
    """How the cell's win reads: ``×1.42``, ``within the spread (×1.03)`` or ``no winner: …``."""
    if cell.winner is None:
        return f"no winner: {cell.why_not}"
    margin = cell.winner.margin
    if margin is None:
        return "alone (no runner-up)"
    shown = f"{TIMES}{margin:.2f}"
    return f"within the spread ({shown})" if cell.within_spread else shown


def short_verdict(cell: MapCell) -> str:
    """The heatmap's second line: the margin, or a word for why there is no winner."""
    if cell.winner is None:
        return "load generator" if "load generator" in (cell.why_not or "") else "no winner"
    margin = cell.winner.margin
    if margin is None:
        return "alone"
    return f"≈ {TIMES}{margin:.2f}" if cell.within_spread else f"{TIMES}{margin:.2f}"


def table(cells: Sequence[MapCell]) -> list[str]:
    """The map as a Markdown table: one line per cell, pure I/O first, then by users."""
    lines = [
        "| I/O + CPU per request | users | winner | req/s | runner-up | runner-up req/s | margin |",
        "|---|--:|---|--:|---|--:|---|",
    ]
    for cell in cells:
        winner = cell.winner
        if winner is None:
            lines.append(f"| {split_text(cell)} | {cell.users} | — | — | — | — | {verdict(cell)} |")
            continue
        second = winner.runner_up
        lines.append(
            f"| {split_text(cell)} | {cell.users} | {winner.row.server} | {fmt(median_rps(winner.row))} | "
            f"{second.server if second else '—'} | {fmt(median_rps(second)) if second else '—'} | {verdict(cell)} |"
        )
    return lines


def heatmap(cells: Sequence[MapCell], colours: dict[str, str]) -> Chart:
    """The map as an inline SVG: splits across (pure I/O on the left), users down, each cell in its winner's colour."""
    splits = list(dict.fromkeys((cell.io_ms, cell.cpu_ms) for cell in cells))
    users = sorted({cell.users for cell in cells})
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 0.9 + 0.75 * len(users)), layout="constrained")
        ax = figure.add_subplot()
        for cell in cells:
            x, y = splits.index((cell.io_ms, cell.cpu_ms)), users.index(cell.users)
            server = cell.winner.row.server if cell.winner else None
            face = colours.get(server, MUTED) if server else NO_WINNER
            rectangle = Rectangle(
                (x, y), 1, 1, facecolor=face, edgecolor="white", linewidth=2,
                alpha=WITHIN_ALPHA if cell.within_spread else 1.0,
                hatch="//" if cell.within_spread else None,
            )  # fmt: skip
            rectangle.set_gid(f"{CELL_ID}-{cell.scenario}-u{cell.users}")
            ax.add_patch(rectangle)
            ink = "white" if server and not cell.within_spread else "#1f2937"
            ax.text(x + 0.5, y + 0.62, server or "—", ha="center", va="center", color=ink, fontsize=8, weight="bold")
            ax.text(x + 0.5, y + 0.32, short_verdict(cell), ha="center", va="center", color=ink, fontsize=8)
        ax.set_xlim(0, len(splits))
        ax.set_ylim(0, len(users))
        ax.set_xticks([x + 0.5 for x in range(len(splits))], [f"{io} ms I/O\n{cpu} ms CPU" for io, cpu in splits])
        ax.set_yticks([y + 0.5 for y in range(len(users))], [users_text(count) for count in users])
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel("work per request, from pure I/O (left) to pure CPU (right)")
        drawn = svg(figure, "crossover-map")
    return Chart(
        "The crossover map",
        "The winning server of each split and user count (highest median req/s with at most 1 % failures) and its "
        "margin over the runner-up. Pale and hatched, with ≈: within the spread (the winner's slowest repetition did "
        "not beat the runner-up's fastest). Grey: no winner, and why.",
        drawn,
    )

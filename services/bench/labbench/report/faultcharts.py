"""The charts of a fault experiment: successes per second around the fault, and the soak's memory.

The timeline shows each server's successes per second as a share of its own
rate before the fault, one small panel per server, with the seconds that saw
failures marked.
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.figure import Figure

from labbench import faults
from labbench.report.charts import CHART_STYLE, CHART_WIDTH, Chart, svg
from labbench.report.format import ALERT, INK, MUTED
from labbench.results import FaultCell


def timeline_chart(fault: str, cells: list[FaultCell], colours: dict[str, str]) -> str:
    """Successes per second against the server's own rate before the fault."""
    shown = [cell for cell in cells if cell.timeline and cell.ok_per_s_before]
    columns = min(5, max(1, len(shown)))
    rows = -(-len(shown) // columns)
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 0.9 + 1.9 * rows), layout="constrained")
        axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).flatten()
        for ax, cell in zip(axes, shown, strict=False):
            before = cell.ok_per_s_before
            assert before  # shown only with a rate before the fault
            # Each point counts the second that ends at its time.
            start = [point[0] - 1 for point in cell.timeline]
            share = [100 * point[1] / before for point in cell.timeline]
            ax.bar(start, share, width=0.9, align="edge", color=colours.get(cell.server, MUTED))
            failed = [point[0] - 0.55 for point in cell.timeline if point[2] > 0]
            if failed:  # an empty line outside the axes breaks the constrained layout
                ax.plot(failed, [-8] * len(failed), "x", color=ALERT, markersize=5, clip_on=False)
            ax.axvline(0, color=INK, linestyle="--", linewidth=1)
            ax.axhline(100, color=MUTED, linewidth=0.8)
            ax.set_title(cell.server, loc="left", fontsize=9)
            ax.set_ylim(-14, 160)
        for ax in axes[len(shown) :]:
            ax.set_visible(False)
        for ax in axes[(rows - 1) * columns :]:
            ax.set_xlabel("s from the fault (dashed)", color=MUTED)
        for ax in axes[::columns]:
            ax.set_ylabel("% of ok/s before", color=MUTED)
        return svg(figure, f"fault-{fault}")


def memory_chart(cells: list[FaultCell], colours: dict[str, str]) -> str:
    """The soak's memory readings, one line per server."""
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 3.2), layout="constrained")
        ax = figure.subplots()
        for cell in cells:
            samples = cell.seen("memory") or []
            if samples:
                ax.plot(
                    [sample[0] for sample in samples],
                    [sample[1] / 2**20 for sample in samples],
                    marker="o",
                    markersize=3,
                    color=colours.get(cell.server, MUTED),
                    label=cell.server,
                )
        ax.set_xlabel("seconds into the soak", color=MUTED)
        ax.set_ylabel("memory, MiB", color=MUTED)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
        return svg(figure, "fault-soak-memory")


def fault_charts(fault: str, cells: list[FaultCell], colours: dict[str, str]) -> list[Chart]:
    """Every chart of one fault experiment: its timeline, and for the soak its memory."""
    spec = faults.FAULTS[fault]
    found = [
        Chart(
            "Successes per second around the fault",
            f" Each server against its own rate before the fault; ✖ marks seconds with failed requests; "
            f"{faults.USERS} users of {spec.user_class}.",
            timeline_chart(fault, cells, colours),
        )
    ]
    if fault == "soak":
        found.append(
            Chart("Memory over the soak", " The server's /_lab/usage every few seconds.", memory_chart(cells, colours))
        )
    return found

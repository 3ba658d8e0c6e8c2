"""A burst as a picture: one Gantt row per serving slot, one bar per request.

Each row is a slot that served part of the burst (a process, then one of its
threads or greenlets); each request is a bar from when the server started it
to when it ended, coloured by the process that served it, after a thin grey
bar for the time it waited (from the client's send to the server's start:
the connection, the listen backlog, a queue in the server). The dashed line
is when the burst would end on the slots the server's label claims, at best.
Times run from the burst's first send, on the one clock of client and server
(labbench.timeline explains why it is one).
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from labbench.report.charts import CHART_STYLE, CHART_WIDTH, svg
from labbench.report.format import ALERT, INK, MUTED, PALETTE
from labbench.timelinedata import Burst, TimelineServer, slots, slots_text, summarize

WAIT = "#cbd5e1"
#: Per burst in a small-multiples page: panels per line.
COLUMNS = 5


def _origin(burst: Burst) -> float:
    return min(request.sent for request in burst.requests)


def in_service_steps(burst: Burst) -> tuple[list[float], list[int]]:
    """How many requests the server had in service, as a step function from the first send."""
    origin = _origin(burst)
    events = sorted(
        [(r.served.start - origin, 1) for r in burst.requests if r.served]
        + [(r.served.end - origin, -1) for r in burst.requests if r.served]
    )
    times, counts, current = [0.0], [0], 0
    for at, step in events:
        current += step
        times.append(at)
        counts.append(current)
    return times, counts


def span_s(burst: Burst, server: TimelineServer | None) -> float:
    """Where the burst's time axis ends: its last answer, or its ideal finish if later."""
    if not burst.requests:
        return 1.0
    last = max(request.received for request in burst.requests) - _origin(burst)
    return max(last, summarize(burst, server).ideal_s) * 1.03


def gantt(
    ax: Axes, burst: Burst, server: TimelineServer | None, labels: bool = True, right: float | None = None
) -> None:
    """The burst's bars on ``ax``: a row per slot, waits in grey, the ideal finish dashed."""
    found, rows = slots(burst)
    origin = _origin(burst)
    unserved = [request for request in burst.requests if request.served is None]
    for request in burst.requests:
        record = request.served
        if record is None:
            continue
        y = rows[request.index]
        colour = PALETTE[found[y].process % len(PALETTE)]
        # The wait runs along the foot of the row, behind the bars, and ends in a tick
        # where the server took the request: the waits of one slot overlap, their ends do not.
        ax.barh(
            y + 0.3,
            record.start - request.sent,
            left=request.sent - origin,
            height=0.16,
            color=WAIT,
            linewidth=0,
            zorder=1,
        )
        ax.plot([record.start - origin] * 2, [y + 0.22, y + 0.38], color=MUTED, linewidth=0.8, zorder=2)
        ax.barh(y - 0.1, record.end - record.start, left=record.start - origin, height=0.6, color=colour,
                edgecolor="white", linewidth=0.6, zorder=3)  # fmt: skip
    if unserved:
        y = len(found)
        ax.plot([r.received - origin for r in unserved], [y] * len(unserved), "x", color=ALERT, markersize=6)
    total = len(found) + (1 if unserved else 0)
    names = [slot.label for slot in found] + (["no record"] if unserved else [])
    ax.set_yticks(range(total), names if labels else [""] * total)
    ax.set_ylim(total - 0.5, -0.5)
    ax.tick_params(axis="y", length=0, labelsize=7)
    ideal = summarize(burst, server).ideal_s
    ax.axvline(ideal, color=INK, linestyle="--", linewidth=1, zorder=4)
    # Limits set outright: set_xlim(left=...) alone would freeze the right end at the first panel's.
    ax.set_xlim(0, span_s(burst, server) if right is None else right)
    ax.grid(axis="x")
    ax.set_axisbelow(True)


def _legend(figure: Figure, server: TimelineServer | None) -> None:
    slots_said = slots_text(server) if server else "the label's slots"
    handles = [
        Patch(facecolor=WAIT, label="waiting: client send → server start (|)"),
        Patch(facecolor=PALETTE[0], label="in service (colour: serving process)"),
        Line2D([], [], color=INK, linestyle="--", label=f"ideal finish for {slots_said}"),
        Line2D([], [], color=ALERT, marker="x", linestyle="none", label="no server record"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)


def burst_chart(burst: Burst, server: TimelineServer | None) -> str:
    """One burst: its Gantt chart over a step line of the requests in service against the label's slots."""
    found, _ = slots(burst)
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 2.4 + 0.2 * len(found)), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[max(3, len(found)) * 0.2 + 1, 1.1])
        gantt(top, burst, server)
        s = summarize(burst, server)
        top.set_title(
            f"{burst.server}: {s.requests} × {burst.path}, at most {s.most_at_once} at once ({slots_text(server)})",
            loc="left",
        )
        times, counts = in_service_steps(burst)
        bottom.step(times, counts, where="post", color=INK, linewidth=1.4)
        if server and server.slots is not None:
            bottom.axhline(min(server.slots, s.requests), color=MUTED, linestyle=":", linewidth=1)
        bottom.set_ylim(0, s.requests + 1)
        bottom.set_ylabel("in service", color=MUTED)
        bottom.set_xlabel("seconds from the burst's first send", color=MUTED)
        bottom.grid(axis="both")
        _legend(figure, server)
        return svg(figure, f"timeline-{burst.scenario}-{burst.server}")


def small_multiples(bursts: list[Burst], servers: dict[str, TimelineServer]) -> str:
    """Every server's burst of one scenario side by side, on one time axis."""
    shown = [burst for burst in bursts if burst.requests]
    columns = min(COLUMNS, max(1, len(shown)))
    lines = -(-max(1, len(shown)) // columns)
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 0.8 + 2.3 * lines), layout="constrained")
        axes = figure.subplots(lines, columns, sharex=True, squeeze=False).flatten()
        right = max((span_s(burst, servers.get(burst.server)) for burst in shown), default=1.0)
        for ax, burst in zip(axes, shown, strict=False):
            server = servers.get(burst.server)
            gantt(ax, burst, server, labels=False, right=right)
            s = summarize(burst, server)
            promised = "∞" if server is None or server.slots is None else str(server.slots)
            short = s.most_at_once < s.expected_at_once
            ax.set_title(f"{burst.server}\nmax {s.most_at_once} at once · slots {promised}", loc="left", fontsize=8.5,
                         color=ALERT if short else INK)  # fmt: skip
        for ax in axes[len(shown) :]:
            ax.set_visible(False)
        for ax in axes[(lines - 1) * columns :]:
            ax.set_xlabel("s from first send", color=MUTED)
        _legend(figure, None)
        scenario = shown[0].scenario if shown else "none"
        return svg(figure, f"timeline-{scenario}")

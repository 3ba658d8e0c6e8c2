"""The report's fault sections: one per fault experiment of a run.

Each section states the question the experiment asks (labbench.faults), a
table of what every server did, and a timeline: successes per second as a
share of the server's own rate before the fault, one small panel per server,
with the seconds that saw failures marked. docs/faults.md reads the results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure

from labbench import faults
from labbench.report import (
    ALERT,
    CHART_STYLE,
    CHART_WIDTH,
    INK,
    MUTED,
    Chart,
    _e,
    _html_chart,
    _svg,
    _swatch,
    fmt,
    fmt_pct,
)

Cell = dict[str, Any]

OUTCOMES = {
    "respawned": "respawned by its master",
    "restarted": "restarted from outside (Compose's restart policy)",
    "down": "down, nothing brought it back",
    "unaffected": "unaffected",
}


def _observed(key: str, format_: Callable[[Any], str] = str) -> Callable[[Cell], str]:
    def read(cell: Cell) -> str:
        value = (cell.get("observed") or {}).get(key)
        return "—" if value is None else format_(value)

    return read


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _kept(cell: Cell) -> str:
    return fmt_pct(cell.get("kept"))


def _failed(cell: Cell) -> str:
    return "—" if cell.get("failures_after") is None else f"{cell['failures_after']:,}"


def _outage(cell: Cell) -> str:
    return "—" if cell.get("outage_s") is None else f"{cell['outage_s']} s"


def _completed(cell: Cell) -> str:
    seen = cell.get("observed") or {}
    return "—" if "completed" not in seen else f"{seen['completed']} of {seen['in_flight']}"


def _delivered(cell: Cell) -> str:
    seen = cell.get("observed") or {}
    if "signal" not in seen:
        return "—"
    if seen["signal"] == "direct":
        return "directly, at once"
    return f"through /fault/stop, after {seen['delivered_after_s']:g} s"


def _cut_off(cell: Cell) -> str:
    seen = cell.get("observed") or {}
    if "clients" not in seen:
        return "—"
    after = f" after {seen['closed_after_s']:g} s" if seen.get("closed_after_s") is not None else ""
    return f"{seen['closed_by_server']} of {seen['clients']}{after}"


def _long_request(cell: Cell) -> str:
    seen = cell.get("observed") or {}
    if "result" not in seen:
        return "—"
    return f"{seen['result']} after {seen['seconds']:g} s"


#: Per fault: the columns after the server's name, as (header, value).
COLUMNS: dict[str, list[tuple[str, Callable[[Cell], str]]]] = {
    "crash": [
        ("Server afterwards", _observed("outcome", lambda o: OUTCOMES.get(o, o))),
        ("Answers again after", _observed("answered_again_s", _seconds)),
        ("All workers back after", _observed("whole_again_s", _seconds)),
        ("Seconds without service", _outage),
        ("Failed requests", _failed),
        ("Throughput kept", _kept),
    ],
    "stop": [
        ("SIGTERM reached it", _delivered),
        ("In-flight requests completed", _completed),
        ("Refuses new connections after", _observed("refusing_after_s", _seconds)),
        ("Failed requests after the stop", _failed),
    ],
    "slow-clients": [
        ("Normal ok/s before", lambda c: fmt(c.get("ok_per_s_before"))),
        ("Normal ok/s with slow clients", lambda c: fmt(c.get("ok_per_s_after"))),
        ("Throughput kept", _kept),
        ("Slow clients cut off by the server", _cut_off),
    ],
    "timeout": [
        ("The long request got", _long_request),
        ("Its worker", _observed("outcome", lambda o: OUTCOMES.get(o, o))),
        ("Other requests failed", _failed),
        ("Throughput kept", _kept),
    ],
    "soak": [
        ("Memory at the start", _observed("memory_start_bytes", lambda b: f"{b / 2**20:.1f} MiB")),
        ("Memory at the end", _observed("memory_end_bytes", lambda b: f"{b / 2**20:.1f} MiB")),
        ("Growth", _observed("memory_growth_bytes", lambda b: f"{b / 2**20:+.1f} MiB")),
        ("Peak", _observed("memory_peak_bytes", lambda b: f"{b / 2**20:.1f} MiB")),
        ("Failed requests", _failed),
        ("Throughput kept", _kept),
    ],
    "recycle": [
        ("Workers", _observed("workers")),
        ("Workers recycled", _observed("recycled")),
        ("Failed requests", _failed),
        ("Throughput kept", _kept),
    ],
}


def cells(results: dict[str, Any], fault: str) -> list[Cell]:
    order = {name: index for index, name in enumerate(results["run"]["plan"]["servers"])}
    mine = [cell for cell in results.get("faults", []) if cell["fault"] == fault]
    return sorted(mine, key=lambda cell: (order.get(cell["server"], len(order)), cell["repetition"]))


def present(results: dict[str, Any]) -> list[str]:
    """The faults this run has cells for, in the order labbench defines them."""
    ran = {cell["fault"] for cell in results.get("faults", [])}
    return [name for name in faults.FAULTS if name in ran]


def _values(fault: str, cell: Cell) -> list[str]:
    if cell["status"] != "ok":
        return [f"{cell['status']}: {cell.get('error') or ''}"]
    return [value(cell) for _, value in COLUMNS[fault]]


def methodology(results: dict[str, Any]) -> list[str]:
    """How the fault experiments ran, for the report's methodology list."""
    if not results["run"]["plan"].get("faults"):
        return []
    return [
        f"Each fault experiment runs {faults.USERS} Locust users against one server, injects the fault "
        f"{faults.LEAD_S:g} s in, and keeps Locust's per-second history around it (one-second resolution): "
        "ok/s before is the mean of the seconds before the fault, after is the mean from its second second on.",
        "Faults reach the server as they would reach a real one: SIGKILL of the worker that serves /fault/crash, "
        "SIGTERM to the server's top process (/fault/stop, what `docker compose stop` sends), raw sockets that "
        "send a request one byte a second, one request longer than the server's timeout, and the server's own "
        "max-requests. The runner then watches the server's census (/whoami: top process and worker pids).",
        f"A second with fewer than {faults.OUTAGE:.0%} of the usual successes counts as a second without service. "
        "After each experiment a server that is down is brought back before the next cell "
        "(natively by the runner, in Docker by the restart policy).",
    ]


# --- Markdown -------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for fault in present(results):
        spec = faults.FAULTS[fault]
        headers = ["Server", *(header for header, _ in COLUMNS[fault])]
        lines += ["", f"## Fault: {spec.title}", "", spec.question, ""]
        lines += ["| " + " | ".join(headers) + " |", "|---|" + "--:|" * (len(headers) - 1)]
        for cell in cells(results, fault):
            values = _values(fault, cell)
            values += [""] * (len(headers) - 1 - len(values))
            lines.append("| " + " | ".join(v.replace("|", "\\|") for v in [cell["server"], *values]) + " |")
    return lines


# --- HTML -------------------------------------------------------------------------


def chart(fault: str, cells: list[Cell], colours: dict[str, str]) -> str:
    """Successes per second against the server's own rate before the fault."""
    shown = [cell for cell in cells if cell.get("timeline") and cell.get("ok_per_s_before")]
    columns = min(5, max(1, len(shown)))
    rows = -(-len(shown) // columns)
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 0.9 + 1.9 * rows), layout="constrained")
        axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).flatten()
        for ax, cell in zip(axes, shown, strict=False):
            before = cell["ok_per_s_before"]
            # Each point counts the second that ends at its time.
            start = [point[0] - 1 for point in cell["timeline"]]
            share = [100 * point[1] / before for point in cell["timeline"]]
            ax.bar(start, share, width=0.9, align="edge", color=colours.get(cell["server"], MUTED))
            failed = [point[0] - 0.55 for point in cell["timeline"] if point[2] > 0]
            if failed:  # an empty line outside the axes breaks the constrained layout
                ax.plot(failed, [-8] * len(failed), "x", color=ALERT, markersize=5, clip_on=False)
            ax.axvline(0, color=INK, linestyle="--", linewidth=1)
            ax.axhline(100, color=MUTED, linewidth=0.8)
            ax.set_title(cell["server"], loc="left", fontsize=9)
            ax.set_ylim(-14, 160)
        for ax in axes[len(shown) :]:
            ax.set_visible(False)
        for ax in axes[(rows - 1) * columns :]:
            ax.set_xlabel("s from the fault (dashed)", color=MUTED)
        for ax in axes[::columns]:
            ax.set_ylabel("% of ok/s before", color=MUTED)
        return _svg(figure, f"fault-{fault}")


def memory_chart(cells: list[Cell], colours: dict[str, str]) -> str:
    """The soak's memory readings, one line per server."""
    with mpl.rc_context(CHART_STYLE):
        figure = Figure(figsize=(CHART_WIDTH, 3.2), layout="constrained")
        ax = figure.subplots()
        for cell in cells:
            samples = (cell.get("observed") or {}).get("memory") or []
            if samples:
                ax.plot(
                    [sample[0] for sample in samples],
                    [sample[1] / 2**20 for sample in samples],
                    marker="o",
                    markersize=3,
                    color=colours.get(cell["server"], MUTED),
                    label=cell["server"],
                )
        ax.set_xlabel("seconds into the soak", color=MUTED)
        ax.set_ylabel("memory, MiB", color=MUTED)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
        return _svg(figure, "fault-soak-memory")


def html(results: dict[str, Any], colours: dict[str, str]) -> str:
    sections = []
    for fault in present(results):
        spec, mine = faults.FAULTS[fault], cells(results, fault)
        headers = ["Server", *(header for header, _ in COLUMNS[fault])]
        body = "".join(
            f"<tr><td>{_swatch(colours.get(cell['server'], MUTED))}{_e(cell['server'])}</td>"
            + (
                "".join(f"<td>{_e(value)}</td>" for value in _values(fault, cell))
                if cell["status"] == "ok"
                else f'<td colspan="{len(headers) - 1}" class="status">{_e(_values(fault, cell)[0])}</td>'
            )
            + "</tr>"
            for cell in mine
        )
        head = "".join(f"<th>{_e(header)}</th>" for header in headers)
        figure = Chart(
            "Successes per second around the fault",
            f" Each server against its own rate before the fault; ✖ marks seconds with failed requests; "
            f"{faults.USERS} users of {spec.user_class}.",
            chart(fault, mine, colours),
        )
        extra = ""
        if fault == "soak":
            memory = memory_chart(mine, colours)
            memory = Chart("Memory over the soak", " The server's /usage every few seconds.", memory)
            extra = _html_chart(memory)
        sections.append(
            f'<section id="fault-{_e(fault)}"><h2>Fault: {_e(spec.title)}</h2><p class="sub">{_e(spec.question)}</p>'
            f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
            + _html_chart(figure)
            + extra
            + "</section>"
        )
    return "".join(sections)

"""How the report writes a number, a group and a server's colour: shared by every part of it, and by compare."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from labbench.stats import NOT_CLASSIFIED, TIMES, Row
from labcore import defaults

DASH = "\N{EN DASH}"
#: What a cell shows for a value that is unknown.
UNKNOWN = "—"

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
    # Beyond Tableau 10, so that thirteen servers and a few more stay apart;
    # appended, so that a run of ten keeps the colours it always had.
    "#17becf",
    "#2f4b7c",
    "#bcbd22",
    "#a05195",
    "#637939",
    "#8c6d31",
]
ALERT = "#b91c1c"
INK = "#1f2937"
MUTED = "#6b7280"
#: The badge of a group whose load generator may have been the limit, in every table and chart.
LG_LABEL = "⚠ LG-bound"
#: The badge of a group whose number was not set by the server's CPU or slots in every repetition.
NSB_LABEL = "⚠ not server-bound"
#: The badge of a group whose cells predate the bottleneck classification.
UNCLASSIFIED_LABEL = "? not classified"
#: What each badge means, for the legend under a table or a chart.
LEGEND = {
    LG_LABEL: f"the load generator used ≥ {defaults.LOADGEN_HOT:.0%} of its CPU in a repetition; "
    "the server may be faster",
    NSB_LABEL: "in a repetition neither the server's CPU nor its slots were the limit "
    "(see Bottleneck), so the number may be the load generator's, the machine's or unexplained; it cannot win",
    UNCLASSIFIED_LABEL: "measured before labbench classified bottlenecks, so not known to be the server's "
    "number; it cannot win",
}


def fmt(value: float | None) -> str:
    """Three significant figures or whole numbers, with thousands separators; a dash for unknown."""
    if value is None:
        return UNKNOWN
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_setting(value: float | None) -> str:
    """A configured number as given: 10, 7.5, 0.25."""
    return UNKNOWN if value is None else f"{value:g}"


def fmt_rps(row: Row) -> str:
    if row.rps is None:
        return UNKNOWN
    return f"{fmt(row.rps.median)} [{fmt(row.rps.low)}{DASH}{fmt(row.rps.high)}]"


def fmt_pct(fraction: float | None) -> str:
    return UNKNOWN if fraction is None else f"{100 * fraction:.0f}%"


def fmt_failures(row: Row) -> str:
    if row.failure_pct is None:
        return UNKNOWN
    return "0%" if row.failure_pct == 0 else f"{row.failure_pct:.2f}%"


def fmt_bottlenecks(row: Row) -> str:
    """The bottlenecks of a group's repetitions: ``server-cpu``, or ``slots ×2, unexplained ×1``."""
    if not row.bottlenecks:
        return UNKNOWN
    if len(row.bottlenecks) == 1:
        return next(iter(row.bottlenecks))
    return ", ".join(f"{name} {TIMES}{count}" for name, count in row.bottlenecks.items())


def bottleneck_mark(row: Row) -> str | None:
    """A measured group's mark when its number is not known to be the server's: not server-bound, or not classified."""
    if not row.measured or not row.not_server_bound:
        return None
    return UNCLASSIFIED_LABEL if set(row.not_server_bound) == {NOT_CLASSIFIED} else NSB_LABEL


def flag(row: Row) -> str | None:
    """The one mark a chart puts on a group, the most specific first: LG-bound, then :func:`bottleneck_mark`."""
    return LG_LABEL if row.loadgen_bound else bottleneck_mark(row)


def users_text(users: int) -> str:
    return f"{users} user{'' if users == 1 else 's'}"


def server_label(row: Row) -> str:
    """The server's name, and the engine where it is not Locust: which engine measured the row."""
    return row.server if row.engine == "locust" else f"{row.server} ({row.engine})"


def group_name(row: Row) -> str:
    return f"{server_label(row)} {TIMES} {row.scenario} {TIMES} {users_text(row.users)}"


def first_seen(names: Iterable[str]) -> list[str]:
    """Each name once, in order of appearance: rows come in the plan's order, so this is the plan's."""
    return list(dict.fromkeys(names))


def server_colours(servers: Sequence[str]) -> dict[str, str]:
    return {server: PALETTE[index % len(PALETTE)] for index, server in enumerate(servers)}


def run_colours(rows: Iterable[Row], planned: Iterable[str]) -> dict[str, str]:
    """A run's colour per server: measured servers first, in the plan's order, then the rest of its plan."""
    return server_colours(first_seen([*(row.server for row in rows), *planned]))

"""What the report's tables hold, for report.md and report.html alike.

A scenario's table has one row per server x users group (:data:`COLUMNS`),
with badges that flag what a reader must not miss (:func:`notes`); a fault
experiment's table has one row per server, its columns chosen per fault
(:data:`FAULT_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from labbench import faults
from labbench.report.format import (
    DASH,
    LG_LABEL,
    UNKNOWN,
    fmt,
    fmt_failures,
    fmt_pct,
    fmt_rps,
)
from labbench.results import FaultCell, Results
from labbench.stats import NOISY_CV, Row, winners

# --- scenarios ----------------------------------------------------------------------

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


def notes(row: Row, winner: bool) -> list[tuple[str, str]]:
    """(kind, text) badges for a row, in order of importance; the kind is bad, lg, win or info."""
    found = []
    if row.statuses or not row.repetitions:
        found.append(("bad", row.status))
    if row.loadgen_bound:
        found.append(("lg", LG_LABEL))
    if winner:
        found.append(("win", "fastest"))
    if row.failure_pct:
        found.append(("bad", "failures"))
    if row.planned and row.repetitions and row.repetitions < row.planned:
        found.append(("info", f"{row.repetitions}/{row.planned} reps"))
    if row.rps_cv is not None and row.rps_cv > NOISY_CV:
        found.append(("info", f"noisy: CV {fmt_pct(row.rps_cv)}"))
    return found


def values(row: Row) -> list[str]:
    """Every numeric column of a row, formatted (Users first)."""
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


def won(rows: Iterable[Row]) -> set[tuple[str, str, int]]:
    """The groups that won their scenario and user count."""
    return {winner.row.key for winner in winners(rows)}


# --- fault experiments ---------------------------------------------------------------

OUTCOMES = {
    "respawned": "respawned by its master",
    "restarted": "restarted from outside (Compose's restart policy)",
    "down": "down, nothing brought it back",
    "unaffected": "unaffected",
}


def _observed(key: str, format_: Callable[[Any], str] = str) -> Callable[[FaultCell], str]:
    def read(cell: FaultCell) -> str:
        value = cell.seen(key)
        return UNKNOWN if value is None else format_(value)

    return read


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _mib(sign: str = "") -> Callable[[float], str]:
    return lambda value: f"{value / 2**20:{sign}.1f} MiB"


def _outcome(outcome: str) -> str:
    return OUTCOMES.get(outcome, outcome)


def _kept(cell: FaultCell) -> str:
    return fmt_pct(cell.kept)


def _failed(cell: FaultCell) -> str:
    return UNKNOWN if cell.failures_after is None else f"{cell.failures_after:,}"


def _outage(cell: FaultCell) -> str:
    return UNKNOWN if cell.outage_s is None else f"{cell.outage_s} s"


def _completed(cell: FaultCell) -> str:
    seen = cell.observed or {}
    return UNKNOWN if "completed" not in seen else f"{seen['completed']} of {seen['in_flight']}"


def _delivered(cell: FaultCell) -> str:
    seen = cell.observed or {}
    if "signal" not in seen:
        return UNKNOWN
    if seen["signal"] == "direct":
        return "directly, at once"
    return f"through /fault/stop, after {seen['delivered_after_s']:g} s"


def _cut_off(cell: FaultCell) -> str:
    seen = cell.observed or {}
    if "clients" not in seen:
        return UNKNOWN
    after = f" after {seen['closed_after_s']:g} s" if seen.get("closed_after_s") is not None else ""
    return f"{seen['closed_by_server']} of {seen['clients']}{after}"


def _long_request(cell: FaultCell) -> str:
    seen = cell.observed or {}
    if "result" not in seen:
        return UNKNOWN
    return f"{seen['result']} after {seen['seconds']:g} s"


def _in_flight(prefix: str) -> Callable[[FaultCell], str]:
    def read(cell: FaultCell) -> str:
        seen = cell.observed or {}
        if f"{prefix}_in_flight" not in seen:
            return UNKNOWN
        if not seen[f"{prefix}_in_flight"]:
            return "none"
        return f"{seen[f'{prefix}_completed']} of {seen[f'{prefix}_in_flight']} completed"

    return read


BLOCK_COLUMNS = [
    ("The blocking request got", _long_request),
    ("Its worker", _observed("outcome", _outcome)),
    ("Waiting beside it on its worker", _in_flight("same")),
    ("Waiting on the other workers", _in_flight("other")),
    ("Other requests failed", _failed),
    ("Throughput kept", _kept),
]

#: Per fault: the columns after the server's name, as (header, value).
FAULT_COLUMNS: dict[str, list[tuple[str, Callable[[FaultCell], str]]]] = {
    "crash": [
        ("Server afterwards", _observed("outcome", _outcome)),
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
        ("Normal ok/s before", lambda cell: fmt(cell.ok_per_s_before)),
        ("Normal ok/s with slow clients", lambda cell: fmt(cell.ok_per_s_after)),
        ("Throughput kept", _kept),
        ("Slow clients cut off by the server", _cut_off),
    ],
    "timeout": [
        ("The long request got", _long_request),
        ("Its worker", _observed("outcome", _outcome)),
        ("Other requests failed", _failed),
        ("Throughput kept", _kept),
    ],
    "block": BLOCK_COLUMNS,
    "block-uninterrupted": BLOCK_COLUMNS,
    "soak": [
        ("Memory at the start", _observed("memory_start_bytes", _mib())),
        ("Memory at the end", _observed("memory_end_bytes", _mib())),
        ("Growth", _observed("memory_growth_bytes", _mib("+"))),
        ("Peak", _observed("memory_peak_bytes", _mib())),
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


def fault_headers(fault: str) -> list[str]:
    """A fault table's column headers, the server's name first."""
    return ["Server", *(header for header, _ in FAULT_COLUMNS[fault])]


def fault_cells(results: Results, fault: str) -> list[FaultCell]:
    """One fault's cells, in the plan's order of servers, then by repetition."""
    order = {name: index for index, name in enumerate(results.run.plan.servers)}
    mine = [cell for cell in results.faults if cell.fault == fault]
    return sorted(mine, key=lambda cell: (order.get(cell.server, len(order)), cell.repetition))


def faults_present(results: Results) -> list[str]:
    """The faults this run has cells for, in the order labbench defines them."""
    ran = {cell.fault for cell in results.faults}
    return [name for name in faults.FAULTS if name in ran]


def fault_values(fault: str, cell: FaultCell) -> list[str]:
    """A fault cell's columns after its server; a cell that is not ok has one, its status and error."""
    if not cell.ok:
        return [f"{cell.status}: {cell.error or ''}"]
    return [value(cell) for _, value in FAULT_COLUMNS[fault]]

"""Two runs side by side: ``python -m labbench compare RUN_A RUN_B``.

The answer is a Markdown table with one line per server x scenario x users
found in either run, so it pastes into an issue or a pull request as it is.
Only reads: neither run folder is written to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from labbench.report.format import NSB_LABEL, bottleneck_mark, fmt, fmt_bottlenecks
from labbench.results import Run, load_results
from labbench.stats import NOT_CLASSIFIED, TIMES, Row, summarize


def _limits(run: Run) -> dict[str, Any] | None:
    """The limits as results.json records them (a dict, so a difference reads as the file does)."""
    return run.limits.model_dump(mode="json", exclude_none=True) if run.limits else None


# What makes two runs' numbers comparable; a difference is listed above the table.
SETTINGS: list[tuple[str, Callable[[Run], Any]]] = [
    ("mode", lambda run: run.mode),
    # None: made before the lab had one policy (each server logged as it ships).
    ("access log", lambda run: run.access_log),
    ("limits", _limits),
    ("measured seconds", lambda run: run.plan.duration_s),
    ("warm-up seconds", lambda run: run.plan.warmup_s),
    ("Locust processes", lambda run: run.plan.locust_processes),
    ("engine", lambda run: run.plan.engine),
    ("Locust workers", lambda run: run.plan.locust_workers),
    # Whether the servers and the load generator shared CPUs (None: not recorded).
    ("CPUs disjoint", lambda run: run.placement.disjoint if run.placement else None),
    ("CPU", lambda run: run.machine.cpu_model if run.machine else None),
    ("CPU count", lambda run: run.machine.cpu_count if run.machine else None),
]
Key = tuple[str, str, int, str]  # server, scenario, users, engine
COLUMNS = ["Server", "Scenario", "Users", "req/s A", "req/s B", "Δ req/s", "p95 ms A", "p95 ms B", "Δ p95", "Flags"]


def change(before: float | None, after: float | None) -> str:
    """The relative change from ``before`` to ``after`` as a signed percentage; a dash if unknown."""
    if before is None or after is None or before == 0:
        return "—"
    return f"{100 * (after - before) / before:+.1f}%"


def _flags(a: Row | None, b: Row | None) -> list[str]:
    flags = ["only in B"] if a is None else ["only in A"] if b is None else []
    for label, row in (("A", a), ("B", b)):
        if row is not None and row.loadgen_bound:
            flags.append(f"⚠ LG-bound in {label}")
        # Results made before cells were classified would mark every row: that is said once, in their reports.
        if row is not None and bottleneck_mark(row) == NSB_LABEL:
            flags.append(f"{NSB_LABEL} in {label}")
        if row is not None and row.status != "ok":
            flags.append(f"{label}: {row.status}")
    if a is not None and b is not None and _classified(a) and _classified(b) and a.bottlenecks != b.bottlenecks:
        flags.append(f"bottleneck {fmt_bottlenecks(a)} → {fmt_bottlenecks(b)}")
    return flags


def _classified(row: Row) -> bool:
    return row.measured and NOT_CLASSIFIED not in row.bottlenecks


def _line(key: Key, a: Row | None, b: Row | None) -> list[str]:
    rps_a = a.rps.median if a and a.rps else None
    rps_b = b.rps.median if b and b.rps else None
    p95_a, p95_b = a.p95 if a else None, b.p95 if b else None
    return [
        key[0] if key[3] == "locust" else f"{key[0]} ({key[3]})",
        key[1],
        str(key[2]),
        fmt(rps_a),
        fmt(rps_b),
        change(rps_a, rps_b),
        fmt(p95_a),
        fmt(p95_b),
        change(p95_a, p95_b),
        ", ".join(_flags(a, b)),
    ]


def _differences(run_a: Run, run_b: Run) -> list[str]:
    return [f"- {name}: A {read(run_a)}, B {read(run_b)}" for name, read in SETTINGS if read(run_a) != read(run_b)]


def _ordered(keys_a: list[Key], keys_b: list[Key]) -> list[Key]:
    """Every group of either run: by scenario, then server, in the order first seen (A's plan first), then users."""
    keys = list(dict.fromkeys([*keys_a, *keys_b]))
    scenarios = list(dict.fromkeys(key[1] for key in keys))
    servers = list(dict.fromkeys(key[0] for key in keys))
    return sorted(keys, key=lambda key: (scenarios.index(key[1]), servers.index(key[0]), key[2], key[3]))


def compare(a: Path, b: Path) -> str:
    """A Markdown comparison of run folders ``a`` and ``b`` (B's change relative to A)."""
    results_a, results_b = load_results(a), load_results(b)
    rows_a = {row.key: row for row in summarize(results_a)}
    rows_b = {row.key: row for row in summarize(results_b)}
    keys = _ordered(list(rows_a), list(rows_b))
    lines = [
        f"- **A**: {a} (run {results_a.run.id}, started {results_a.run.started_at})",
        f"- **B**: {b} (run {results_b.run.id}, started {results_b.run.started_at})",
        "",
    ]
    differences = _differences(results_a.run, results_b.run)
    if differences:
        lines += ["The runs were not set up alike, so some changes may come from the setup:", "", *differences, ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|---|---|--:|" + "--:|" * 6 + "---|")
    lines += ["| " + " | ".join(_line(key, rows_a.get(key), rows_b.get(key))) + " |" for key in keys]
    lines += ["", f"{len(keys)} server {TIMES} scenario {TIMES} users groups; Δ is B relative to A."]
    return "\n".join(lines) + "\n"

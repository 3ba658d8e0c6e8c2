"""Two runs side by side: ``python -m labbench compare RUN_A RUN_B``.

The answer is a Markdown table with one line per server x scenario x users
found in either run, so it pastes into an issue or a pull request as it is.
Only reads: neither run folder is written to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labbench.report import fmt, load_results
from labbench.stats import TIMES, Row, summarize

# What makes two runs' numbers comparable; a difference is listed above the table.
SETTINGS = [
    ("mode", lambda run: run.get("mode")),
    ("limits", lambda run: run.get("limits")),
    ("measured seconds", lambda run: run["plan"]["duration_s"]),
    ("warm-up seconds", lambda run: run["plan"]["warmup_s"]),
    ("Locust processes", lambda run: run["plan"]["locust_processes"]),
    ("CPU", lambda run: (run.get("machine") or {}).get("cpu_model")),
    ("CPU count", lambda run: (run.get("machine") or {}).get("cpu_count")),
]
Key = tuple[str, str, int]  # server, scenario, users
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
        if row is not None and row.status != "ok":
            flags.append(f"{label}: {row.status}")
    return flags


def _line(key: Key, a: Row | None, b: Row | None) -> list[str]:
    rps_a = a.rps.median if a and a.rps else None
    rps_b = b.rps.median if b and b.rps else None
    p95_a, p95_b = a.p95 if a else None, b.p95 if b else None
    return [
        key[0],
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


def _differences(run_a: dict[str, Any], run_b: dict[str, Any]) -> list[str]:
    return [f"- {name}: A {read(run_a)}, B {read(run_b)}" for name, read in SETTINGS if read(run_a) != read(run_b)]


def _ordered(keys_a: list[Key], keys_b: list[Key]) -> list[Key]:
    """Every group of either run: by scenario, then server, in the order first seen (A's plan first), then users."""
    keys = list(dict.fromkeys([*keys_a, *keys_b]))
    scenarios = list(dict.fromkeys(key[1] for key in keys))
    servers = list(dict.fromkeys(key[0] for key in keys))
    return sorted(keys, key=lambda key: (scenarios.index(key[1]), servers.index(key[0]), key[2]))


def compare(a: Path, b: Path) -> str:
    """A Markdown comparison of run folders ``a`` and ``b`` (B's change relative to A)."""
    results_a, results_b = load_results(a), load_results(b)
    rows_a = {row.key: row for row in summarize(results_a)}
    rows_b = {row.key: row for row in summarize(results_b)}
    keys = _ordered(list(rows_a), list(rows_b))
    lines = [
        f"- **A**: {a} (run {results_a['run'].get('id')}, started {results_a['run'].get('started_at')})",
        f"- **B**: {b} (run {results_b['run'].get('id')}, started {results_b['run'].get('started_at')})",
        "",
    ]
    differences = _differences(results_a["run"], results_b["run"])
    if differences:
        lines += ["The runs were not set up alike, so some changes may come from the setup:", "", *differences, ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|---|---|--:|" + "--:|" * 6 + "---|")
    lines += ["| " + " | ".join(_line(key, rows_a.get(key), rows_b.get(key))) + " |" for key in keys]
    lines += ["", f"{len(keys)} server {TIMES} scenario {TIMES} users groups; Δ is B relative to A."]
    return "\n".join(lines) + "\n"

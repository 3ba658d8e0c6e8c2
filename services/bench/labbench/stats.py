"""The numbers a report derives from a run's cells (docs/results-schema.md, "Derived in reports").

Everything here is a pure function of ``results.json``'s content: no files, no
clock, so the report and ``compare`` agree and the tests can pin every value.

Groups are server x scenario x users. Only ``ok`` cells feed the numbers; the
other cells of a group are counted by status, so a group whose every cell
failed still gets a row, showing its statuses and no numbers (never zeros).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labbench import BenchError
from labbench.results import Cell, Latency, Results

MIB = 1024 * 1024
TIMES = "\N{MULTIPLICATION SIGN}"

# Above this coefficient of variation of req/s over repetitions, the median
# is too noisy to rank servers on without a second look.
NOISY_CV = 0.10


@dataclass(frozen=True)
class Spread:
    """A median with the smallest and largest value it summarises."""

    median: float
    low: float
    high: float


def spread(values: Sequence[float]) -> Spread:
    """Median with the min and max of ``values``; one value is its own median and range."""
    if not values:
        raise ValueError("spread() of no values")
    return Spread(statistics.median(values), min(values), max(values))


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation ÷ mean; None with fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    if mean == 0:
        return None
    return statistics.stdev(values) / mean


def effective_concurrency(rps: float, mean_latency_ms: float) -> float:
    """Little's law: the average number of requests in flight, L = λ·W."""
    return rps * mean_latency_ms / 1000


def parse_cpus(text: str | None) -> float | None:
    """``run.limits.cpus`` ("1", "1.5") as a number; None when the run recorded none."""
    if text is None:
        return None
    try:
        cpus = float(text)
    except ValueError:
        raise BenchError(f"run.limits.cpus must be a number of CPUs such as '1' or '1.5', not {text!r}") from None
    if not cpus > 0:
        raise BenchError(f"run.limits.cpus must be more than 0, not {text!r}")
    return cpus


def ideal_rps(kind: str, work_ms: float | None, users: int, slots: int | None, cpus: float | None) -> float | None:
    """The most req/s a perfect server could give, or None where no bound applies.

    ``io``: requests only wait, so the server serves as many at once as it has
    slots (or users, whichever is fewer; no slots limit means users), each
    taking ``work_ms``. ``cpu``: the CPUs are the limit, whatever the slots.
    The baseline does no measured work, so it has no bound; neither does a
    scenario without work or a ``cpu`` run without a CPU limit.
    """
    if not work_ms or kind not in ("io", "cpu"):
        return None
    seconds = work_ms / 1000
    if kind == "io":
        return (users if slots is None else min(slots, users)) / seconds
    return None if cpus is None else cpus / seconds


def efficiency(rps: float | None, ideal: float | None) -> float | None:
    """Achieved ÷ ideal req/s, as a fraction; None when either is unknown."""
    if rps is None or not ideal:
        return None
    return rps / ideal


@dataclass(frozen=True)
class Row:
    """One server x scenario x users group, with every derived column.

    Measurements are None when the group has no ``ok`` cell (see ``statuses``)
    or when the cells did not record what they need (e.g. no ``/_lab/usage``).
    """

    server: str
    scenario: str
    users: int
    kind: str
    work_ms: float | None
    planned: int  # repetitions the plan asked for
    repetitions: int  # ok cells
    statuses: dict[str, int] = field(default_factory=dict)  # non-ok status → cells
    rps: Spread | None = None
    rps_cv: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max_ms: float | None = None
    failure_pct: float | None = None
    req_per_cpu_s: float | None = None
    memory_mib: float | None = None
    effective_concurrency: float | None = None
    ideal: float | None = None
    efficiency: float | None = None
    loadgen_bound: bool = False

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.server, self.scenario, self.users)

    @property
    def measured(self) -> bool:
        return self.rps is not None

    @property
    def status(self) -> str:
        """``ok``; else the other statuses with counts (``server-died x1``), or ``not run`` without any cell."""
        if not self.statuses:
            return "ok" if self.repetitions else "not run"
        return ", ".join(f"{name} {TIMES}{count}" for name, count in sorted(self.statuses.items()))

    @property
    def ideal_concurrency(self) -> float | None:
        """Requests the ideal server would have in service at once: ideal req/s · work time."""
        if self.ideal is None or not self.work_ms:
            return None
        return self.ideal * self.work_ms / 1000


def _median_of(cells: Sequence[Cell], read: Callable[[Cell], float | None]) -> float | None:
    values = [value for value in map(read, cells) if value is not None]
    return statistics.median(values) if values else None


def _latency(cell: Cell) -> Latency:
    """An ok cell's latencies (results.Cell makes sure an ok cell has them)."""
    if cell.latency_ms is None:
        raise ValueError(f"cell {cell.order} has no latency_ms")
    return cell.latency_ms


def _number(value: float | None) -> float:
    """A measurement every ok cell has (results.Cell makes sure of it)."""
    if value is None:
        raise ValueError("an ok cell lacks a measurement")
    return value


def _cell_concurrency(cell: Cell) -> float | None:
    # Locust reports no mean (null) for a window without a single request.
    mean = _latency(cell).mean
    return None if mean is None else effective_concurrency(_number(cell.rps), mean)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _measure(cells: Sequence[Cell], ideal: float | None) -> dict[str, Any]:
    """The derived columns of a group's ``ok`` cells (at least one)."""
    rps_values = [_number(cell.rps) for cell in cells]
    rps = spread(rps_values)
    requests = sum(_number(cell.requests) for cell in cells)
    failures = sum(_number(cell.failures) for cell in cells)
    # Pooled over the repetitions that measured CPU: a ratio of sums weights
    # each request equally, which a median of per-cell ratios would not.
    with_cpu = [cell for cell in cells if cell.server_cpu_s]
    peaks = [cell.server_memory_peak_bytes for cell in cells if cell.server_memory_peak_bytes is not None]
    return {
        "rps": rps,
        "rps_cv": coefficient_of_variation(rps_values),
        "p50": _median_of(cells, lambda cell: _latency(cell).p50),
        "p95": _median_of(cells, lambda cell: _latency(cell).p95),
        "p99": _median_of(cells, lambda cell: _latency(cell).p99),
        "max_ms": _median_of(cells, lambda cell: _latency(cell).max),
        "failure_pct": None if not requests else 100 * failures / requests,
        "req_per_cpu_s": _ratio(
            sum(_number(cell.requests) for cell in with_cpu), sum(_number(cell.server_cpu_s) for cell in with_cpu)
        ),
        "memory_mib": max(peaks) / MIB if peaks else None,
        "effective_concurrency": _median_of(cells, _cell_concurrency),
        "ideal": ideal,
        "efficiency": efficiency(rps.median, ideal),
    }


def _group_keys(results: Results) -> list[tuple[str, str, int]]:
    """Every group planned or measured: in the plan's order, then any the plan did not name."""
    plan = results.run.plan
    keys = [(server, scenario, users) for scenario in plan.scenarios for server in plan.servers for users in plan.users]
    seen = set(keys)
    for cell in results.cells:
        key = cell.group
        if key not in seen:
            seen.add(key)
            keys.append(key)
    return keys


def summarize(results: Results) -> list[Row]:
    """One :class:`Row` per server x scenario x users of a run, planned or measured."""
    groups: dict[tuple[str, str, int], list[Cell]] = {}
    for cell in results.cells:
        groups.setdefault(cell.group, []).append(cell)
    limits = results.run.limits
    cpus = parse_cpus(limits.cpus if limits else None)
    planned = results.run.plan.repetitions
    rows = []
    for server, scenario, users in _group_keys(results):
        cells = groups.get((server, scenario, users), [])
        ok = [cell for cell in cells if cell.ok]
        failed = [cell for cell in cells if not cell.ok]
        spec = results.scenarios.get(scenario)
        kind, work_ms = (spec.kind, spec.work_ms) if spec else ("baseline", None)
        info = results.servers.get(server)
        slots = info.slots if info else None
        ideal = ideal_rps(kind, work_ms, users, slots, cpus)
        rows.append(
            Row(
                server=server,
                scenario=scenario,
                users=users,
                kind=kind,
                work_ms=work_ms,
                planned=planned,
                repetitions=len(ok),
                statuses=dict(Counter(cell.status for cell in failed)),
                # Only the repetitions behind the numbers can make them suspect.
                loadgen_bound=any(cell.loadgen_bound for cell in ok),
                **(_measure(ok, ideal) if ok else {"ideal": ideal}),
            )
        )
    return rows


# A server that answers fast but wrongly must not win: Locust's req/s counts
# failed requests too. Above this failure rate a group cannot win.
MAX_WINNER_FAILURE_PCT = 1.0


@dataclass(frozen=True)
class Winner:
    """The fastest server of one scenario at one user count, and the next fastest."""

    scenario: str
    users: int
    row: Row
    runner_up: Row | None

    @property
    def margin(self) -> float | None:
        """Winner's median req/s ÷ the runner-up's; None without a runner-up that served anything."""
        if self.runner_up is None or not median_rps(self.runner_up):
            return None
        return median_rps(self.row) / median_rps(self.runner_up)

    @property
    def clear(self) -> bool:
        """Whether the winner's slowest repetition beat the runner-up's fastest."""
        if self.runner_up is None:
            return True
        return _spread(self.row).low > _spread(self.runner_up).high


def _spread(row: Row) -> Spread:
    if row.rps is None:
        raise ValueError(f"{row.key} has no measurement")
    return row.rps


def median_rps(row: Row) -> float:
    """A measured row's median req/s."""
    return _spread(row).median


def can_win(row: Row) -> bool:
    """Measured, with few enough failures that its req/s means answers."""
    return row.measured and (row.failure_pct or 0) <= MAX_WINNER_FAILURE_PCT


def winners(rows: Iterable[Row]) -> list[Winner]:
    """The highest median req/s per scenario and users, among the groups that :func:`can_win`.

    A scenario and user count where no group qualifies has no winner. Ties go to the
    group listed first (sorting is stable), so the choice never flips between renders.
    """
    by_case: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        by_case.setdefault((row.scenario, row.users), []).append(row)
    result = []
    for (scenario, users), case in by_case.items():
        ranked = sorted(filter(can_win, case), key=median_rps, reverse=True)
        if ranked:
            result.append(Winner(scenario, users, ranked[0], ranked[1] if len(ranked) > 1 else None))
    return result

"""The numbers a report derives from a run's cells (docs/results-schema.md, "Derived in reports").

Everything here is a pure function of ``results.json``'s content: no files, no
clock, so the report and ``compare`` agree and the tests can pin every value.

Groups are server x scenario x users x engine: two load generators' cells
are never summarised together. Only ``ok`` cells feed the numbers; the
other cells of a group are counted by status, so a group whose every cell
failed still gets a row, showing its statuses and no numbers (never zeros).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labbench.bottleneck import CLASSES, SERVER_BOUND
from labbench.bounds import effective_concurrency, efficiency, ideal_rps, parse_cpus
from labbench.results import Cell, Latency, Results

MIB = 1024 * 1024
TIMES = "\N{MULTIPLICATION SIGN}"

#: A cell's bottleneck when its results predate the classification (``bottleneck`` null).
NOT_CLASSIFIED = "not classified"

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
    engine: str
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
    #: Each bottleneck its ok repetitions had, with how many (labbench.bottleneck.CLASSES, or NOT_CLASSIFIED).
    bottlenecks: dict[str, int] = field(default_factory=dict)

    @property
    def server_bound(self) -> bool:
        """Measured, and the server itself (its CPU or its slots) was the limit in every ok repetition."""
        return bool(self.bottlenecks) and all(name in SERVER_BOUND for name in self.bottlenecks)

    @property
    def not_server_bound(self) -> list[str]:
        """The bottlenecks of its ok repetitions that were not the server's."""
        return [name for name in self.bottlenecks if name not in SERVER_BOUND]

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.server, self.scenario, self.users, self.engine)

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


def bottlenecks(cells: Iterable[Cell]) -> dict[str, int]:
    """How many of ``cells`` had each bottleneck, in the order of labbench.bottleneck.CLASSES."""
    counts = Counter(cell.bottleneck or NOT_CLASSIFIED for cell in cells)
    return {name: counts[name] for name in (*CLASSES, NOT_CLASSIFIED) if counts[name]}


def engines(results: Results) -> list[str]:
    """The engines a run's plan named, Locust first."""
    return ["locust", "wrk"] if results.run.plan.engine == "both" else [results.run.plan.engine]


def group_keys(results: Results) -> list[tuple[str, str, int, str]]:
    """Every group planned or measured: in the plan's order, then any the plan did not name."""
    plan = results.run.plan
    keys = [
        (server, scenario, users, engine)
        for scenario in plan.scenarios
        for server in plan.measured
        for users in plan.users
        for engine in engines(results)
    ]
    seen = set(keys)
    for cell in results.cells:
        key = cell.group
        if key not in seen:
            seen.add(key)
            keys.append(key)
    return keys


def summarize(results: Results) -> list[Row]:
    """One :class:`Row` per server x scenario x users of a run, planned or measured."""
    groups: dict[tuple[str, str, int, str], list[Cell]] = {}
    for cell in results.cells:
        groups.setdefault(cell.group, []).append(cell)
    limits = results.run.limits
    cpus = parse_cpus(limits.cpus if limits else None)
    planned = results.run.plan.repetitions
    rows = []
    for server, scenario, users, engine in group_keys(results):
        cells = groups.get((server, scenario, users, engine), [])
        ok = [cell for cell in cells if cell.ok]
        failed = [cell for cell in cells if not cell.ok]
        spec = results.scenarios.get(scenario)
        kind, work_ms = (spec.kind, spec.work_ms) if spec else ("baseline", None)
        info = results.servers.get(server)
        slots = info.slots if info else None
        # A target's slots and CPUs are not the lab's to know.
        ideal = (
            None
            if server in results.run.plan.targets
            else ideal_rps(kind, work_ms, users, slots, cpus, spec.cpu_ms if spec else None)
        )
        rows.append(
            Row(
                server=server,
                scenario=scenario,
                users=users,
                kind=kind,
                engine=engine,
                work_ms=work_ms,
                planned=planned,
                repetitions=len(ok),
                statuses=dict(Counter(cell.status for cell in failed)),
                # Only the repetitions behind the numbers can make them suspect.
                loadgen_bound=any(cell.loadgen_bound for cell in ok),
                bottlenecks=bottlenecks(ok),
                **(_measure(ok, ideal) if ok else {"ideal": ideal}),
            )
        )
    return rows


# A server that answers fast but wrongly must not win: Locust's req/s counts
# failed requests too. Above this failure rate a group cannot win.
MAX_WINNER_FAILURE_PCT = 1.0


@dataclass(frozen=True)
class Winner:
    """The fastest server of one scenario at one user count (by one engine), and the next fastest."""

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
    """Measured, server-bound in every repetition (so its req/s is the server's, not
    the load generator's or the machine's), with few enough failures that it means answers."""
    return row.measured and row.server_bound and (row.failure_pct or 0) <= MAX_WINNER_FAILURE_PCT


def winners(rows: Iterable[Row]) -> list[Winner]:
    """The highest median req/s per scenario and users (and engine), among the groups that :func:`can_win`.

    A scenario and user count where no group qualifies has no winner (:func:`no_winner`
    says why), and neither has one where a row that was not server-bound measured at
    least as much as the best that was: its own ceiling is unknown and may be higher, so
    crowning a slower row would be the load generator's verdict, not the servers'.
    Ties go to the group listed first (sorting is stable), so the choice never flips
    between renders. One engine's req/s is never ranked against the other's.
    """
    by_case: dict[tuple[str, int, str], list[Row]] = {}
    for row in rows:
        by_case.setdefault((row.scenario, row.users, row.engine), []).append(row)
    result = []
    for (scenario, users, _engine), case in by_case.items():
        ranked = sorted(filter(can_win, case), key=median_rps, reverse=True)
        if ranked and _unbounded_rival(case, median_rps(ranked[0])) is None:
            result.append(Winner(scenario, users, ranked[0], ranked[1] if len(ranked) > 1 else None))
    return result


def _unbounded_rival(case: Iterable[Row], best: float) -> Row | None:
    """The fastest row of ``case`` that was not server-bound and measured at least ``best``."""
    rivals = [row for row in case if row.measured and not row.server_bound and median_rps(row) >= best]
    return max(rivals, key=median_rps, default=None)


def no_winner(case: Sequence[Row]) -> str:
    """Why one scenario and user count (its rows) has no winner."""
    measured = [row for row in case if row.measured]
    if not measured:
        return "no server was measured"
    best = max((median_rps(row) for row in measured if can_win(row)), default=None)
    if best is not None and (rival := _unbounded_rival(measured, best)) is not None:
        return (
            f"the fastest row, {rival.server}, was not server-bound (its limit was "
            f"{', '.join(rival.not_server_bound)}): its ceiling is unknown, so no slower row can be crowned"
        )
    bound = [row for row in measured if row.server_bound]
    if not bound:
        seen = sorted({name for row in measured for name in row.not_server_bound})
        if seen == [NOT_CLASSIFIED]:
            return (
                "not classified by bottleneck (measured before labbench classified cells), "
                "so no row is known to be the server's own number"
            )
        return (
            f"no row was server-bound (its limit was {', '.join(seen)}, never the server's CPU or slots "
            "in every repetition), so the numbers may not be the servers'"
        )
    return f"no server-bound row completed it with at most {MAX_WINNER_FAILURE_PCT:g}% failures"

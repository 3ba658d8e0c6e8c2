"""What the report says in words: the warnings, the headlines, and the method, all from the run's data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labbench import faults, faulttimeline
from labbench.report.format import LG_LABEL, fmt, fmt_failures, fmt_pct, group_name, users_text
from labbench.results import Cell, Limits, Results, Run, ScenarioInfo
from labbench.stats import MAX_WINNER_FAILURE_PCT, NOISY_CV, TIMES, Row, Winner, median_rps
from labcore.defaults import LOADGEN_HOT as LOADGEN_BOUND_AT

# --- what a reader must not miss ------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One warning: ``kind`` is status, loadgen, failures, noise or run."""

    kind: str
    text: str


def _repetitions(cells: Sequence[Cell]) -> str:
    numbers = sorted(cell.repetition for cell in cells)
    return f"repetition{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}"


def _cell_notices(row: Row, cells: Sequence[Cell]) -> list[Notice]:
    """A group's failed cells, one notice per status and error, and its load-generator-bound ones."""
    found = []
    failed: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        if not cell.ok:
            failed.setdefault((cell.status, cell.error or "no detail recorded"), []).append(cell)
    for (status, error), same in failed.items():
        found.append(Notice("status", f"{group_name(row)}: {status} in {_repetitions(same)}: {error}"))
    hot = [cell for cell in cells if cell.ok and cell.loadgen_bound]
    if hot:
        cpu = [cell.loadgen_cpu for cell in hot if cell.loadgen_cpu is not None]
        used = f"used up to {fmt_pct(max(cpu))} of its CPU" if cpu else "was flagged as busy"
        found.append(
            Notice(
                "loadgen",
                f"{group_name(row)}: the load generator {used} in {_repetitions(hot)}; "
                "the server may be faster than measured.",
            )
        )
    return found


def notices(results: Results, rows: Sequence[Row]) -> list[Notice]:
    """Everything that limits what the numbers mean, most serious first."""
    run, plan = results.run, results.run.plan
    found: list[Notice] = []
    if not run.finished_at:
        planned = len(rows) * plan.repetitions
        found.append(
            Notice(
                "run",
                f"The run has not finished (no finished_at): it is still going or was interrupted; "
                f"{len(results.cells)} of {planned} planned cells are in.",
            )
        )
    if plan.quick:
        found.append(Notice("run", "A quick run: short cells, meant as a smoke test, not for conclusions."))
    by_group: dict[tuple[str, str, int], list[Cell]] = {}
    for cell in results.cells:
        by_group.setdefault(cell.group, []).append(cell)
    per_row = [_cell_notices(row, by_group.get(row.key, [])) for row in rows]
    found += [Notice("status", f"{group_name(row)}: not run.") for row in rows if row.status == "not run"]
    found += [notice for notes in per_row for notice in notes if notice.kind == "status"]
    found += [notice for notes in per_row for notice in notes if notice.kind == "loadgen"]
    found += [
        Notice("failures", f"{group_name(row)}: {fmt_failures(row)} of requests failed.")
        for row in rows
        if row.failure_pct
    ]
    found += [
        Notice("noise", f"{group_name(row)}: req/s varies by {fmt_pct(row.rps_cv)} (CV) across repetitions.")
        for row in rows
        if row.rps_cv is not None and row.rps_cv > NOISY_CV
    ]
    return found


# --- headlines ----------------------------------------------------------------------------


def winner_detail(winner: Winner) -> str:
    """The user count, the winner and its req/s, by how much it won, and anything that qualifies it."""
    row = winner.row
    parts = [f"{users_text(winner.users)}: {row.server}, {fmt(median_rps(row))} req/s"]
    if winner.runner_up is not None:
        margin = winner.margin
        versus = f"{margin:.2f}{TIMES} {winner.runner_up.server}" if margin else f"ahead of {winner.runner_up.server}"
        parts.append(versus if winner.clear else f"{versus}, within the spread of repetitions")
    if row.statuses:
        parts.append(f"though {row.status} among its repetitions")
    if row.loadgen_bound:
        parts.append(f"{LG_LABEL}: may be faster")
    return ", ".join(parts)


@dataclass(frozen=True)
class Headline:
    """What a reader should take from one scenario, before any number."""

    scenario: str
    winners: list[Winner]  # one per user count that has one, fewest users first

    @property
    def leader(self) -> Winner | None:
        """The winner under the heaviest load: the one a headline names."""
        return self.winners[-1] if self.winners else None

    @property
    def sentence(self) -> str:
        if self.leader is None:
            return f"No server completed {self.scenario} with at most {MAX_WINNER_FAILURE_PCT:g}% failures."
        name = self.leader.row.server
        if len({winner.row.server for winner in self.winners}) > 1:
            return (
                f"{name} is the fastest at {self.scenario} with {users_text(self.leader.users)}; "
                "with fewer users another server leads."
            )
        where = "at every user count" if len(self.winners) > 1 else f"with {users_text(self.leader.users)}"
        return f"{name} is the fastest at {self.scenario} {where}."

    @property
    def loadgen_bound(self) -> bool:
        return any(winner.row.loadgen_bound for winner in self.winners)

    @property
    def details(self) -> list[str]:
        """One line per user count that has a winner: :func:`winner_detail`."""
        return [winner_detail(winner) for winner in self.winners]


def headlines(scenarios: Sequence[str], found: Sequence[Winner]) -> list[Headline]:
    return [
        Headline(scenario, sorted((w for w in found if w.scenario == scenario), key=lambda winner: winner.users))
        for scenario in scenarios
    ]


# --- methodology, from run.plan, run.limits, servers and scenarios --------------------------


def _limits_text(limits: Limits | None) -> str:
    """The limits' plain values (cpus, memory, any note); anything nested stays in results.json."""
    parts = [
        f"{key.replace('_', ' ')} {value}"
        for key, value in (dict(limits) if limits else {}).items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    ]
    return ", ".join(parts) or "none recorded"


def _ideal_text(name: str, spec: ScenarioInfo | None, cpus: str | None) -> str:
    work_ms = spec.work_ms if spec else None
    kind = spec.kind if spec else None
    if kind == "io" and work_ms:
        return f"{name} (io, {work_ms:g} ms asleep per request): min(slots, users) ÷ {work_ms / 1000:g} s"
    if kind == "cpu" and work_ms:
        bound = f"{cpus} CPU ÷ {work_ms / 1000:g} s" if cpus else "no ideal, as the run recorded no CPU limit"
        return f"{name} (cpu, {work_ms:g} ms of CPU per request): {bound}"
    if kind == "baseline":
        return f"{name} (baseline): no ideal; it measures the server's own overhead"
    return f"{name} ({kind}): no ideal"


def _where(run: Run) -> str:
    return "its own Compose container" if run.mode == "docker" else "native processes on loopback"


def methodology(results: Results) -> list[str]:
    """The method, one sentence per point, as this run's data records it."""
    run, plan = results.run, results.run.plan
    servers, scenarios, users = plan.servers, plan.scenarios, plan.users
    processes = plan.locust_processes
    limits = run.limits
    cpus = limits.cpus if limits else None
    bound_at = LOADGEN_BOUND_AT if run.loadgen_bound_at is None else run.loadgen_bound_at
    first = [
        f"One server at a time, in {_where(run)}: {len(servers)} servers, "
        + ("each under identical limits" if limits and limits.identical else "under limits that DIFFER")
        + f" ({_limits_text(limits)}).",
    ]
    cells = [
        f"Each cell is one server, scenario and user count: a {plan.warmup_s:g} s warm-up that is not "
        f"counted, then a fixed {plan.duration_s:g} s measured window.",
        f"Users never wait between requests (a closed loop), so the user count is the offered concurrency: "
        f"{', '.join(map(str, users))} users.",
        f"{plan.repetitions} repetitions of each of the {len(servers) * len(scenarios) * len(users)} combinations, "
        f"in rounds of one repetition each, every round in its own shuffled order (seed {plan.seed}), so drift "
        "over time spreads over every server; "
        "tables show the median with the lowest and highest repetition.",
        "Every response is verified: a wrong body or status counts as a failure, and a server that answers wrongly "
        "cannot win.",
        f"The load generator ran {processes} Locust process{'es' if processes != 1 else ''}; a cell is flagged "
        f"{LG_LABEL} when they used ≥ {bound_at:.0%} of their CPU, "
        "since the limit may then be Locust's, not the server's.",
        "Server CPU seconds and memory come from the lab's /_lab/usage instrument (its cgroup, or its process group "
        "natively), read at both ends of each measured window; memory is the largest peak, which counts from "
        "the server's start and so can include earlier cells of the same server.",
        "Effective concurrency is Little's law, req/s times mean latency: the requests in flight on average.",
        "Ideal req/s, and efficiency = req/s ÷ ideal: "
        + "; ".join(_ideal_text(name, results.scenarios.get(name), cpus) for name in scenarios)
        + ".",
    ]
    return first + (cells if scenarios else []) + fault_methodology(results)


def fault_methodology(results: Results) -> list[str]:
    """How the fault experiments ran, for the report's methodology list."""
    if not results.run.plan.faults:
        return []
    return [
        f"Each fault experiment runs {faults.USERS} Locust users against one server, injects the fault "
        f"{faults.LEAD_S:g} s in, and keeps Locust's per-second history around it (one-second resolution): "
        "ok/s before is the mean of the seconds before the fault, after is the mean from its second second on.",
        "Faults reach the server as they would reach a real one: SIGKILL of the worker that serves /_lab/fault/crash, "
        "SIGTERM to the server's top process (/_lab/fault/stop, what `docker compose stop` sends), raw sockets that "
        "send a request one byte a second, one request longer than the server's timeout, one that blocks its "
        "worker in C beside others pinned to it by keep-alive, and the server's own max-requests. "
        "The runner then watches the server's census (/_lab/whoami: top process and worker pids).",
        f"A second with fewer than {faulttimeline.OUTAGE:.0%} of the usual successes counts as a second "
        "without service. "
        "After each experiment a server that is down is brought back before the next cell "
        "(natively by the runner, in Docker by the restart policy).",
    ]

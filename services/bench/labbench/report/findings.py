"""What the report says in words: the warnings, the headlines, and the method, all from the run's data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labbench import faults, faulttimeline
from labbench.report.format import (
    LG_LABEL,
    NSB_LABEL,
    fmt,
    fmt_bottlenecks,
    fmt_failures,
    fmt_pct,
    group_name,
    users_text,
)
from labbench.results import Cell, Limits, Plan, Results, Run, ScenarioInfo
from labbench.stats import NOISY_CV, NOT_CLASSIFIED, TIMES, Row, Winner, median_rps, no_winner
from labcore import defaults, protocol
from labcore.defaults import LOADGEN_HOT as LOADGEN_BOUND_AT

# --- what a reader must not miss ------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One warning: ``kind`` is status, loadgen, bottleneck, failures, noise or run."""

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
    unclassified = [row for row in rows if row.measured and set(row.bottlenecks) == {NOT_CLASSIFIED}]
    found += [
        Notice(
            "bottleneck",
            f"{group_name(row)}: {NSB_LABEL} ({fmt_bottlenecks(row)}); its req/s may not be the server's, "
            "and it cannot win.",
        )
        for row in rows
        if row.measured and row.not_server_bound and row not in unclassified
    ]
    if unclassified:
        found.append(
            Notice(
                "bottleneck",
                f"{len(unclassified)} measured group{'s' if len(unclassified) != 1 else ''} "
                "not classified by bottleneck (results made before labbench measured one): "
                "none of them is known to be server-bound, so none can win.",
            )
        )
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
    by = "" if row.engine == "locust" else f" by {row.engine}"
    parts = [f"{users_text(winner.users)}{by}: {row.server}, {fmt(median_rps(row))} req/s"]
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
    #: (users, why) for each user count without a winner (stats.no_winner).
    unwon: list[tuple[int, str]] = field(default_factory=list)

    @property
    def leader(self) -> Winner | None:
        """The winner under the heaviest load: the one a headline names."""
        return self.winners[-1] if self.winners else None

    @property
    def sentence(self) -> str:
        if self.leader is None:
            # Why is said per user count (unwon_details), as it may differ between them.
            return f"No winner at {self.scenario}." if self.unwon else f"No winner at {self.scenario}: not measured."
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

    @property
    def unwon_details(self) -> list[str]:
        """One line per user count without a winner, saying why."""
        return [f"{users_text(users)}: no winner, {why}" for users, why in self.unwon]


def headlines(scenarios: Sequence[str], found: Sequence[Winner], rows: Sequence[Row] = ()) -> list[Headline]:
    """Each scenario's winners, and why any user count of ``rows`` has none."""
    result = []
    for scenario in scenarios:
        won = sorted((w for w in found if w.scenario == scenario), key=lambda winner: winner.users)
        counts = sorted({row.users for row in rows if row.scenario == scenario} - {w.users for w in won})
        unwon = [
            (users, no_winner([row for row in rows if row.scenario == scenario and row.users == users]))
            for users in counts
        ]
        result.append(Headline(scenario, won, unwon))
    return result


# --- methodology, from run.plan, run.limits, servers and scenarios --------------------------


def _limits_text(limits: Limits | None) -> str:
    """The limits' plain values (cpus, memory, any note); anything nested stays in results.json."""
    parts = [
        f"{key.replace('_', ' ')} {value}"
        for key, value in (dict(limits) if limits else {}).items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    ]
    return ", ".join(parts) or "none recorded"


def _placement_text(run: Run) -> list[str]:
    """Where each side could run, as each reported it (nothing for runs that did not record it)."""
    placement = run.placement
    if placement is None:
        return []
    cpus = sorted({tuple(found) for found in placement.servers.values() if found is not None})
    servers = " or ".join(",".join(map(str, found)) for found in cpus) or "unknown"
    loadgen = ",".join(map(str, placement.loadgen))
    verdict = {True: "on separate CPUs", False: "sharing CPUs", None: "unknown whether on separate CPUs"}
    return [
        f"The servers could run on CPUs {servers} and the load generator on CPUs {loadgen}: "
        f"{verdict[placement.disjoint]}."
    ]


#: Why a scenario of the user's own app has no ideal (LAB_APP_SCENARIOS).
NO_IDEAL_USER = "no ideal bound: the work of this request is unknown to the lab"
#: Why a target's server CPU and memory are blank.
UNKNOWN_USAGE = f"unknown: the target does not expose {protocol.PREFIX}/usage"


def _targets_text(plan: Plan, cells: list[Cell]) -> list[str]:
    """What the run knows of each target outside the Compose project (--target-url)."""
    sentences = []
    for name, url in plan.targets.items():
        mine = [cell for cell in cells if cell.server == name and cell.ok]
        usage = (
            "its server CPU and memory come from its own usage endpoint"
            if any(cell.server_cpu_s is not None for cell in mine)
            else f"its server CPU and memory are {UNKNOWN_USAGE}"
        )
        sentences.append(
            f"{name} is a target outside this Compose project, at {url}: its model, slots and limits are unknown "
            f"to the lab, so it has no ideal; {usage}."
        )
    return sentences


def _ideal_text(name: str, spec: ScenarioInfo | None, cpus: str | None) -> str:
    work_ms = spec.work_ms if spec else None
    kind = spec.kind if spec else None
    if kind == "io" and work_ms:
        return f"{name} (io, {work_ms:g} ms asleep per request): min(slots, users) ÷ {work_ms / 1000:g} s"
    if kind == "cpu" and work_ms:
        bound = f"{cpus} CPU ÷ {work_ms / 1000:g} s" if cpus else "no ideal, as the run recorded no CPU limit"
        return f"{name} (cpu, {work_ms:g} ms of CPU per request): {bound}"
    if kind == "mixed" and spec and work_ms:
        cpu_ms = spec.cpu_ms or 0
        by_cpu = f" and {cpus} CPU ÷ {cpu_ms / 1000:g} s" if cpus and cpu_ms else ""
        return (
            f"{name} (mixed, {spec.io_ms} ms asleep then {cpu_ms} ms of CPU per request): the lower of "
            f"min(slots, users) ÷ {work_ms / 1000:g} s{by_cpu}"
        )
    if kind == "baseline":
        return f"{name} (baseline): no ideal; it measures the server's own overhead"
    if kind == "user":
        return f"{name} (user): {NO_IDEAL_USER}"
    return f"{name} ({kind}): no ideal"


def _engine_text(engine: str, processes: int) -> str:
    locust = f"{processes} Locust process{'es' if processes != 1 else ''}"
    wrk = f"wrk with {processes} thread{'s' if processes != 1 else ''}"
    wrk += " (one connection per user, its warm-up a run of its own)"
    if engine == "wrk":
        return f"The load generator was {wrk}"
    if engine == "both":
        return (
            f"Each cell was measured twice, back to back in a seeded random order: by {locust} and by {wrk}; "
            "rows measured by wrk say so, and the two engines' cells are never summarised together"
        )
    return f"The load generator ran {locust}"


def _where(run: Run) -> str:
    return "its own Compose container" if run.mode == "docker" else "native processes on loopback"


def methodology(results: Results) -> list[str]:
    """The method, one sentence per point, as this run's data records it."""
    run, plan = results.run, results.run.plan
    servers, scenarios, users = plan.measured, plan.scenarios, plan.users
    processes = plan.locust_processes
    limits = run.limits
    cpus = limits.cpus if limits else None
    bound_at = LOADGEN_BOUND_AT if run.loadgen_bound_at is None else run.loadgen_bound_at
    first = [
        f"One server at a time, in {_where(run)}: {len(servers)} servers, "
        + ("each under identical limits" if limits and limits.identical else "under limits that DIFFER")
        + f" ({_limits_text(limits)}).",
        *_placement_text(run),
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
        (
            _engine_text(plan.engine, processes)
            + f"; a cell is flagged {LG_LABEL} when the load generator used ≥ {bound_at:.0%} of its CPU, "
            if not plan.locust_workers
            else f"The load came from {plan.locust_workers} Locust workers under a master in the runner, each "
            f"reporting its own CPU; a cell is flagged {LG_LABEL} when the busiest of them used ≥ {bound_at:.0%} "
            "of its CPU, "
        )
        + "since the limit may then be its own, not the server's.",
        "Server CPU seconds and memory come from the lab's /_lab/usage instrument (its cgroup, or its process group "
        "natively), read at both ends of each measured window; memory is the largest peak, which counts from "
        "the server's start and so can include earlier cells of the same server.",
        "Effective concurrency is Little's law, req/s times mean latency: the requests in flight on average.",
        "Each ok cell gets the bottleneck that set its number, by the first rule that holds: "
        f"another engine got ≥ 1/{defaults.CROSSCHECK_LOW:g} of its req/s from the same server (load-generator); "
        f"server CPU ≥ {defaults.SERVER_CPU_HOT:.0%} of its limit (server-cpu); an I/O scenario (or a /mixed "
        "split whose slots bind before its CPU) with requests in service (Little's law) "
        f"≥ {defaults.SLOTS_FULL:.0%} of the server's slots (slots); "
        f"load generator CPU ≥ {defaults.LOADGEN_HOT:.0%} (load-generator); the whole machine's CPU "
        f"≥ {defaults.MACHINE_BUSY:.0%} busy, from /proc/stat (machine); else unexplained. "
        "Only rows whose every repetition was server-cpu or slots can win.",
        "Ideal req/s, and efficiency = req/s ÷ ideal: "
        + "; ".join(_ideal_text(name, results.scenarios.get(name), cpus) for name in scenarios)
        + ".",
    ]
    return first + (cells if scenarios else []) + _targets_text(plan, results.cells) + fault_methodology(results)


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

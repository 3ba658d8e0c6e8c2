"""``labbench capacity``: each server's capacity at a latency SLO, under an open model.

For each server × scenario (× repetition), Locust offers a fixed arrival
rate: every user starts a request every ``pace`` seconds on its own
schedule, from a random phase (the locustfile's ``--pace``), and there are enough users that
none is still busy when its next start is due: users = rate × the p99 budget
× :data:`labcore.defaults.CAPACITY_USER_HEADROOM`. The rate starts at half
the series' bound (its slots ÷ the work for io, its CPUs ÷ the CPU per
request for cpu, ``--max-rps`` where none applies) and goes up geometrically
until a step breaks the SLO (down, if the first one did), then is bisected
between the highest step that held and the lowest that broke (labbench.knee).
Each step measures at least ``--min-samples`` requests, so that its p99 is
not its slowest request, and starts only once the server answers the
series' own request within the SLO (:func:`settle`): an overloaded step
leaves a queue behind it, which the next step must not inherit.

Each step is a Locust run of its own (warm-up, then a measured window),
with the server's /usage, Locust's CPU and the host's /proc/stat read around
the window, so that every step carries its bottleneck class
(labbench.bottleneck) and a knee set by the load generator is said to be so.

Locust times a request from when it is sent, not from when it was due:
where a user falls behind its schedule, the wait before the send is not in
the latency (coordinated omission). Such steps are flagged ``behind``: the
offered rate was not achieved while the server was not saturated, or the
users were all busy (Little's law).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labbench import BenchError, bottleneck, bounds, knee, locustrun, metadata
from labbench.appclient import AppClient
from labbench.capacitymodels import Capacity, CapacitySettings, Step
from labbench.locustrun import Load
from labbench.results import Plan, Results, Run, save
from labbench.runner import new_run_folder, now
from labbench.targets import ComposeTargets, NativeTargets, Targets
from labcore import defaults, matrix
from labcore.scenarios import SCENARIOS

#: A step whose users were this busy on average (Little's law) had none to spare.
USERS_BUSY = 0.9

#: Seconds a step costs beyond its warm-up and window (Locust's start and stop,
#: the usage reads): its starts were 5 s apart with a 1 s warm-up and a 3 s
#: window in the quick runs of 2026-12-01, natively and through Docker.
STEP_OVERHEAD_S = 1.0

#: Where the time estimate assumes each series' knee: at this share of its bound.
ESTIMATE_KNEE = 0.85

#: A knee set by these is not the server's: the load generator's CPU, or a host
#: saturated by other load (the 2-core machine shared with other sessions on 2026-12-01:
#: host CPU ≥ 99 % busy, one request of 60 late by 120 ms, p99 over a 200 ms SLO at 17 req/s of 40),
#: or nothing measured (a gevent server's first step through Docker the same day: one slow
#: request of 30, server and Locust idle): only server-cpu and slots are the server's own.
NOT_THE_SERVER = tuple(name for name in bottleneck.CLASSES if name not in bottleneck.SERVER_BOUND)

#: Seconds a step waits at most for its server to drain what the steps before it left queued.
SETTLE_TIMEOUT_S = 30.0
#: Answers within the SLO in a row that say the server is drained: one could
#: have found the one free slot of a server whose other slots still work off a queue.
SETTLE_ANSWERS = 2


@dataclass(frozen=True)
class Series:
    """What one server × scenario × repetition is run with."""

    server: matrix.Server
    scenario: str
    repetition: int
    slo_p99_ms: float
    #: The most req/s its scenario allows the server (bounds.ideal_rps); None where no bound applies.
    bound_rps: float | None = None

    @property
    def slug(self) -> str:
        return f"{self.server.name}__{self.scenario}__r{self.repetition}"


def users_for(rate: float, slo_p99_ms: float) -> int:
    """Enough users that one is free at every scheduled start while requests stay within the budget."""
    return max(1, math.ceil(rate * slo_p99_ms / 1000 * defaults.CAPACITY_USER_HEADROOM))


def slo_for(scenario: str, settings: CapacitySettings, plan: Plan) -> float:
    if settings.slo_p99_ms is not None:
        return settings.slo_p99_ms
    return knee.default_slo_ms(SCENARIOS[scenario].work_ms(plan.io_ms, plan.cpu_ms))


def bound_for(server: matrix.Server, scenario: str, plan: Plan, cpus: float | None) -> float | None:
    """The scenario's bound for the server: its slots (unbounded: any number) ÷ the work, or its CPUs ÷ the CPU."""
    found = SCENARIOS[scenario]
    work = found.work_ms(plan.io_ms, plan.cpu_ms)
    cpu_ms = plan.cpu_ms if found.kind == "mixed" else None  # /mixed's CPU part is its own
    # An open model has no users to bound it: only the slots (none: no bound) and the CPUs.
    bound = bounds.ideal_rps(found.kind, work, math.inf, server.slots, cpus, cpu_ms)
    return None if bound is None or math.isinf(bound) else bound


def first_rate(series: Series, settings: CapacitySettings) -> float:
    return knee.first_rate(series.bound_rps, floor=settings.min_rps, ceiling=settings.max_rps)


def estimate_s(all_series: list[Series], plan: Plan) -> float:
    """How long the series should take, their knees assumed at ESTIMATE_KNEE of their bounds."""
    settings = plan.capacity
    assert settings is not None
    total = 0.0
    for series in all_series:
        knee_guess = ESTIMATE_KNEE * min(series.bound_rps or settings.max_rps, settings.max_rps)
        rates = knee.planned(
            knee_guess, start=first_rate(series, settings), factor=settings.factor, bisections=settings.bisections,
            ceiling=settings.max_rps, floor=settings.min_rps,
        )  # fmt: skip
        # A settled server answers its probes within the SLO.
        settle_s = SETTLE_ANSWERS * series.slo_p99_ms / 1000
        total += sum(
            plan.warmup_s + knee.window_s(rate, plan.duration_s, settings.min_samples) + STEP_OVERHEAD_S + settle_s
            for rate in rates
        )
    return total


def stop_timeout(slo_p99_ms: float) -> float:
    """How long Locust lets the requests in flight at the end of the window finish.

    Cut off, they would go uncounted: the slowest requests of the window
    missing from its p99, and the achieved rate short by the rate × latency
    in flight (at 10 req/s of 100 ms in a 3 s window, 3 % of the 5 % the SLO allows).
    """
    return round(slo_p99_ms / 1000 * defaults.CAPACITY_USER_HEADROOM + 1, 3)


def behind(step: Step) -> bool:
    """Whether the engine fell behind its schedule: the offered rate not
    achieved while the server was not saturated, or every user busy."""
    if step.achieved_rps is None or step.mean_ms is None:
        return False
    busy = step.achieved_rps * step.mean_ms / 1000 >= USERS_BUSY * step.users
    short = step.achieved_rps < defaults.CAPACITY_ACHIEVED_MIN * step.offered_rps
    return busy or (short and step.bottleneck not in ("server-cpu", "slots"))


def probe_path(scenario: str, plan: Plan) -> str:
    """What :func:`settle` asks: the series' own request (a GET), or ``/`` for ``mix``'s several."""
    found = SCENARIOS[scenario]
    return "/" if found.mix else found.request(plan.io_ms, plan.cpu_ms)


def settle(client: AppClient, path: str, slo_p99_ms: float, timeout_s: float = SETTLE_TIMEOUT_S) -> float | None:
    """Seconds until ``path`` was answered 200 within the SLO :data:`SETTLE_ANSWERS`
    times running; None if not within ``timeout_s``.

    Locust stops its users at the end of a step, but a server that fell behind
    still holds the connections it accepted and serves each in turn, and an
    upstream call still runs. Measured before that queue has drained, the
    next step measures the last one's overload. The likely case, on
    2026-12-01T203055Z (whose host was also 68 to 99 % busy): ``flask-dev`` on
    ``upstream``, buried at 500 req/s (p99 2.9 s), broke at every step down
    to 31.2 req/s (p99 1.5 s, 1.0 s, 520 ms, 480 ms); the full run, which
    waits, held 210.
    """
    start = time.monotonic()
    in_a_row = 0
    while (waited := time.monotonic() - start) < timeout_s:
        outcome = client.request(path, timeout=max(1.0, timeout_s - waited))
        # A fast error (a 503 from an overloaded server) is no sign of a drained queue.
        in_a_row = in_a_row + 1 if outcome.ok and outcome.seconds * 1000 <= slo_p99_ms else 0
        if in_a_row >= SETTLE_ANSWERS:
            return round(time.monotonic() - start, 2)
        if not outcome.result.isdigit() and outcome.seconds < 1.0:
            time.sleep(0.5)  # refused or reset at once: restarting, so no busy loop meanwhile
    return None


def check_slo(plan: Plan) -> None:
    """A p99 budget at or below a scenario's own work can never hold: say so before any step runs."""
    assert plan.capacity is not None
    budget = plan.capacity.slo_p99_ms
    for scenario in plan.scenarios:
        work = SCENARIOS[scenario].work_ms(plan.io_ms, plan.cpu_ms)
        if budget is not None and work is not None and budget <= work:
            raise BenchError(
                f"--slo-p99-ms {budget:g} is not above {scenario}'s own work of {work} ms:"
                " no request could meet it, so no step could hold"
            )


def run_step(series: Series, rate: float, plan: Plan, targets: Targets, folder: Path) -> Step:
    name = series.server.name
    users = users_for(rate, series.slo_p99_ms)
    raw = f"raw/{series.slug}__{rate:g}rps"
    head: dict[str, Any] = {"offered_rps": rate, "users": users, "started_at": now(), "raw": raw}
    # Settled first: /usage queues behind what an earlier step left, as any request does.
    head["settled_s"] = settle(targets.client(name), probe_path(series.scenario, plan), series.slo_p99_ms)
    if not targets.answers(name):
        return Step(**head, status="server-unavailable", error="did not answer /usage", broken=["server unavailable"])
    scenario = SCENARIOS[series.scenario]
    assert plan.capacity is not None
    window = knee.window_s(rate, plan.duration_s, plan.capacity.min_samples)
    load = Load(
        scenario.user_class, users, plan.warmup_s, window, plan.locust_processes, plan.io_ms, plan.cpu_ms,
        pace_s=users / rate, stop_timeout_s=stop_timeout(series.slo_p99_ms),
    )  # fmt: skip
    try:
        m = locustrun.measure(load, targets.urls[name], folder / raw)
    except locustrun.LocustFailed as error:
        return Step(**head, status="locust-error", error=str(error), broken=["the load generator failed"])
    before, after = m.usage_before or {}, m.usage_after or {}
    died = m.usage_after is None or not targets.answers(name)
    server_cpu = (
        (after["cpu_seconds"] - before["cpu_seconds"]) / m.duration_s
        if "cpu_seconds" in before and "cpu_seconds" in after
        else None
    )
    latency = m.latency_ms
    mean_s = None if latency.mean is None else latency.mean / 1000
    # Over the window observed from Locust's log, as a cell's rps: Locust's
    # run time ends early (3.2 s of a 4 s run time in a quick step on
    # 2026-12-01), so the planned duration is not the window. The requests in
    # flight at its end are counted too (knee.achieved_rps): without them in
    # the divisor waitress's 8 slots of 100 ms "achieved" 99 req/s of 160
    # offered in a 3 s window (2026-12-01T200516Z), past their 80.
    achieved = knee.achieved_rps(m.requests, m.duration_s, latency.mean)
    busy = m.host_busy
    step = Step(
        **head | {"started_at": datetime.fromtimestamp(m.started_at, UTC).isoformat(timespec="seconds")},
        status="server-died" if died else "ok",
        error="stopped answering during the step" if died else None,
        achieved_rps=round(achieved, 3),
        requests=m.requests,
        failures=m.failures,
        mean_ms=latency.mean,
        p50_ms=latency.p50,
        p99_ms=latency.p99,
        server_cpu=None if server_cpu is None else round(server_cpu, 3),
        loadgen_cpu=round(m.loadgen_cpu, 3),
        host_cpu_busy=None if busy is None else round(busy, 3),
        memory_peak_bytes=after.get("memory_peak_bytes"),
        bottleneck=bottleneck.classify(  # type: ignore[arg-type]
            server_cpu=server_cpu,
            cpu_limit=after.get("cpu_limit"),
            in_service=None if mean_s is None else achieved * mean_s,
            slots=series.server.slots,
            io_bound=bottleneck.slots_can_bind(
                scenario.kind, plan.io_ms, plan.cpu_ms, series.server.slots, after.get("cpu_limit")
            ),
            loadgen_cpu=m.loadgen_cpu,
            host_busy=busy,
            crosscheck=None,
        ),
        broken=knee.breaks(
            offered=rate, achieved=achieved, requests=m.requests, failures=m.failures, p99_ms=latency.p99,
            slo_p99_ms=series.slo_p99_ms,
        ),
    )  # fmt: skip
    if died:
        step.broken.append("the server stopped answering")
    step.behind = behind(step)
    return step


def knee_not_the_servers(step: Step) -> str:
    """Why a broken step's knee is no measure of the server's limit, in words."""
    if step.bottleneck != "unexplained":
        return f"{step.bottleneck} bound, not the server's"
    # Queueing short of a full CPU is the server's own (a 110 ms p99 for 10 ms
    # of CPU breaks at about 85 % busy); a late request on a shared host is not.
    cpu = "" if step.server_cpu is None else f" at {step.server_cpu:.2f} CPUs"
    return f"unexplained{cpu} (queueing short of a full CPU, or the machine's noise), not proven the server's"


def summarize(series: Series, curve: list[Step], settings: CapacitySettings) -> Capacity:
    """The series' knee, what it cost there, and what broke the step above it."""
    found = knee.knee([(step.offered_rps, step.holds) for step in curve], settings.max_rps)
    at = next((step for step in curve if step.offered_rps == found.capacity and step.holds), None)
    broke = [step for step in curve if not step.holds]
    first_broken = min(broke, key=lambda step: step.offered_rps) if broke else None
    reason = found.reason
    if first_broken is not None and first_broken.bottleneck in NOT_THE_SERVER:
        why = knee_not_the_servers(first_broken)
        reason = (
            f"a lower bound: the step past it was {why}"
            if found.capacity is not None
            else f"{found.reason}; that step was {why}"
        )
    per_cpu = at.achieved_rps / at.server_cpu if at and at.achieved_rps and at.server_cpu else None
    peaks = [step.memory_peak_bytes for step in curve if step.memory_peak_bytes is not None]
    return Capacity(
        server=series.server.name,
        scenario=series.scenario,
        repetition=series.repetition,
        slo_p99_ms=series.slo_p99_ms,
        capacity_rps=found.capacity,
        reason=reason,
        capacity_per_cpu=None if per_cpu is None else round(per_cpu, 1),
        memory_peak_bytes=max(peaks, default=None),
        bottleneck=first_broken.bottleneck if first_broken else None,
        curve=curve,
    )


def run_series(series: Series, plan: Plan, targets: Targets, folder: Path, results: Results) -> Capacity:
    settings = plan.capacity
    assert settings is not None
    curve: list[Step] = []
    entry = summarize(series, curve, settings)
    results.capacity.append(entry)
    if (reason := targets.startup_errors.get(series.server.name)) is not None:
        entry.reason = f"server unavailable: {reason[-300:]}"
        save(folder, results)
        return entry
    while True:
        tried = [(step.offered_rps, step.holds) for step in curve]
        rate = knee.next_rate(
            tried, start=first_rate(series, settings), factor=settings.factor, bisections=settings.bisections,
            ceiling=settings.max_rps, floor=settings.min_rps,
        )  # fmt: skip
        if rate is None:
            break
        step = run_step(series, rate, plan, targets, folder)
        curve.append(step)
        print(_line(series, step), flush=True)
        results.capacity[-1] = entry = summarize(series, curve, settings)
        save(folder, results)
    return entry


def _line(series: Series, step: Step) -> str:
    measured = (
        f"achieved {step.achieved_rps:.1f}, p50 {step.p50_ms} ms, p99 {step.p99_ms} ms, {step.bottleneck}"
        if step.status == "ok"
        else step.status
    )
    verdict = "holds" if step.holds else "breaks: " + "; ".join(step.broken)
    flag = " [behind schedule]" if step.behind else ""
    if step.status == "ok" and step.settled_s is None:
        flag += f" [not answering within the SLO {SETTLE_TIMEOUT_S:g} s after the step before]"
    where = f"{series.server.name} {series.scenario} r{series.repetition} {step.offered_rps:g} req/s"
    return f"{where}: {measured}; {verdict}{flag}"


def plan_series(plan: Plan, servers: list[matrix.Server], results: Results) -> list[Series]:
    """Every server × scenario × repetition in the order run, each with its SLO and bound."""
    assert plan.capacity is not None
    limits = results.run.limits.per_server if results.run.limits else {}
    found = []
    for repetition in range(1, plan.repetitions + 1):
        for server in servers:
            reported = limits.get(server.name)
            cpus = reported.cpu_limit if reported else None
            for scenario in plan.scenarios:
                slo = slo_for(scenario, plan.capacity, plan)
                found.append(Series(server, scenario, repetition, slo, bound_for(server, scenario, plan, cpus)))
    return found


def start(plan: Plan, output: Path, native_mode: bool) -> tuple[Path, Results]:
    """A new capacity run of ``plan`` in a new folder under ``output``."""
    locustrun.locustfile()  # a missing locustfile is an error now, not in every step
    check_slo(plan)
    access_log = metadata.access_log()
    try:
        servers = [matrix.get(name) for name in plan.servers]
    except matrix.MatrixError as error:
        raise BenchError(str(error)) from None
    folder = new_run_folder(output, "-capacity")
    mode = "native" if native_mode else "docker"
    results = Results(run=Run(id=folder.name, started_at=now(), mode=mode, plan=plan, access_log=access_log))
    save(folder, results)
    (folder / "raw").mkdir(exist_ok=True)
    assert plan.capacity is not None
    with (NativeTargets if native_mode else ComposeTargets)(servers) as targets:
        metadata.record(results.run, targets.urls)
        results.servers, results.scenarios = metadata.describe(plan, servers, SCENARIOS)
        save(folder, results)
        all_series = plan_series(plan, servers, results)
        print(f"capacity: {len(all_series)} series, about {estimate_s(all_series, plan) / 60:.0f} min"
              f" (each knee assumed at {ESTIMATE_KNEE:.0%} of its bound)", flush=True)  # fmt: skip
        for series in all_series:
            run_series(series, plan, targets, folder, results)
    results.run.finished_at = now()
    save(folder, results)
    return folder, results

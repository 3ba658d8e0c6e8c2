"""Run a matrix of servers × scenarios × user counts × repetitions, cell by cell.

The rules that make the numbers defensible live here and in :mod:`labbench.plan`:

* one server under load at a time; the others sit idle;
* repetitions run in rounds, each round in a fresh shuffled order (seeded and
  recorded), so drift on the machine spreads over every server alike;
* every cell is written to results.json (atomically) as soon as it ends, so
  an interruption loses at most the cell in progress and ``--resume`` runs
  only what is missing;
* a server that is down before a cell, or stops answering during one, is
  recorded as such and the matrix goes on.

Where the servers are is :mod:`labbench.targets`' business, what the run
records about itself :mod:`labbench.metadata`'s, the terminal display
:mod:`labbench.progress`'.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labbench import BenchError, bottleneck, faults, faulttimeline, faultwatch, locustrun, metadata, wrkrun
from labbench.locustrun import Load, Measurement
from labbench.plan import CellKey, FaultKey, done, expected_seconds, run_order, settings
from labbench.progress import Progressing
from labbench.results import Cell, FaultCell, Plan, Results, Run, load_results, save
from labbench.targets import ComposeTargets, NativeTargets, Targets
from labcore import defaults, matrix, protocol, userscenarios
from labcore.scenarios import split_of

Tick = Callable[[float], None]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_folder(output: Path, suffix: str = "") -> Path:
    """A new folder under ``output``, named by the time (and ``suffix``, e.g. ``-timeline``)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ") + suffix
    for suffix in itertools.count(1):
        folder = output / (stamp if suffix == 1 else f"{stamp}-{suffix}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
        except PermissionError as error:
            raise BenchError(f"--output: cannot create {folder}: {error.strerror}{_as_owner(output)}") from None
        except OSError as error:
            raise BenchError(f"--output: cannot create {folder}: {error.strerror}") from None
    raise AssertionError("unreachable")


def _as_owner(output: Path) -> str:
    """The command that runs labbench as the owner of ``output``, where another user owns it.

    In the bench container, labbench runs as the owner of ./results
    (labbench.owner), unless LAB_UID/LAB_GID chose someone else: then, or
    natively, this names the ids that would work.
    """
    try:
        owner = output.stat()
    except OSError:
        return ""
    if owner.st_uid == os.getuid():
        return ""
    ids = f"LAB_UID={owner.st_uid} LAB_GID={owner.st_gid}"
    return (
        f"; it belongs to uid {owner.st_uid} and this runs as uid {os.getuid()}. "
        f"Run it as the folder's owner: `{ids} docker compose run --rm bench ...` "
        "(or, natively, as that user)"
    )


def _unavailable(name: str, targets: Targets) -> str | None:
    """Why a cell cannot run against ``name`` now; None if it can."""
    if name in targets.startup_errors:
        return targets.startup_errors[name][-500:]
    if not targets.answers(name):
        return "did not answer /_lab/usage before the cell"
    return None


# --- one cell ---------------------------------------------------------------------


def classify_cell(
    cell: Cell,
    server: matrix.Server | None,
    cpu_limit: float | None,
    io_ms: int = defaults.IO_MS,
    cpu_ms: int = defaults.CPU_MS,
) -> bottleneck.Bottleneck | None:
    """What limited an ok cell's number (labbench.bottleneck), from what the cell
    recorded, the server's slots and its CPU limit (its /usage); None for any other cell.

    The slots are the server's or the users', whichever are fewer (as in the
    report's ideal): a closed loop of N users never has more than N requests
    in flight, so a server with 4000 greenlets is full at 32 users' worth.
    A server outside the matrix (--target-url) has no known model: the
    users' bound is the only one that holds for it. ``io_ms`` and ``cpu_ms``
    are the run's work per request (--io-ms, --cpu-ms), as the cell sent it.
    """
    if not cell.ok:
        return None
    server_slots = None if server is None else server.slots
    slots = cell.users if server_slots is None else min(server_slots, cell.users)
    mean_ms = cell.latency_ms.mean if cell.latency_ms else None
    scenario, io_ms, cpu_ms = userscenarios.resolve(cell.scenario, io_ms, cpu_ms)
    return bottleneck.classify(
        server_cpu=None if cell.server_cpu_s is None or not cell.duration_s else cell.server_cpu_s / cell.duration_s,
        cpu_limit=cpu_limit,
        in_service=None if cell.rps is None or mean_ms is None else cell.rps * mean_ms / 1000,
        slots=slots,
        io_bound=bottleneck.slots_can_bind(scenario.kind, io_ms, cpu_ms, slots, cpu_limit),
        loadgen_cpu=cell.loadgen_cpu,
        host_busy=cell.host_cpu_busy,
        crosscheck=cell.crosscheck,
    )


def run_cell(key: CellKey, order: int, plan: Plan, targets: Targets, folder: Path, on_tick: Tick) -> Cell:
    started = now()

    def cell(status: str, error: str | None, **measured: Any) -> Cell:
        head = {"order": order, "status": status, "error": error, "started_at": started, "raw": f"raw/{key.slug}"}
        return Cell(**asdict(key), **head | measured)

    if (reason := _unavailable(key.server, targets)) is not None:
        return cell("server-unavailable", reason)
    try:
        m = _measure(key, plan, targets.urls[key.server], folder / "raw" / key.slug, on_tick)
    except locustrun.LocustFailed as error:
        return cell("locust-error", str(error))
    except wrkrun.WrkFailed as error:
        return cell("wrk-error", str(error))
    # A server that died keeps what was measured before it stopped answering.
    # (An app without the lab's /usage never answered it: only its own answer counts.)
    died = (m.usage_before is not None and m.usage_after is None) or not targets.answers(key.server)
    before, after = m.usage_before or {}, m.usage_after or {}
    measured = cell(
        "server-died" if died else "ok",
        "stopped answering during the cell" if died else None,
        # When the measured window began, not when the warm-up did.
        started_at=datetime.fromtimestamp(m.started_at, UTC).isoformat(timespec="seconds"),
        duration_s=round(m.duration_s, 3),
        requests=m.requests,
        failures=m.failures,
        rps=round(m.rps, 3),
        latency_ms=m.latency_ms,
        loadgen_cpu=None if m.loadgen_cpu is None else round(m.loadgen_cpu, 3),
        loadgen_bound=m.loadgen_cpu is not None and m.loadgen_cpu >= defaults.LOADGEN_HOT,
        loadgen_cpu_workers=m.loadgen_cpu_workers,
        server_cpu_s=(
            round(after["cpu_seconds"] - before["cpu_seconds"], 3)
            if "cpu_seconds" in before and "cpu_seconds" in after
            else None
        ),
        server_memory_bytes=after.get("memory_bytes"),
        server_memory_peak_bytes=after.get("memory_peak_bytes"),
        host_cpu_busy=None if m.host_busy is None else round(m.host_busy, 3),
    )
    measured.bottleneck = classify_cell(
        measured, targets.servers.get(key.server), after.get("cpu_limit"), plan.io_ms, plan.cpu_ms
    )
    return measured


def _measure(key: CellKey, plan: Plan, url: str, prefix: Path, on_tick: Tick) -> Measurement:
    """The cell's load, by its engine; the same warm-up, window and work per request for either."""
    # A crossover split carries its own work; every other scenario the plan's.
    scenario, io_ms, cpu_ms = userscenarios.resolve(key.scenario, plan.io_ms, plan.cpu_ms)
    if key.engine == "wrk":
        wrk_load = wrkrun.Load(
            scenario, key.users, plan.warmup_s, plan.duration_s, plan.locust_processes, io_ms, cpu_ms
        )
        return wrkrun.measure(wrk_load, url, prefix, on_tick)
    load = Load(
        scenario.user_class, key.users, plan.warmup_s, plan.duration_s, plan.locust_processes, io_ms, cpu_ms,
        workers=plan.locust_workers,
    )  # fmt: skip
    return locustrun.measure(load, url, prefix, on_tick)


def crosscheck(cells: list[Cell], cell: Cell) -> list[Cell]:
    """Once both engines have measured a cell's group in a round, each gets its rps ÷ the other's.

    Returns the two cells it changed (none if the pair is not complete), whose
    bottleneck must then be classified again: a low ratio names the engine.
    """
    other = next(
        (
            c
            for c in cells
            if c.engine != cell.engine
            and (c.server, c.scenario, c.users, c.repetition)
            == (cell.server, cell.scenario, cell.users, cell.repetition)
        ),
        None,
    )
    if other is None or not (cell.ok and other.ok and cell.rps and other.rps):
        return []
    cell.crosscheck = round(cell.rps / other.rps, 4)
    other.crosscheck = round(other.rps / cell.rps, 4)
    return [cell, other]


def _not_applicable(server: matrix.Server, fault: str) -> str | None:
    if fault != "recycle":
        return None
    if server.max_requests is None:
        return "this server has no max-requests setting: nothing ever recycles its workers"
    if server.max_requests == 0:
        return "recycling is off (LAB_MAX_REQUESTS=0); set LAB_MAX_REQUESTS to measure it"
    return None


def run_fault_cell(key: FaultKey, order: int, plan: Plan, targets: Targets, folder: Path, on_tick: Tick) -> FaultCell:
    """One fault experiment (labbench.faults); afterwards the server is
    brought back for the cells that follow, and how long that took is kept."""
    started = now()

    def cell(status: str, error: str | None, **seen: Any) -> FaultCell:
        head = {"order": order, "status": status, "error": error, "started_at": started, "raw": f"raw/{key.slug}"}
        return FaultCell(**asdict(key), users=faults.USERS, **head | seen)

    if key.server in plan.targets:
        return cell("not-applicable", "a target outside this Compose project: the lab injects no faults there")
    if (reason := _not_applicable(targets.servers[key.server], key.fault)) is not None:
        return cell("not-applicable", reason)
    if (reason := _unavailable(key.server, targets)) is not None:
        return cell("server-unavailable", reason)
    fault = faults.FAULTS[key.fault]
    app = targets.client(key.server)
    # Two censuses of the idle server: a server that forks a process per
    # request shows a different "worker" each time.
    workers = [(app.census() or {}).get("workers") for _ in range(2)]
    watch = faultwatch.Watch(app, plan.long_ms, targets.terminator(key.server), workers[0] != workers[1])
    window = threading.Event()
    observed: dict[str, Any] = {}

    def inject() -> None:
        if window.wait(120) and not watch.ending.wait(faults.LEAD_S):
            observed.update(fault.inject(watch))

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    load = Load(fault.user_class, faults.USERS, 0, faults.seconds(fault, settings(plan)), 1, plan.io_ms, plan.cpu_ms)
    prefix = folder / "raw" / key.slug
    try:
        locustrun.measure(load, app.url, prefix, on_tick, on_window=window.set)
        status, error = "ok", None
    except locustrun.LocustFailed as failure:
        status, error = "locust-error", str(failure)
    watch.ending.set()
    injector.join(plan.long_ms / 1000 + faults.SOAK_POLL_S + 60)
    points = faulttimeline.timeline(prefix.with_name(prefix.name + "_stats_history.csv"), watch.at)
    return cell(
        status,
        error,
        **faulttimeline.summary(points),
        observed=observed or None,
        timeline=points,
        back_after_s=targets.revive(key.server),
    )


# --- the matrix -------------------------------------------------------------------


def execute(plan: Plan, folder: Path, results: Results, targets_class: type[Targets]) -> Results:
    """Run every cell of ``plan`` not yet in ``results``; save after each one."""
    try:
        servers = [matrix.get(name) for name in plan.servers]
    except matrix.MatrixError as error:
        raise BenchError(str(error)) from None
    known = userscenarios.available()
    # A crossover split (mixed-io40-cpu10) is no scenario of its own: labcore resolves its name.
    if missing := [name for name in plan.scenarios if name not in known and split_of(name) is None]:
        # A resumed run of the user's scenarios, without the file that defined them.
        raise BenchError(
            f"no scenario {', '.join(missing)} here: set {protocol.APP_SCENARIOS_ENV} to the file that defines it"
        )
    order = run_order(plan)
    finished = done(results)
    expected = [expected_seconds(key, plan) for key in order]
    (folder / "raw").mkdir(exist_ok=True)
    with targets_class(servers) as targets:
        targets.add_external(plan.targets)
        if results.run.machine is None:  # a resumed run keeps what it first recorded
            metadata.record(results.run, targets.urls)
        results.servers, results.scenarios = metadata.describe(plan, servers, known)
        save(folder, results)
        with Progressing(expected) as progress:
            for index, key in enumerate(order, 1):
                if key in finished:
                    continue
                base = sum(seconds for seconds, k in zip(expected, order, strict=True) if k in finished)
                history = folder / "raw" / f"{key.slug}_stats_history.csv"
                tick = progress.start_cell(base, index, key.label, history)
                if isinstance(key, FaultKey):
                    results.faults.append(run_fault_cell(key, index, plan, targets, folder, tick))
                else:
                    measured = run_cell(key, index, plan, targets, folder, tick)
                    results.cells.append(measured)
                    for paired in crosscheck(results.cells, measured):
                        limits = results.run.limits.per_server.get(paired.server) if results.run.limits else None
                        cpu_limit = limits.cpu_limit if limits else None
                        paired.bottleneck = classify_cell(
                            paired, targets.servers.get(paired.server), cpu_limit, plan.io_ms, plan.cpu_ms
                        )
                finished.add(key)
                save(folder, results)
    results.run.finished_at = now()
    save(folder, results)
    return results


def _targets(mode: str) -> type[Targets]:
    return NativeTargets if mode == "native" else ComposeTargets


def start(plan: Plan, output: Path, native_mode: bool) -> tuple[Path, Results]:
    """A new run of ``plan`` in a new folder under ``output``."""
    locustrun.locustfile()  # a missing locustfile is an error now, not in every cell
    wrkrun.check(plan.scenarios, plan.engine)  # as is a scenario wrk cannot send, or no wrk
    access_log = metadata.access_log()  # a bad LAB_ACCESS_LOG stops the run before it has a folder
    folder = new_run_folder(output)
    mode = "native" if native_mode else "docker"
    run = Run(id=folder.name, started_at=now(), mode=mode, plan=plan, access_log=access_log)
    results = Results(run=run)
    save(folder, results)
    return folder, execute(plan, folder, results, _targets(mode))


def resume(folder: Path) -> Results:
    """Run what an interrupted run in ``folder`` has left, with its own plan."""
    results = load_results(folder)
    if results.finished:
        raise BenchError(f"{folder} is a finished run: nothing to resume")
    plan = results.run.plan
    # Readers default the work per request when a plan lacks it; carrying on
    # with a default that may not be what the first cells did would mix two loads.
    missing = [name for name in ("io_ms", "cpu_ms") if name not in plan.model_fields_set]
    if missing:
        raise BenchError(
            f"{folder}: its run.plan does not fit this labbench ({', '.join(f'no {name}' for name in missing)})"
        )
    wrkrun.check(plan.scenarios, plan.engine)
    recorded = results.run.access_log
    if recorded is not None and metadata.access_log() != recorded:
        # Half the cells with a log line per request and half without would compare different work.
        raise BenchError(f"{folder} was run with LAB_ACCESS_LOG={int(recorded)}: resume it with the same")
    return execute(plan, folder, results, _targets(results.run.mode))

"""Run a matrix of servers × scenarios × user counts × repetitions, cell by cell.

The rules that make the numbers defensible live here:

* one server under load at a time; the others sit idle;
* repetitions run in rounds, each round in a fresh shuffled order (seeded and
  recorded), so drift on the machine spreads over every server alike;
* every cell is written to results.json (atomically) as soon as it ends, so
  an interruption loses at most the cell in progress and ``--resume`` runs
  only what is missing;
* a server that is down before a cell, or stops answering during one, is
  recorded as such and the matrix goes on.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import itertools
import os
import platform
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from labbench import BenchError, faults, locustrun, native
from labbench.locustrun import Load
from labbench.results import SCHEMA_VERSION, load_results, save
from labcore import defaults, matrix, protocol
from labcore.scenarios import SCENARIOS

#: Seconds each cell costs beyond its warm-up and duration (Locust's start and
#: stop, the usage reads), for the time-left estimate.
OVERHEAD_S = 2.5


@dataclass
class Plan:
    servers: list[str]
    scenarios: list[str]
    users: list[int]
    duration_s: float
    warmup_s: float
    repetitions: int
    locust_processes: int
    io_ms: int
    cpu_ms: int
    seed: int
    quick: bool = False
    faults: list[str] = field(default_factory=list)
    long_ms: int = defaults.LONG_MS
    soak_s: float = defaults.SOAK_S

    @property
    def settings(self) -> faults.Settings:
        return faults.Settings(self.long_ms, self.soak_s)


@dataclass(frozen=True)
class CellKey:
    server: str
    scenario: str
    users: int
    repetition: int

    @property
    def slug(self) -> str:
        return f"{self.server}__{self.scenario}__u{self.users}__r{self.repetition}"


@dataclass(frozen=True)
class FaultKey:
    server: str
    fault: str
    repetition: int

    @property
    def slug(self) -> str:
        return f"{self.server}__fault-{self.fault}__r{self.repetition}"


def run_order(plan: Plan) -> list[CellKey | FaultKey]:
    """Every cell of the plan: repetition rounds, each in its own shuffled
    order; the fault experiments after all the measurements, since they
    leave servers restarted."""
    rng = random.Random(plan.seed)
    order: list[CellKey | FaultKey] = []
    for repetition in range(1, plan.repetitions + 1):
        round_ = [
            CellKey(s, sc, u, repetition) for s, sc, u in itertools.product(plan.servers, plan.scenarios, plan.users)
        ]
        rng.shuffle(round_)
        order += round_
    for repetition in range(1, plan.repetitions + 1):
        faults_round = [FaultKey(s, f, repetition) for s, f in itertools.product(plan.servers, plan.faults)]
        rng.shuffle(faults_round)
        order += faults_round
    return order


# --- results.json -----------------------------------------------------------


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_folder(output: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    for suffix in itertools.count(1):
        folder = output / (stamp if suffix == 1 else f"{stamp}-{suffix}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
        except OSError as error:
            raise BenchError(f"--output: cannot create {folder}: {error.strerror}") from None
    raise AssertionError("unreachable")


# --- where the servers are ---------------------------------------------------


class Targets:
    """The servers under test, reachable by URL; subclasses say how."""

    mode = ""

    def __init__(self, servers: list[matrix.Server]) -> None:
        self.servers = {server.name: server for server in servers}
        self.urls: dict[str, str] = {}
        self.startup_errors: dict[str, str] = {}

    def __enter__(self) -> Targets:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def answers(self, name: str) -> bool:
        return name in self.urls and locustrun.usage(self.urls[name]) is not None

    def terminator(self, name: str) -> Callable[[], str] | None:
        """A way to send ``name`` SIGTERM from outside, if this runner has one.
        In Compose it has none (no Docker socket): faults go through the app."""
        return None

    def revive(self, name: str, timeout: float = 60) -> float | None:
        """Seconds until ``name`` answers again after a fault (None: it never
        did). Here something else brings it back: Compose's restart policy."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.answers(name):
                return round(time.monotonic() - start, 2)
            time.sleep(0.5)
        return None


class ComposeTargets(Targets):
    """Servers already running as Compose services on this network."""

    mode = "docker"

    def __enter__(self) -> ComposeTargets:
        self.urls = {name: server.compose_url for name, server in self.servers.items()}
        down = [name for name in self.urls if not self.answers(name)]
        if len(down) == len(self.urls):
            raise BenchError(
                f"no server answers ({', '.join(down)}): start the lab first with `docker compose up -d --wait`"
            )
        for name in down:
            self.startup_errors[name] = f"{self.urls[name]} did not answer"
        return self


class NativeTargets(Targets):
    """Each server's real command on loopback, pinned to the first CPU, while
    this process and Locust keep the others: the native stand-in for a
    container's CPU limit. A server that a fault took down is started again,
    as the restart policy in compose.yaml would."""

    mode = "native"
    #: What the lab's compose.yaml gives every server besides its command.
    ENV: ClassVar[dict[str, str]] = {protocol.FAULT_ENDPOINTS_ENV: "1"}

    def __enter__(self) -> NativeTargets:
        self._stack = contextlib.ExitStack()
        self._running: dict[str, contextlib.ExitStack] = {}
        cpus = sorted(os.sched_getaffinity(0))
        self.server_cpus = {cpus[0]} if len(cpus) > 1 else None
        try:
            self.upstream = self._stack.enter_context(
                native.serve(matrix.load(role="upstream")[0], cpus=self.server_cpus)
            )
            for name in self.servers:
                try:
                    self._start(name)
                except native.ServerFailed as error:
                    self.startup_errors[name] = str(error)
        except BaseException:
            self.__exit__()
            raise
        if self.server_cpus:
            # Locust inherits this process's CPUs: keep it off the servers' one.
            os.sched_setaffinity(0, set(cpus[1:]))
        return self

    def _start(self, name: str) -> None:
        stack = contextlib.ExitStack()
        self.urls[name] = stack.enter_context(
            native.serve(self.servers[name], upstream_url=self.upstream, cpus=self.server_cpus, env=self.ENV)
        )
        self._running[name] = stack

    def terminator(self, name: str) -> Callable[[], str] | None:
        # What `docker compose stop` does: SIGTERM to the server's top process
        # (through the container's init), now, whatever the server is doing.
        census = locustrun.get_json(f"{self.urls[name]}/whoami")
        if not isinstance(census, dict):
            return None
        pid = census["server"]["pid"]

        def terminate() -> str:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return "already gone"
            return "sent"

        return terminate

    def revive(self, name: str, timeout: float = 60) -> float | None:
        if self.answers(name):
            return 0.0
        start = time.monotonic()
        self._running.pop(name).close()
        try:
            self._start(name)
        except native.ServerFailed:
            return None
        return round(time.monotonic() - start, 2)

    def __exit__(self, *exc: object) -> None:
        for stack in self._running.values():
            stack.close()
        self._stack.close()


# --- metadata -----------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _image_digest() -> str | None:
    with contextlib.suppress(OSError):
        return Path("/etc/lab-image-digest").read_text().strip() or None
    return None


def metadata(targets: Targets, plan: Plan) -> dict[str, Any]:
    """Where and with what the run happens; limits as the servers report them."""
    reports = {name: locustrun.usage(url) for name, url in targets.urls.items()}
    reported = {(report.get("cpu_limit"), report.get("memory_limit_bytes")) for report in reports.values() if report}
    app_url = next(iter(targets.urls.values()), None)
    limits: dict[str, Any] = {
        "per_server": {
            name: r and {k: r.get(k) for k in ("cpu_limit", "memory_limit_bytes")} for name, r in reports.items()
        }
    }
    if len(reported) == 1:
        cpu_limit, memory_limit = reported.pop()
        limits |= {
            "cpus": None if cpu_limit is None else f"{cpu_limit:g}",
            "memory_bytes": memory_limit,
            "identical": True,
        }
    else:
        limits |= {"cpus": None, "memory_bytes": None, "identical": False}
    if targets.mode == "native":
        limits["note"] = "native: each server pinned to one CPU with sched_setaffinity; no memory limit"
    return {
        "mode": targets.mode,
        "limits": limits,
        "loadgen_bound_at": defaults.LOADGEN_HOT,
        "machine": {
            "cpu_model": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": {
            "bench": {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()},
            "app": (app_url and locustrun.get_json(f"{app_url}/packages")) or {},
        },
        # What stands for image ids: the runner has no Docker socket (on
        # purpose), so each image records a digest of its packages and code.
        "images": {
            "bench": _image_digest(),
            "app": ((app_url and locustrun.get_json(f"{app_url}/whoami")) or {}).get("image_digest"),
        },
        "locust_command": locustrun.command(
            Load("<UserClass>", 0, plan.warmup_s, plan.duration_s, plan.locust_processes, plan.io_ms, plan.cpu_ms),
            "<server-url>",
            "<raw/cell>",
        ),
    }


def describe(plan: Plan, servers: list[matrix.Server]) -> tuple[dict[str, Any], dict[str, Any]]:
    known = SCENARIOS
    return (
        {s.name: {"model": s.model, "slots": s.slots, "description": s.description, "docs": s.docs} for s in servers},
        {
            name: {
                "user_class": known[name].user_class,
                "path": known[name].path,
                "kind": known[name].kind,
                "work_ms": known[name].work_ms(plan.io_ms, plan.cpu_ms),
            }
            for name in plan.scenarios
        },
    )


# --- one cell ---------------------------------------------------------------------


def _head(key: CellKey | FaultKey, order: int, status: str, error: str | None) -> dict[str, Any]:
    """What every cell starts with: what ran, when, and how it went."""
    return {**asdict(key), "order": order, "status": status, "error": error, "started_at": now()}


def _empty_cell(key: CellKey, order: int, status: str, error: str | None) -> dict[str, Any]:
    return _head(key, order, status, error) | {
        "duration_s": None,
        "requests": None,
        "failures": None,
        "rps": None,
        "latency_ms": None,
        "loadgen_cpu": None,
        "loadgen_bound": None,
        "server_cpu_s": None,
        "server_memory_bytes": None,
        "server_memory_peak_bytes": None,
        "raw": f"raw/{key.slug}",
    }


def run_cell(key: CellKey, order: int, plan: Plan, targets: Targets, folder: Path, on_tick: Any) -> dict[str, Any]:
    if key.server in targets.startup_errors:
        return _empty_cell(key, order, "server-unavailable", targets.startup_errors[key.server][-500:])
    if not targets.answers(key.server):
        return _empty_cell(key, order, "server-unavailable", "did not answer /usage before the cell")
    scenario = SCENARIOS[key.scenario]
    load = Load(
        scenario.user_class, key.users, plan.warmup_s, plan.duration_s, plan.locust_processes, plan.io_ms, plan.cpu_ms
    )
    try:
        m = locustrun.measure(load, targets.urls[key.server], folder / "raw" / key.slug, on_tick)
    except locustrun.LocustFailed as error:
        return _empty_cell(key, order, "locust-error", str(error))
    if m.usage_after is None or not targets.answers(key.server):
        cell = _empty_cell(key, order, "server-died", "stopped answering during the cell")
    else:
        cell = _empty_cell(key, order, "ok", None)
    before, after = m.usage_before or {}, m.usage_after or {}
    cell |= {
        "started_at": datetime.fromtimestamp(m.started_at, UTC).isoformat(timespec="seconds"),
        "duration_s": round(m.duration_s, 3),
        "requests": m.requests,
        "failures": m.failures,
        "rps": round(m.rps, 3),
        "latency_ms": m.latency_ms,
        "loadgen_cpu": None if m.loadgen_cpu is None else round(m.loadgen_cpu, 3),
        "loadgen_bound": m.loadgen_cpu is not None and m.loadgen_cpu >= defaults.LOADGEN_HOT,
        "server_cpu_s": (
            round(after["cpu_seconds"] - before["cpu_seconds"], 3)
            if "cpu_seconds" in before and "cpu_seconds" in after
            else None
        ),
        "server_memory_bytes": after.get("memory_bytes"),
        "server_memory_peak_bytes": after.get("memory_peak_bytes"),
    }
    return cell


def _fault_cell(key: FaultKey, order: int, status: str, error: str | None) -> dict[str, Any]:
    return _head(key, order, status, error) | {
        "users": faults.USERS,
        "observed": None,
        "timeline": [],
        "ok_per_s_before": None,
        "ok_per_s_after": None,
        "kept": None,
        "outage_s": None,
        "failures_after": None,
        "back_after_s": None,
        "raw": f"raw/{key.slug}",
    }


def _not_applicable(server: matrix.Server, fault: str) -> str | None:
    if fault != "recycle":
        return None
    if server.max_requests is None:
        return "this server has no max-requests setting: nothing ever recycles its workers"
    if server.max_requests == 0:
        return "recycling is off (LAB_MAX_REQUESTS=0); set LAB_MAX_REQUESTS to measure it"
    return None


def run_fault_cell(
    key: FaultKey, order: int, plan: Plan, targets: Targets, folder: Path, on_tick: Any
) -> dict[str, Any]:
    """One fault experiment (labbench.faults); afterwards the server is
    brought back for the cells that follow, and how long that took is kept."""
    if (reason := _not_applicable(targets.servers[key.server], key.fault)) is not None:
        return _fault_cell(key, order, "not-applicable", reason)
    if key.server in targets.startup_errors:
        return _fault_cell(key, order, "server-unavailable", targets.startup_errors[key.server][-500:])
    if not targets.answers(key.server):
        return _fault_cell(key, order, "server-unavailable", "did not answer /usage before the cell")
    fault = faults.FAULTS[key.fault]
    url = targets.urls[key.server]
    # Two censuses of the idle server: a server that forks a process per
    # request shows a different "worker" each time.
    idle = [locustrun.get_json(f"{url}/whoami") or {} for _ in range(2)]
    per_request = [census.get("server", {}).get("workers") for census in idle]
    watch = faults.Watch(url, plan.long_ms, targets.terminator(key.server), per_request[0] != per_request[1])
    window = threading.Event()
    observed: dict[str, Any] = {}

    def inject() -> None:
        if window.wait(120) and not watch.ending.wait(faults.LEAD_S):
            observed.update(fault.inject(watch))

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    load = Load(fault.user_class, faults.USERS, 0, faults.seconds(fault, plan.settings), 1, plan.io_ms, plan.cpu_ms)
    prefix = folder / "raw" / key.slug
    try:
        locustrun.measure(load, watch.url, prefix, on_tick, on_window=window.set)
        status, error = "ok", None
    except locustrun.LocustFailed as failure:
        status, error = "locust-error", str(failure)
    watch.ending.set()
    injector.join(plan.long_ms / 1000 + faults.SOAK_POLL_S + 60)
    points = faults.timeline(prefix.with_name(prefix.name + "_stats_history.csv"), watch.at)
    cell = _fault_cell(key, order, status, error)
    return (
        cell
        | faults.summary(points)
        | {
            "observed": observed or None,
            "timeline": points,
            "back_after_s": targets.revive(key.server),
        }
    )


# --- the matrix -------------------------------------------------------------------


@dataclass
class Progressing:
    """The rich progress display: cell i/N, server, scenario, live req/s, time left."""

    seconds: list[float]  # the expected length of each cell of the run, in order
    console: Console = field(default_factory=lambda: Console(stderr=True))

    def __enter__(self) -> Progressing:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[cell]}"),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[rps]}"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.task = self.progress.add_task("", total=sum(self.seconds), cell="", rps="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start_cell(self, base: float, index: int, key: CellKey | FaultKey, history: Path) -> Any:
        """``base``: the expected seconds of every cell already done."""
        if isinstance(key, FaultKey):
            what = f"{key.server} · fault {key.fault} · {faults.USERS} users · rep {key.repetition}"
        else:
            what = f"{key.server} · {key.scenario} · {key.users} users · rep {key.repetition}"
        self.progress.update(
            self.task, completed=base, cell=f"cell {index}/{len(self.seconds)}", description=what, rps=""
        )

        def tick(seconds: float) -> None:
            self.progress.update(self.task, completed=base + seconds, rps=_live_rps(history))

        return tick


def _live_rps(history: Path) -> str:
    # Locust appends a row a second to its history CSV; the last Aggregated row is "now".
    with contextlib.suppress(OSError, ValueError, IndexError):
        lines = history.read_text().splitlines()
        for line in reversed(lines[1:]):
            fields = line.split(",")
            if "Aggregated" in fields:
                return f"{float(fields[4]):.0f} req/s"
    return ""


def _expected_seconds(key: CellKey | FaultKey, plan: Plan) -> float:
    if isinstance(key, FaultKey):
        return faults.seconds(faults.FAULTS[key.fault], plan.settings) + OVERHEAD_S
    return plan.warmup_s + plan.duration_s + OVERHEAD_S


def _done(results: dict[str, Any]) -> set[CellKey | FaultKey]:
    return {CellKey(c["server"], c["scenario"], c["users"], c["repetition"]) for c in results["cells"]} | {
        FaultKey(c["server"], c["fault"], c["repetition"]) for c in results.get("faults", [])
    }


def execute(plan: Plan, folder: Path, results: dict[str, Any], targets_class: type[Targets]) -> dict[str, Any]:
    """Run every cell of ``plan`` not yet in ``results``; save after each one."""
    try:
        servers = [matrix.get(name) for name in plan.servers]
    except matrix.MatrixError as error:
        raise BenchError(str(error)) from None
    order = run_order(plan)
    done = _done(results)
    expected = [_expected_seconds(key, plan) for key in order]
    (folder / "raw").mkdir(exist_ok=True)
    results.setdefault("faults", [])
    with targets_class(servers) as targets:
        if "machine" not in results["run"]:
            results["run"] |= metadata(targets, plan)
        results["servers"], results["scenarios"] = describe(plan, servers)
        save(folder, results)
        with Progressing(expected) as progress:
            for index, key in enumerate(order, 1):
                if key in done:
                    continue
                base = sum(seconds for seconds, k in zip(expected, order, strict=True) if k in done)
                tick = progress.start_cell(base, index, key, folder / "raw" / f"{key.slug}_stats_history.csv")
                if isinstance(key, FaultKey):
                    results["faults"].append(run_fault_cell(key, index, plan, targets, folder, tick))
                else:
                    results["cells"].append(run_cell(key, index, plan, targets, folder, tick))
                done.add(key)
                save(folder, results)
    results["run"]["finished_at"] = now()
    save(folder, results)
    return results


def start(plan: Plan, output: Path, native_mode: bool) -> tuple[Path, dict[str, Any]]:
    folder = new_run_folder(output)
    results = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": folder.name,
            "started_at": now(),
            "finished_at": None,
            "mode": "native" if native_mode else "docker",
            "plan": asdict(plan),
        },
        "servers": {},
        "scenarios": {},
        "cells": [],
        "faults": [],
    }
    save(folder, results)
    return folder, execute(plan, folder, results, NativeTargets if native_mode else ComposeTargets)


def resume(folder: Path) -> dict[str, Any]:
    results = load_results(folder)
    plan = Plan(**results["run"]["plan"])
    if results["run"].get("finished_at"):
        raise BenchError(f"{folder} is a finished run: nothing to resume")
    native_mode = results["run"].get("mode") == "native"
    return execute(plan, folder, results, NativeTargets if native_mode else ComposeTargets)

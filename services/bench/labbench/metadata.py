"""What a run records about itself: the limits the servers report, the machine,
the packages and images on both sides, and what each server and scenario is.

A reader of results.json months later should be able to tell what ran where
without the machine at hand; docs/results-schema.md lists every field.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

from labbench import BenchError, locustrun, wrkrun
from labbench.appclient import AppClient
from labbench.results import Limits, Machine, Placement, Plan, Run, ScenarioInfo, ServerInfo, ServerLimits
from labcore import accesslog, defaults, matrix
from labcore.scenarios import SCENARIOS, Scenario, resolve

#: Where the lab's images record their digest at build time (services/core/image-digest).
IMAGE_DIGEST = Path("/etc/lab-image-digest")
NATIVE_NOTE = "native: each server pinned to one CPU with sched_setaffinity; no memory limit"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def image_digest() -> str | None:
    """This image's digest of its packages and code; None outside the lab's images."""
    with contextlib.suppress(OSError):
        return IMAGE_DIGEST.read_text().strip() or None
    return None


def machine() -> Machine:
    return Machine(
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        kernel=platform.release(),
        python=platform.python_version(),
        platform=platform.platform(),
    )


def limits(usages: dict[str, dict[str, Any] | None], mode: str) -> Limits:
    """The limits each server reported in its /_lab/usage, and whether they agree."""
    per_server = {
        name: None
        if usage is None
        else ServerLimits(cpu_limit=usage.get("cpu_limit"), memory_limit_bytes=usage.get("memory_limit_bytes"))
        for name, usage in usages.items()
    }
    reported = {(found.cpu_limit, found.memory_limit_bytes) for found in per_server.values() if found}
    # Only a native run has a note: a Docker run's limits are what the servers say.
    note = {"note": NATIVE_NOTE} if mode == "native" else {}
    if len(reported) != 1:
        return Limits(per_server=per_server, cpus=None, memory_bytes=None, identical=False, **note)
    cpu_limit, memory_limit = reported.pop()
    return Limits(
        per_server=per_server,
        cpus=None if cpu_limit is None else f"{cpu_limit:g}",
        memory_bytes=memory_limit,
        identical=True,
        **note,
    )


def placement(usages: dict[str, dict[str, Any] | None]) -> Placement:
    """The CPUs each server reported in its /usage, and this process's own
    (Locust inherits them): the same record natively, where labbench pins
    both sides, and in Docker, where LAB_SERVER_CPUSET/LAB_LOADGEN_CPUSET do."""
    servers = {name: (usage or {}).get("cpus") for name, usage in usages.items()}
    loadgen = sorted(os.sched_getaffinity(0))
    known = [set(cpus) for cpus in servers.values() if cpus is not None]
    disjoint = None if len(known) < len(servers) else not any(cpus & set(loadgen) for cpus in known)
    return Placement(servers=servers, loadgen=loadgen, disjoint=disjoint)


def access_log() -> bool:
    """The access-logging policy the servers follow, as this process's
    environment says (compose.yaml gives the runner the servers' value)."""
    try:
        return accesslog.enabled()
    except accesslog.AccessLogError as error:
        raise BenchError(str(error)) from None


def record(run: Run, urls: dict[str, str]) -> None:
    """Fill in what the run learns once its servers answer (at ``urls``)."""
    clients = {name: AppClient(url) for name, url in urls.items()}
    app = next(iter(clients.values()), None)
    plan = run.plan
    usages = {name: client.usage() for name, client in clients.items()}
    run.limits = limits(usages, run.mode)
    run.placement = placement(usages)
    run.loadgen_bound_at = defaults.LOADGEN_HOT
    run.machine = machine()
    run.versions = {
        "bench": {dist.metadata["Name"]: dist.version for dist in importlib.metadata.distributions()},
        "app": (app and app.packages()) or {},
    }
    # What stands for image ids: the runner has no Docker socket (on
    # purpose), so each image records a digest of its packages and code.
    run.images = {"bench": image_digest(), "app": app and app.image_digest()}
    run.locust_command = locustrun.command(
        locustrun.Load(
            "<UserClass>",
            0,
            plan.warmup_s,
            plan.duration_s,
            plan.locust_processes,
            plan.io_ms,
            plan.cpu_ms,
            workers=plan.locust_workers,
        ),
        "<server-url>",
        "<raw/cell>",
    )
    if plan.engine != "locust":
        run.wrk_command = wrkrun.template(plan.locust_processes, plan.duration_s)


def describe(
    plan: Plan, servers: list[matrix.Server], known: dict[str, Scenario] | None = None
) -> tuple[dict[str, ServerInfo], dict[str, ScenarioInfo]]:
    """The plan's servers as compose.yaml labels them (its targets as unknown),
    and its scenarios, from ``known``, with the run's work per request."""
    infos = {
        server.name: ServerInfo(
            model=server.model, slots=server.slots, description=server.description, docs=server.docs
        )
        for server in servers
    } | {
        name: ServerInfo(
            model="unknown", slots=None, description="a target outside this Compose project (--target-url)", docs=url
        )
        for name, url in plan.targets.items()
    }
    return infos, {name: scenario_info(name, plan, known) for name in plan.scenarios}


def scenario_info(name: str, plan: Plan, known: dict[str, Scenario] | None = None) -> ScenarioInfo:
    """A scenario of the plan, from ``known`` (the lab's and the user's; the lab's alone by
    default), with its work per request (a crossover split with its own)."""
    known = SCENARIOS if known is None else known
    scenario, io_ms, cpu_ms = (known[name], plan.io_ms, plan.cpu_ms) if name in known else resolve(name)
    mixed = scenario.kind == "mixed"
    return ScenarioInfo(
        user_class=scenario.user_class,
        path=scenario.path,
        kind=scenario.kind,
        work_ms=scenario.work_ms(io_ms, cpu_ms),
        io_ms=io_ms if mixed else None,
        cpu_ms=cpu_ms if mixed else None,
        method=scenario.method,
    )

"""``labbench timeline``: bursts of concurrent requests, recorded request by request.

For each server and scenario: a warm-up of a few 1 ms requests, then N
requests released together from N threads, each on its own connection and
each asking the app for its timeline record (``X-Lab-Timeline: 1``). What a
request records: the client's send (before it connects) and receive (after
the whole body), the answer and whether the scenario's check accepts it, and
the server's record: its start and end, process, thread, greenlet and model.

Client and server read one clock. Natively they are processes of one
machine; in Compose, containers share the host kernel's realtime clock (a
container has no clock of its own). Both sides read ``time.time()`` and
measure durations on the monotonic clock, so a step of the wall clock during
a burst shifts nothing by more than the step. That server times fall inside
client times is checked for every request (:func:`labbench.timelinedata.clock_check`).

Every burst is bounded: each request has a timeout, and requests not back
by the deadline are recorded as such and left behind (their threads are
daemons). The results go to ``timeline.json`` after every burst, atomically.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from labbench import BenchError, metadata, runner
from labbench.appclient import error_name
from labbench.model import describe
from labbench.results import write_atomically
from labbench.targets import ComposeTargets, NativeTargets, Targets
from labbench.timelinedata import (
    FILE,
    Burst,
    Request,
    Served,
    TimelineRun,
    Timelines,
    TimelineServer,
    slots_text,
    summarize,
)
from labcore import matrix, protocol
from labcore.scenarios import SCENARIOS, Scenario

#: Requests in the warm-up before each burst (lazy imports, first forks), not recorded.
WARMUP = 4
#: Seconds past the requests' timeout before a burst stops waiting for good.
GRACE_S = 5.0


@dataclass(frozen=True)
class Settings:
    """What every burst of a timeline run does."""

    scenarios: list[str]
    requests: int = 16
    io_ms: int = 500
    cpu_ms: int = 100
    timeout_s: float = 60.0


class Clock:
    """The client's clock: wall-clock seconds from one reading, advanced by the monotonic clock."""

    def __init__(self) -> None:
        self.wall = time.time()
        self.counter = time.perf_counter()

    def now(self) -> float:
        return self.wall + (time.perf_counter() - self.counter)


def _served(header: str | None) -> tuple[Served | None, str | None]:
    """The server's record from its header, or why there is none."""
    if header is None:
        return None, f"no {protocol.TIMELINE_HEADER} header in the answer"
    try:
        return Served.model_validate(json.loads(header)), None
    except (ValueError, ValidationError) as error:
        problem = describe(error) if isinstance(error, ValidationError) else str(error)
        return None, f"unreadable {protocol.TIMELINE_HEADER} header: {problem[:200]}"


def _one(url: str, timeout: float) -> tuple[str, str, str | None]:
    """GET ``url`` asking for its timeline record: the result, the body and the record's header."""
    request = urllib.request.Request(url, headers={protocol.TIMELINE_HEADER: "1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body = reply.read().decode("utf-8", "replace")
            return str(reply.status), body, reply.headers.get(protocol.TIMELINE_HEADER)
    except urllib.error.HTTPError as error:
        return str(error.code), "", error.headers.get(protocol.TIMELINE_HEADER)
    except (OSError, ValueError, http.client.HTTPException) as error:
        return error_name(error), "", None


def fire(url: str, n: int, timeout: float, verify: Callable[[str], str | None] | None = None) -> list[Request]:
    """GET ``url`` from ``n`` threads released together; every request as recorded, in index order."""
    clock = Clock()
    ready = threading.Barrier(n)
    sent: dict[int, float] = {}
    done: dict[int, Request] = {}

    def one(index: int) -> None:
        try:
            ready.wait(timeout)
        except threading.BrokenBarrierError:
            return
        sent[index] = clock.now()
        result, body, header = _one(url, timeout)
        received = clock.now()
        served, problem = _served(header)
        error = (verify(body) if verify else None) if result == "200" else None
        done[index] = Request(
            index=index, sent=sent[index], received=received, result=result, error=error or problem, served=served
        )

    threads = [threading.Thread(target=one, args=(index,), daemon=True) for index in range(n)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + GRACE_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = clock.now()
    return [
        done.get(index)
        or Request(index=index, sent=sent.get(index, late), received=late, result="no answer by the deadline")
        for index in range(n)
    ]


def burst(targets: Targets, name: str, scenario: Scenario, settings: Settings) -> Burst:
    """One burst of ``settings.requests`` of ``scenario`` against server ``name``."""
    path = scenario.request(settings.io_ms, settings.cpu_ms)
    work_ms = scenario.work_ms(settings.io_ms, settings.cpu_ms)
    assert work_ms is not None and scenario.kind in ("io", "cpu"), f"{scenario.name} has no work to time"
    head = {"server": name, "scenario": scenario.name, "path": path, "kind": scenario.kind, "work_ms": work_ms}
    if name in targets.startup_errors or not targets.answers(name):
        reason = targets.startup_errors.get(name, "did not answer /_lab/usage before the burst")
        return Burst(**head, status="server-unavailable", error=reason[-500:])
    url = targets.urls[name]
    cpus = (targets.client(name).usage() or {}).get("cpu_limit")
    fire(url + scenario.request(1, 1), min(WARMUP, settings.requests), settings.timeout_s)
    requests = fire(url + path, settings.requests, settings.timeout_s, lambda body: scenario.verify(body, work_ms))
    failed = [request for request in requests if not request.ok]
    return Burst(
        **head,
        status="failed" if failed else "ok",
        error=f"{len(failed)} of {len(requests)} requests: {failed[0].error or failed[0].result}" if failed else None,
        cpus=float(cpus) if isinstance(cpus, int | float) else None,
        requests=requests,
    )


def save(folder: Path, timelines: Timelines) -> None:
    write_atomically(folder / FILE, timelines.to_json())


def describe_servers(servers: list[matrix.Server]) -> dict[str, TimelineServer]:
    """The servers as compose.yaml labels them, with the current knobs."""
    return {
        server.name: TimelineServer(
            model=server.model, slots=server.slots, slot_factors=server.slot_factors, description=server.description
        )
        for server in servers
    }


def run(
    servers: list[matrix.Server], settings: Settings, output: Path, native: bool, say: Callable[[str], None] = print
) -> tuple[Path, Timelines]:
    """Every server × scenario's burst, one at a time; the run's folder and its results."""
    unknown = [name for name in settings.scenarios if name not in SCENARIOS]
    if unknown:
        raise BenchError(f"unknown scenarios {', '.join(unknown)}")
    folder = runner.new_run_folder(output, "-timeline")
    kind = NativeTargets if native else ComposeTargets
    timelines = Timelines(
        run=TimelineRun(
            id=folder.name,
            started_at=runner.now(),
            mode=kind.mode,
            servers=[server.name for server in servers],
            scenarios=settings.scenarios,
            requests=settings.requests,
            io_ms=settings.io_ms,
            cpu_ms=settings.cpu_ms,
            timeout_s=settings.timeout_s,
            machine=metadata.machine(),
        ),
        servers=describe_servers(servers),
    )
    save(folder, timelines)
    with kind(servers) as targets:
        for server in servers:
            for name in settings.scenarios:
                found = burst(targets, server.name, SCENARIOS[name], settings)
                timelines.bursts.append(found)
                save(folder, timelines)
                say(progress_line(found, timelines.servers.get(server.name)))
    timelines.run.finished_at = runner.now()
    save(folder, timelines)
    return folder, timelines


def progress_line(found: Burst, server: TimelineServer | None) -> str:
    if found.status == "server-unavailable":
        return f"{found.server} {found.scenario}: {found.status}"
    s = summarize(found, server)
    took = "" if s.took_s is None else f", {s.took_s:.2f} s"
    failed = "" if s.ok == s.requests else f", {s.requests - s.ok} failed"
    return (
        f"{found.server} {found.scenario}: {s.requests} × {found.path}, at most {s.most_at_once} at once "
        f"({slots_text(server)}){took}{failed}"
    )

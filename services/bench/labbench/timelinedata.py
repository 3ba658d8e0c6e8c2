"""A timeline run's results, typed, and what they show: ``timeline.json``.

``labbench timeline`` fires bursts of concurrent requests and records each one
twice: the client's send and receive, and the server's own record of when and
where it ran the request (the app's ``X-Lab-Timeline`` header, see
``flasklab/timeline.py``). :class:`Timelines` is the file, in the manner of
:class:`labbench.results.Results` (strict pydantic models, ``to_json`` and
``from_json``); docs/timeline-schema.md describes every field and a test keeps
the two in step.

The rest of the module reads a burst: the serving slots (process, then thread
or greenlet) that ran it, the most requests in service at once, whether the
server's times fall inside the client's (one clock, or not), and the ideal
finish for the server's slots. Pure functions of the data: the runner prints
them, the report draws and words them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from labbench import BenchError
from labbench.model import Model, describe
from labbench.results import Machine

SCHEMA_VERSION = 1
#: The file a timeline run writes in its folder.
FILE = "timeline.json"
#: The scenarios a timeline can burst: the workload endpoints, whose work has a length.
SCENARIOS = ("io", "upstream", "cpu", "async-io")


class Served(Model):
    """The server's record of one request (the app's ``X-Lab-Timeline`` header)."""

    start: float
    end: float
    pid: int
    thread: str
    thread_id: int
    greenlet: str | None
    model: str
    in_flight: int


class Request(Model):
    """One request of a burst: the client's times, what came back, and who served it."""

    index: int
    sent: float
    received: float
    result: str
    error: str | None = None
    served: Served | None = None

    @property
    def ok(self) -> bool:
        return self.result == "200" and self.error is None and self.served is not None


class Burst(Model):
    """N concurrent requests of one scenario against one server."""

    server: str
    scenario: str
    path: str
    kind: Literal["io", "cpu"]
    work_ms: int
    status: Literal["ok", "failed", "server-unavailable"]
    error: str | None = None
    cpus: float | None = None
    requests: list[Request] = Field(default_factory=list)


class TimelineServer(Model):
    """A server as compose.yaml's labels describe it."""

    model: str
    slots: int | None
    slot_factors: list[int] | None
    description: str


class TimelineRun(Model):
    """What was run, where, and how."""

    id: str
    started_at: str
    finished_at: str | None = None
    mode: Literal["docker", "native"]
    servers: list[str]
    scenarios: list[str]
    requests: int
    io_ms: int
    cpu_ms: int
    timeout_s: float
    machine: Machine | None = None


class Timelines(Model):
    """A whole timeline run: ``timeline.json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    run: TimelineRun
    servers: dict[str, TimelineServer] = Field(default_factory=dict)
    bursts: list[Burst] = Field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = FILE) -> Timelines:
        """Parse and validate; a problem is a :class:`BenchError` naming ``source`` and the field."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise BenchError(f"{source} is not valid JSON (line {error.lineno}): {error.msg}") from None
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            raise BenchError(f"{source} holds no timeline of schema_version {SCHEMA_VERSION}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise BenchError(f"{source}: {describe(error)}") from None


def load_timelines(folder: Path) -> Timelines:
    """``folder/timeline.json``, validated whole."""
    path = Path(folder) / FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"{folder} holds no {FILE}: not a timeline run") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"cannot read {path}: {error}") from None
    return Timelines.from_json(text, str(path))


# --- what a burst shows ---------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One serving slot: a thread or greenlet of one process."""

    pid: int
    unit: str  # the thread's or greenlet's name
    process: int  # the process's place among the burst's, from 0
    label: str


def _unit(served: Served) -> str:
    # Under gevent or eventlet every greenlet shares its process's one thread.
    if "greenlets" in served.model and served.greenlet:
        return served.greenlet
    return f"{served.thread}#{served.thread_id}"


def slots(burst: Burst) -> tuple[list[Slot], dict[int, int]]:
    """The slots that served the burst, processes in order of their first start
    and each one's slots likewise; and each served request's row among them."""
    served = sorted(((r.served, r.index) for r in burst.requests if r.served), key=lambda pair: pair[0].start)
    processes: dict[int, int] = {}
    units: dict[tuple[int, str], list[int]] = {}
    kinds: dict[tuple[int, str], str] = {}
    for record, index in served:
        processes.setdefault(record.pid, len(processes))
        key = (record.pid, _unit(record))
        units.setdefault(key, []).append(index)
        kinds[key] = "greenlet" if "greenlets" in record.model else "thread"
    # Stable: within a process, slots stay in the order of their first start.
    ordered = sorted(units, key=lambda key: processes[key[0]])
    found, rows = [], {}
    numbers: dict[int, int] = {}
    for row, key in enumerate(ordered):
        pid = key[0]
        numbers[pid] = numbers.get(pid, 0) + 1
        found.append(Slot(pid, key[1], processes[pid], f"pid {pid} · {kinds[key]} {numbers[pid]}"))
        rows.update({index: row for index in units[key]})
    return found, rows


def max_in_service(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment; one that ends as another starts does not overlap it."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    # At equal times -1 sorts before +1: the ending request leaves first.
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


@dataclass(frozen=True)
class ClockCheck:
    """Whether the server's times fall inside the client's: the evidence for one clock.

    If the server's clock ran ``d`` seconds ahead of the client's, every
    request would still satisfy ``sent <= start - d`` and ``end - d <=
    received``: so ``d`` lies in [``low``, ``high``], and with one clock 0 does.
    A violation is a request whose server times do not fit inside its client
    times as read (``start < sent`` or ``end > received``).
    """

    checked: int
    violations: int
    worst_ms: float  # the largest violation, 0 without any
    low: float
    high: float


def clock_check(burst: Burst) -> ClockCheck | None:
    served = [(r, r.served) for r in burst.requests if r.served]
    if not served:
        return None
    early = [r.sent - s.start for r, s in served]  # > 0: the server started it before it was sent
    late = [s.end - r.received for r, s in served]  # > 0: the server ended it after it was received
    worst = max([0.0, *early, *late])
    violations = sum(1 for a, b in zip(early, late, strict=True) if a > 0 or b > 0)
    return ClockCheck(len(served), violations, round(worst * 1000, 3), max(late), -max(early))


def ideal_s(burst: Burst, slots: int | None, requests: int) -> float:
    """The soonest the burst could end on ``slots`` (None: unbounded): waves of
    requests, each as long as one request's work; CPU work also waits for a CPU."""
    parallel = requests if slots is None else min(slots, requests)
    if burst.kind == "cpu" and burst.cpus:
        parallel = max(1, min(parallel, math.floor(burst.cpus)))
    return math.ceil(requests / max(1, parallel)) * burst.work_ms / 1000


@dataclass(frozen=True)
class Summary:
    """A burst in numbers, relative to its first send."""

    requests: int
    ok: int
    most_at_once: int
    pids: int
    slots_seen: int
    took_s: float | None  # first send to last receive
    in_service_s: float | None  # first server start to last server end
    ideal_s: float
    expected_at_once: int
    clock: ClockCheck | None


def summarize(burst: Burst, server: TimelineServer | None) -> Summary:
    served = [r.served for r in burst.requests if r.served]
    bound = server.slots if server else None
    n = len(burst.requests)
    found, _ = slots(burst)
    return Summary(
        requests=n,
        ok=sum(1 for r in burst.requests if r.ok),
        most_at_once=max_in_service([(s.start, s.end) for s in served]),
        pids=len({s.pid for s in served}),
        slots_seen=len(found),
        took_s=(max(r.received for r in burst.requests) - min(r.sent for r in burst.requests)) if n else None,
        in_service_s=(max(s.end for s in served) - min(s.start for s in served)) if served else None,
        ideal_s=ideal_s(burst, bound, n),
        expected_at_once=n if bound is None else min(bound, n),
        clock=clock_check(burst),
    )


def slots_text(server: TimelineServer | None) -> str:
    if server is None:
        return "unknown slots"
    if server.slots is None:
        return "unbounded slots"
    factors = server.slot_factors or [server.slots]
    shape = " × ".join(map(str, factors))
    return f"{server.slots} slot{'' if server.slots == 1 else 's'}" + (f" ({shape})" if len(factors) > 1 else "")


def findings(burst: Burst, server: TimelineServer | None) -> list[str]:
    """What the burst shows, in words, from the data; the first says whether it kept its label's promise."""
    if burst.status == "server-unavailable":
        return [f"{burst.server} did not answer: {burst.error or 'no reason given'}."]
    s = summarize(burst, server)
    said = []
    label = slots_text(server)
    if s.most_at_once < s.expected_at_once:
        said.append(
            f"{burst.server} ran at most {s.most_at_once} of {s.requests} requests at once, though its label "
            f"promises {label}: it never ran {s.expected_at_once} together in the {burst.scenario} burst."
        )
    elif server and server.slots is not None and s.most_at_once > server.slots:
        said.append(f"{burst.server} ran {s.most_at_once} requests at once, more than the {label} its label counts.")
    else:
        verb = "allows" if server and server.slots == 1 else "allow"
        said.append(f"{burst.server} ran {s.most_at_once} of {s.requests} requests at once, as its {label} {verb}.")
    processes = "process" if s.pids == 1 else "processes"
    said.append(f"{s.slots_seen} serving slots in {s.pids} {processes} served the {s.ok} answered requests.")
    if s.took_s is not None:
        ratio = s.took_s / s.ideal_s if s.ideal_s else None
        times = f" ({ratio:.1f}× the ideal {s.ideal_s:.2f} s for {label})" if ratio else ""
        said.append(f"The burst took {s.took_s:.2f} s from the first send to the last answer{times}.")
    if s.requests - s.ok:
        said.append(f"{s.requests - s.ok} requests failed or came back without the server's record.")
    if s.clock:
        if s.clock.violations:
            said.append(
                f"Clock check: {s.clock.violations} of {s.clock.checked} requests have server times outside their "
                f"client times, by up to {s.clock.worst_ms:g} ms: the clocks disagree by at least that much."
            )
        else:
            said.append(
                f"Clock check: all {s.clock.checked} server records fall inside their client times, so any offset "
                f"of the server's clock from the client's lies between {s.clock.low * 1000:+.1f} ms and "
                f"{s.clock.high * 1000:+.1f} ms."
            )
    return said

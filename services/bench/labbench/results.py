"""A run's results, typed: ``Results`` holds a ``Run`` and its ``Cell`` and ``FaultCell`` lists.

In the manner of pyperf's ``Run``/``Benchmark``: each object knows its JSON
form (``to_json``/``from_json``), and reading one validates it whole, fault
cells included, so a file edited by hand or cut short fails here, naming the
field, and never deep inside a report. docs/results-schema.md describes every
field; a test keeps it and these classes in step.

The models are pydantic models in strict mode: a count is a whole number
(never ``true``, never ``"3"``), a measurement is a number or null, and an
unknown key is an error rather than a silently ignored typo.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labbench import BenchError
from labcore import defaults

SCHEMA_VERSION = 1


class Model(BaseModel):
    """What every part of a results file shares: strict types, no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid", validate_default=False)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --- run ----------------------------------------------------------------------


class Plan(Model):
    """What the run was asked to do: its servers, scenarios and settings."""

    servers: list[str]
    scenarios: list[str]
    users: list[int]
    duration_s: float
    warmup_s: float
    repetitions: int
    locust_processes: int
    io_ms: int = defaults.IO_MS
    cpu_ms: int = defaults.CPU_MS
    seed: int
    quick: bool = False
    faults: list[str] = Field(default_factory=list)
    long_ms: int = defaults.LONG_MS
    soak_s: float = defaults.SOAK_S


class ServerLimits(Model):
    cpu_limit: float | None = None
    memory_limit_bytes: int | None = None


class Limits(Model):
    """The limits as each server reported them from inside (its /_lab/usage)."""

    per_server: dict[str, ServerLimits | None] = Field(default_factory=dict)
    cpus: str | None = None
    memory_bytes: int | None = None
    identical: bool = False
    note: str | None = None


class Machine(Model):
    cpu_model: str
    cpu_count: int | None
    kernel: str
    python: str
    platform: str


class Run(Model):
    """What was run, where, and how."""

    id: str
    started_at: str
    finished_at: str | None = None
    mode: Literal["docker", "native"]
    plan: Plan
    # The access-logging policy (LAB_ACCESS_LOG) every server followed; None
    # in runs made before the lab had one, when each logged as it shipped.
    access_log: bool | None = None
    # Known once the servers answer; absent in a run interrupted before that.
    limits: Limits | None = None
    loadgen_bound_at: float | None = None
    machine: Machine | None = None
    versions: dict[str, dict[str, str]] | None = None
    images: dict[str, str | None] | None = None
    locust_command: list[str] | None = None


class ServerInfo(Model):
    """A server as compose.yaml's labels describe it."""

    model: str
    slots: int | None
    description: str
    docs: str


class ScenarioInfo(Model):
    """A scenario as labcore.scenarios defines it, with the run's work per request."""

    user_class: str
    path: str
    kind: str
    work_ms: int | None


# --- cells ------------------------------------------------------------------------


class Latency(Model):
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class Cell(Model):
    """One measured run of one server × scenario × user count × repetition."""

    server: str
    scenario: str
    users: int
    repetition: int
    order: int
    status: str
    error: str | None = None
    started_at: str
    duration_s: float | None = None
    requests: int | None = None
    failures: int | None = None
    rps: float | None = None
    latency_ms: Latency | None = None
    loadgen_cpu: float | None = None
    loadgen_bound: bool | None = None
    server_cpu_s: float | None = None
    server_memory_bytes: int | None = None
    server_memory_peak_bytes: int | None = None
    raw: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def group(self) -> tuple[str, str, int]:
        """server, scenario, users: what the report summarises over repetitions."""
        return (self.server, self.scenario, self.users)

    @model_validator(mode="after")
    def _ok_cells_are_measured(self) -> Self:
        if self.ok:
            missing = [name for name in ("requests", "failures", "rps", "latency_ms") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"an ok cell needs {', '.join(missing)}")
        return self


# --- what the runner observed in each fault experiment (labbench.faults) ----------------

#: [seconds, successes, failures], or [seconds, bytes]: numbers in a fixed number.
Point3 = Annotated[list[int | float], Field(min_length=3, max_length=3)]
Point2 = Annotated[list[int | float], Field(min_length=2, max_length=2)]


class Followed(Model):
    """The server's census after a crash or a timeout (faultwatch.follow)."""

    answered_again_s: float | None
    whole_again_s: float | None
    workers_before: int
    workers_after: int | None = None
    outcome: Literal["respawned", "restarted", "down", "unaffected"]


class CrashSeen(Followed):
    answer: str


class StopSeen(Model):
    answer: str
    signal: Literal["direct", "/fault/stop"]
    delivered_after_s: float | None
    in_flight: int
    completed: int
    dropped: int
    probe_results: list[str]
    refusing_after_s: float | None


class SlowClientsSeen(Model):
    clients: int
    closed_by_server: int
    closed_after_s: float | None


class TimeoutSeen(Followed):
    long_ms: int
    result: str
    seconds: float


class BlockedRequest(Model):
    """One request of the block experiment, on a connection pinned to ``pid``."""

    role: Literal["blocker", "beside", "other"]
    pid: int | None
    worker_alive_after: bool | None
    result: str
    seconds: float
    answered_by: int | None


class BlockSeen(Followed):
    long_ms: int
    via: Literal["c", "c-uninterrupted"]
    pinned: bool
    result: str
    seconds: float
    same_in_flight: int
    same_completed: int
    other_in_flight: int
    other_completed: int
    requests: list[BlockedRequest]


class RecycleSeen(Model):
    workers: int
    recycled: int


class SoakSeen(Model):
    memory: list[Point2]
    memory_start_bytes: int | None = None
    memory_end_bytes: int | None = None
    memory_growth_bytes: int | None = None
    memory_peak_bytes: int | None = None


#: Per fault experiment, the shape of its ``observed`` (a test keeps the names those of labbench.faults).
OBSERVED: dict[str, type[Model]] = {
    "crash": CrashSeen,
    "stop": StopSeen,
    "slow-clients": SlowClientsSeen,
    "timeout": TimeoutSeen,
    "block": BlockSeen,
    "block-uninterrupted": BlockSeen,
    "recycle": RecycleSeen,
    "soak": SoakSeen,
}


class FaultCell(Model):
    """One fault experiment against one server (docs/faults.md)."""

    server: str
    fault: str
    repetition: int
    order: int
    status: str
    error: str | None = None
    started_at: str
    users: int
    #: What the runner saw; its keys depend on the fault (:data:`OBSERVED`, docs/results-schema.md).
    observed: dict[str, Any] | None = None
    #: [seconds from the fault, successes, failures] per second of Locust's history.
    timeline: list[Point3] = Field(default_factory=list)
    ok_per_s_before: float | None = None
    ok_per_s_after: float | None = None
    kept: float | None = None
    outage_s: int | None = None
    failures_after: int | None = None
    back_after_s: float | None = None
    raw: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def seen(self, key: str) -> Any:
        """One thing the runner observed, or None."""
        return (self.observed or {}).get(key)

    @model_validator(mode="after")
    def _observed_fits_its_fault(self) -> Self:
        if self.fault not in OBSERVED:
            raise ValueError(f"unknown fault {self.fault!r}; known: {', '.join(OBSERVED)}")
        if self.observed is not None:
            try:
                OBSERVED[self.fault].model_validate(self.observed)
            except ValidationError as error:
                raise ValueError(f"observed does not fit the {self.fault} experiment: {describe(error)}") from None
        return self


class Results(Model):
    """A whole run: ``results.json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    run: Run
    servers: dict[str, ServerInfo] = Field(default_factory=dict)
    scenarios: dict[str, ScenarioInfo] = Field(default_factory=dict)
    cells: list[Cell] = Field(default_factory=list)
    faults: list[FaultCell] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.run.finished_at is not None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "results.json") -> Results:
        """Parse and validate; a problem is a :class:`BenchError` naming ``source`` and the field."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise BenchError(
                f"{source} is not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
            ) from None
        if not isinstance(data, dict):
            raise BenchError(f"{source} holds no results object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BenchError(f"{source} has schema_version {version!r}; this labbench reads version {SCHEMA_VERSION}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise BenchError(f"{source}: {describe(error)}") from None


def describe(error: ValidationError, most: int = 5) -> str:
    """The first few problems, each as ``where: what`` (``cells[3].rps: Input should be a valid number``)."""
    problems = []
    for item in error.errors()[:most]:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]).lstrip(".")
        problems.append(f"{where or 'the file'}: {item['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


# --- files ------------------------------------------------------------------------


def load_results(folder: Path) -> Results:
    """``folder/results.json``, validated whole."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BenchError(
            f"{folder} is not a run folder: {'not a directory' if folder.exists() else 'no such directory'}"
        )
    path = folder / "results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"{folder} holds no results.json: not a benchmark run") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"cannot read {path}: {error}") from None
    return Results.from_json(text, str(path))


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    # A sibling, so os.replace stays on one filesystem; write_text honours the umask.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise BenchError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def save(folder: Path, results: Results) -> None:
    write_atomically(folder / "results.json", results.to_json())

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
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_serializer, model_validator
from pydantic import SerializerFunctionWrapHandler as Handler

from labbench import BenchError
from labbench.bottleneck import Bottleneck
from labbench.capacitymodels import Capacity, CapacitySettings
from labbench.faultcells import FaultCell
from labbench.model import Model, describe
from labcore import defaults

SCHEMA_VERSION = 1


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
    locust_workers: int = 0
    io_ms: int = defaults.IO_MS
    cpu_ms: int = defaults.CPU_MS
    seed: int
    quick: bool = False
    faults: list[str] = Field(default_factory=list)
    long_ms: int = defaults.LONG_MS
    soak_s: float = defaults.SOAK_S
    #: Which load generator measures the cells: one, or both side by side.
    engine: Literal["locust", "wrk", "both"] = "locust"
    #: Set in a ``labbench capacity`` run, whose ``users`` is empty: each step sizes its own.
    capacity: CapacitySettings | None = None
    crossover: bool = False  # --crossover: its scenarios are splits of /mixed
    #: Servers outside this Compose project (``--target-url``): name -> base URL.
    targets: dict[str, str] = Field(default_factory=dict, exclude_if=lambda targets: not targets)

    @property
    def measured(self) -> list[str]:
        """Every server the run loads: compose.yaml's, then the targets."""
        return [*self.servers, *self.targets]


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


class Placement(Model):
    servers: dict[str, list[int] | None] = Field(default_factory=dict)
    loadgen: list[int] = Field(default_factory=list)
    disjoint: bool | None = None


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
    wrk_command: list[str] | None = None
    placement: Placement | None = None


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
    io_ms: int | None = None  # a mixed scenario's wait and CPU work per request (work_ms: their sum)
    cpu_ms: int | None = None  # both absent, not null, elsewhere: older runs write back as they were

    @model_serializer(mode="wrap")
    def _parts_only_when_mixed(self, handler: Handler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None or key not in ("io_ms", "cpu_ms")}

    # Left out of the file when GET: runs from before it existed read and write back alike.
    method: str = Field(default="GET", exclude_if=lambda method: method == "GET")


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
    loadgen_cpu_workers: dict[str, float] | None = Field(default=None, exclude_if=lambda value: value is None)
    server_cpu_s: float | None = None
    server_memory_bytes: int | None = None
    server_memory_peak_bytes: int | None = None
    #: Which engine measured the cell; results made before there was a choice are Locust's.
    engine: Literal["locust", "wrk"] = "locust"
    #: This cell's req/s ÷ the other engine's on the same server, scenario, users and repetition.
    crosscheck: float | None = None
    #: Busy share (0..1) of the whole machine's CPUs over the measured window, from /proc/stat.
    host_cpu_busy: float | None = None
    #: What limited the number (labbench.bottleneck); None in results made before it was measured.
    bottleneck: Bottleneck | None = None
    raw: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def group(self) -> tuple[str, str, int, str]:
        """server, scenario, users, engine: what the report summarises over repetitions."""
        return (self.server, self.scenario, self.users, self.engine)

    @model_validator(mode="after")
    def _ok_cells_are_measured(self) -> Self:
        if self.ok:
            missing = [name for name in ("requests", "failures", "rps", "latency_ms") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"an ok cell needs {', '.join(missing)}")
        return self


class Results(Model):
    """A whole run: ``results.json``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    run: Run
    servers: dict[str, ServerInfo] = Field(default_factory=dict)
    scenarios: dict[str, ScenarioInfo] = Field(default_factory=dict)
    cells: list[Cell] = Field(default_factory=list)
    faults: list[FaultCell] = Field(default_factory=list)
    capacity: list[Capacity] = Field(default_factory=list)

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

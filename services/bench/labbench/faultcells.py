"""What the runner observed in each fault experiment (labbench.faults), typed: ``FaultCell``
and the shape of its ``observed`` per experiment. Part of a results file
(labbench.results holds them in ``Results.faults``); docs/results-schema.md
describes every field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from labbench.model import Model, describe

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

"""What ``labbench capacity`` writes in results.json: its settings, and per server × scenario a curve of steps.

Kept apart from labbench.results (which reads and writes them with the rest)
for size only; docs/results-schema.md describes every field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from labbench.bottleneck import SERVER_BOUND
from labbench.model import Model


class CapacitySettings(Model):
    """How ``labbench capacity`` stepped the offered rate (docs/methodology.md)."""

    #: The p99 budget; None: each scenario's own work + 100 ms.
    slo_p99_ms: float | None
    #: The lowest rate offered: a series starts at a share of its bound (labbench.knee.first_rate), never below.
    min_rps: float
    factor: float
    bisections: int
    max_rps: float
    #: Requests each step measures at least (labbench.knee.window_s).
    min_samples: int


# --- labbench capacity: an open model stepped until the SLO breaks -------------------

Bottleneck = Literal["server-cpu", "slots", "load-generator", "machine", "unexplained"]


class Step(Model):
    """One offered rate against one server: a warm-up, then a measured window."""

    offered_rps: float
    users: int
    status: str
    error: str | None = None
    started_at: str
    achieved_rps: float | None = None
    requests: int | None = None
    failures: int | None = None
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu: float | None = None
    loadgen_cpu: float | None = None
    host_cpu_busy: float | None = None
    memory_peak_bytes: int | None = None
    bottleneck: Bottleneck | None = None
    behind: bool = False
    #: Seconds waited before the step for the server to answer the series' own
    #: request with a 200 within the SLO twice running (labbench.capacity.settle);
    #: null where it did not within 30 s (the step ran all the same), or in a
    #: run made before the wait existed.
    settled_s: float | None = None
    #: Why the step breaks the SLO; empty where it holds.
    broken: list[str] = Field(default_factory=list)
    raw: str

    @property
    def holds(self) -> bool:
        return not self.broken


class Capacity(Model):
    """One server × scenario × repetition of ``labbench capacity``: its curve and its knee."""

    server: str
    scenario: str
    repetition: int = 1
    slo_p99_ms: float
    capacity_rps: float | None
    reason: str | None = None
    capacity_per_cpu: float | None = None
    memory_peak_bytes: int | None = None
    bottleneck: Bottleneck | None = None
    curve: list[Step] = Field(default_factory=list)

    @property
    def knee_is_the_servers(self) -> bool:
        """Whether the capacity measures the server: its CPU or its slots were full past the knee.
        Any other capacity is a lower bound on the machine it ran on."""
        return self.capacity_rps is not None and self.bottleneck in SERVER_BOUND

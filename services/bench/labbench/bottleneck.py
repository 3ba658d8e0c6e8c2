"""What limited one cell's req/s: the server, or something else (docs/methodology.md, "Bottleneck per cell").

A cell's number means the server's speed only when the server itself was the
limit: its CPU was used up, or (for an I/O scenario) its slots were full. When
neither holds, the load generator, the machine or something unmeasured set
the number, and the report must not rank servers on it. :func:`classify`
turns a cell's measurements into one of :data:`CLASSES`; the host-wide CPU it
needs comes from /proc/stat (:func:`host_cpu_sample`, :func:`host_busy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from labcore import defaults

Bottleneck = Literal["server-cpu", "slots", "load-generator", "machine", "unexplained"]
#: Every class, in the order the rules try them (but see :func:`classify` for the cross-check).
CLASSES: tuple[str, ...] = get_args(Bottleneck)
#: The classes whose number is the server's: the only cells a winner or a claim may rest on.
SERVER_BOUND = ("server-cpu", "slots")

PROC_STAT = Path("/proc/stat")


def classify(
    *,
    server_cpu: float | None,
    cpu_limit: float | None,
    in_service: float | None,
    slots: int | None,
    io_bound: bool,
    loadgen_cpu: float | None,
    host_busy: float | None,
    crosscheck: float | None,
) -> Bottleneck:
    """The first rule that holds, in this order (an unknown input never makes its rule hold):

    1. ``crosscheck`` < CROSSCHECK_LOW: another engine got more from the same server,
       so the server was not the limit, whatever its CPU says → ``load-generator``;
    2. ``server_cpu`` (cores) ≥ SERVER_CPU_HOT × ``cpu_limit`` → ``server-cpu``;
    3. an I/O scenario whose ``in_service`` ≥ SLOTS_FULL × ``slots`` → ``slots``;
    4. ``loadgen_cpu`` (0..1 of the engine's CPUs) ≥ LOADGEN_HOT → ``load-generator``;
    5. ``host_busy`` (0..1, every CPU of the machine) ≥ MACHINE_BUSY → ``machine``;
    6. else ``unexplained``.

    The server's own limits come before the load generator's and the
    machine's: a saturated server is the limit even when the generator is
    also busy (both often are on a 2-CPU machine), and a busy machine is the
    likely cause only when nothing more specific is.
    """
    if crosscheck is not None and crosscheck < defaults.CROSSCHECK_LOW:
        return "load-generator"
    if server_cpu is not None and cpu_limit and server_cpu >= defaults.SERVER_CPU_HOT * cpu_limit:
        return "server-cpu"
    if io_bound and slots and in_service is not None and in_service >= defaults.SLOTS_FULL * slots:
        return "slots"
    if loadgen_cpu is not None and loadgen_cpu >= defaults.LOADGEN_HOT:
        return "load-generator"
    if host_busy is not None and host_busy >= defaults.MACHINE_BUSY:
        return "machine"
    return "unexplained"


def slots_can_bind(kind: str, io_ms: int, cpu_ms: int, slots: int | None, cpu_limit: float | None) -> bool:
    """Whether full slots can be what limited a scenario's cell (``classify``'s ``io_bound``).

    ``io`` always: its requests only wait. A ``/mixed`` split when it waits
    at all and its slots bound it before the CPU does: slots ÷ (I/O + CPU
    time) ≤ CPUs ÷ CPU time (bounds.ideal_rps's two bounds), always without
    CPU work. Elsewhere requests queued for the CPU fill the slots too
    (Little's law counts them in service), and the rule would blame slots
    for what the CPU set. Before 2026-12-01 only ``io`` counted, and the
    crossover map's pure-I/O splits named no winner
    (docs/results.md, "The crossover map").
    """
    if kind == "io":
        return True
    if kind != "mixed" or io_ms <= 0:
        return False
    if cpu_ms <= 0:
        return True
    if not slots or not cpu_limit:
        return False
    return slots / (io_ms + cpu_ms) <= cpu_limit / cpu_ms


@dataclass(frozen=True)
class CpuSample:
    """The machine's CPU time so far, in clock ticks: busy and in all."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> CpuSample:
    """The aggregate ``cpu`` line of /proc/stat (every CPU of the machine)."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            # user nice system idle iowait irq softirq steal; guest and guest_nice
            # are already inside user and nice, so adding them would count twice.
            ticks = [int(value) for value in fields[1:9]]
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
            return CpuSample(busy=sum(ticks) - idle, total=sum(ticks))
    raise ValueError("no aggregate cpu line in /proc/stat")


def host_cpu_sample(path: Path = PROC_STAT) -> CpuSample | None:
    """Now's sample; None where /proc/stat cannot be read (not Linux).

    Host-wide on purpose: a container has no /proc/stat of its own, so inside
    the bench container this is the host's too, every tenant's CPU included.
    """
    try:
        return parse_proc_stat(path.read_text())
    except (OSError, ValueError):
        return None


def host_busy(before: CpuSample | None, after: CpuSample | None) -> float | None:
    """The share of the machine's CPU time that was busy between two samples (0..1)."""
    if before is None or after is None or after.total <= before.total:
        return None
    return (after.busy - before.busy) / (after.total - before.total)

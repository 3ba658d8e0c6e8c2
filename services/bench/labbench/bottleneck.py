"""What limited a measurement: the server's CPU, its slots, the load generator, or the machine.

A minimal copy of the shared interface (helper ``bottleneck`` owns the full
module): :func:`classify` with its rules in their order, and the host's CPU
busy share from /proc/stat. The thresholds live in :mod:`labcore.defaults`.
"""

from __future__ import annotations

from pathlib import Path

from labcore import defaults

CLASSES = ("server-cpu", "slots", "load-generator", "machine", "unexplained")
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
) -> str:
    """The first rule that holds, in the order the lab agreed on (docs/methodology.md)."""
    if crosscheck is not None and crosscheck < defaults.CROSSCHECK_LOW:
        return "load-generator"
    if server_cpu is not None and cpu_limit and server_cpu >= defaults.SERVER_CPU_HOT * cpu_limit:
        return "server-cpu"
    if io_bound and slots and in_service is not None and in_service >= defaults.SLOTS_FULL * slots:
        return "slots"
    if loadgen_cpu is not None and loadgen_cpu >= defaults.LOADGEN_HOT:
        return "load-generator"
    if host_busy is not None and host_busy >= defaults.HOST_BUSY:
        return "machine"
    return "unexplained"


def host_cpu_sample() -> tuple[int, int] | None:
    """(busy, total) jiffies of every CPU of the host, or None where /proc/stat is not there."""
    try:
        first = PROC_STAT.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(value) for value in first[1:]]
    # idle and iowait are the CPU doing nothing; guest time is already in user.
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def host_busy(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The host's busy share, 0..1, between two samples."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])

"""The bounds a perfect server would reach, and how close a group came (labbench.stats reads them).

Pure arithmetic on a group's kind of work, its users, the server's slots and
its CPUs: docs/methodology.md, "The ideal".
"""

from __future__ import annotations

from labbench import BenchError


def effective_concurrency(rps: float, mean_latency_ms: float) -> float:
    """Little's law: the average number of requests in flight, L = λ·W."""
    return rps * mean_latency_ms / 1000


def parse_cpus(text: str | None) -> float | None:
    """``run.limits.cpus`` ("1", "1.5") as a number; None when the run recorded none."""
    if text is None:
        return None
    try:
        cpus = float(text)
    except ValueError:
        raise BenchError(f"run.limits.cpus must be a number of CPUs such as '1' or '1.5', not {text!r}") from None
    if not cpus > 0:
        raise BenchError(f"run.limits.cpus must be more than 0, not {text!r}")
    return cpus


def ideal_rps(
    kind: str, work_ms: float | None, users: float, slots: int | None, cpus: float | None, cpu_ms: float | None = None
) -> float | None:
    """The most req/s a perfect server could give, or None where no bound applies.

    ``io``: requests only wait, so the server serves as many at once as it has
    slots (or users, whichever is fewer; no slots limit means users, which
    may be ``math.inf`` for an open model's unbounded arrivals), each
    taking ``work_ms``. ``cpu``: the CPUs are the limit, whatever the slots.
    ``mixed``: both at once; a slot is held for the whole ``work_ms`` (the
    wait and the ``cpu_ms`` of CPU), and the CPUs bound the ``cpu_ms`` part,
    so the lower of the two bounds.
    The baseline does no measured work, so it has no bound; neither does a
    scenario without work or a ``cpu`` run without a CPU limit.
    """
    if not work_ms or kind not in ("io", "cpu", "mixed"):
        return None
    seconds = work_ms / 1000
    by_slots = (users if slots is None else min(slots, users)) / seconds
    if kind == "io":
        return by_slots
    if kind == "mixed":
        by_cpu = cpus / (cpu_ms / 1000) if cpus is not None and cpu_ms else None
        return by_slots if by_cpu is None else min(by_slots, by_cpu)
    return None if cpus is None else cpus / seconds


def efficiency(rps: float | None, ideal: float | None) -> float | None:
    """Achieved ÷ ideal req/s, as a fraction; None when either is unknown."""
    if rps is None or not ideal:
        return None
    return rps / ideal

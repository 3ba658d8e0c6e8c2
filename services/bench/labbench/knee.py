"""``labbench capacity``'s rules on plain numbers: the SLO, the next rate to offer, and the knee.

Pure functions, so that the runner (labbench.capacity) and the report read a
curve the same way and tests can feed them fixed curves:

* :func:`breaks`: why one step misses the SLO (p99 over the budget, more
  than 0.1 % failures, or less than 95 % of the offered rate achieved);
* :func:`next_rate`: geometric steps up until a step breaks, then bisection
  (geometric means) between the highest step that held and the lowest that broke;
* :func:`knee`: the capacity, the highest offered rate that held below the
  lowest one that broke. A step that held above a broken one is noise and
  does not count: a person reading the chart would not trust it either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from labcore import defaults

#: Bisection stops once the highest rate that held is within this share of the lowest that broke.
RESOLUTION = 0.05


def default_slo_ms(work_ms: int | None) -> float:
    """The p99 budget when none is given: the scenario's own work + 100 ms."""
    return float((work_ms or 0) + defaults.CAPACITY_SLO_EXTRA_MS)


def breaks(
    *, offered: float, achieved: float | None, requests: int | None, failures: int | None, p99_ms: float | None,
    slo_p99_ms: float,
) -> list[str]:  # fmt: skip
    """Why a step misses the SLO, each reason in words; empty when it holds."""
    if not requests or achieved is None:
        return ["no request answered"]
    reasons = []
    if p99_ms is None or p99_ms > slo_p99_ms:
        reasons.append(f"p99 {p99_ms if p99_ms is not None else '?'} ms > {slo_p99_ms:g} ms")
    if failures is not None and failures > defaults.CAPACITY_FAILURES_MAX * requests:
        reasons.append(f"failures {failures / requests:.2%} > {defaults.CAPACITY_FAILURES_MAX:.1%}")
    if achieved < defaults.CAPACITY_ACHIEVED_MIN * offered:
        reasons.append(f"achieved {achieved:.1f} req/s < {defaults.CAPACITY_ACHIEVED_MIN:.0%} of {offered:g} offered")
    return reasons


def rounded(rate: float) -> float:
    """A rate to three significant figures: what one would type."""
    return float(f"{rate:.3g}")


def next_rate(
    tried: Sequence[tuple[float, bool]], *, start: float, factor: float, bisections: int, ceiling: float
) -> float | None:
    """The next offered rate after ``tried`` ((rate, held) in the order run), or None when done."""
    if not tried:
        return rounded(min(start, ceiling))
    held = [rate for rate, ok in tried if ok]
    broke = [rate for rate, ok in tried if not ok]
    if not broke:
        top = max(held)
        return None if top >= ceiling else rounded(min(top * factor, ceiling))
    low = min(broke)
    below = [rate for rate in held if rate < low]
    if not below:
        return None  # broke from the first step: nothing to bisect
    high = max(below)
    first_break = next(index for index, (_, ok) in enumerate(tried) if not ok)
    if len(tried) - first_break - 1 >= bisections or low / high <= 1 + RESOLUTION:
        return None
    middle = rounded(math.sqrt(high * low))
    return middle if high < middle < low else None


@dataclass(frozen=True)
class Knee:
    capacity: float | None
    #: Set where the capacity needs a word: none found, or only a lower bound.
    reason: str | None


def knee(tried: Sequence[tuple[float, bool]], ceiling: float | None = None) -> Knee:
    """The highest rate that held below the lowest that broke, as read off the chart."""
    held = [rate for rate, ok in tried if ok]
    broke = [rate for rate, ok in tried if not ok]
    if not tried:
        return Knee(None, "no step ran")
    if not broke:
        top = max(held)
        bound = "" if ceiling is None else f" (--max-rps {ceiling:g})"
        return Knee(top, f"the SLO held at every step up to {top:g} req/s{bound}: the capacity is at least that")
    low = min(broke)
    below = [rate for rate in held if rate < low]
    if not below:
        return Knee(None, f"the SLO broke at the lowest step, {low:g} req/s")
    return Knee(max(below), None)

"""``labbench capacity``'s rules on plain numbers: the SLO, the next rate to offer, and the knee.

Pure functions, so that the runner (labbench.capacity) and the report read a
curve the same way and tests can feed them fixed curves:

* :func:`breaks`: why one step misses the SLO (p99 over the budget, more
  than 0.1 % failures, or less than 95 % of the offered rate achieved);
* :func:`first_rate` and :func:`window_s`: where a series starts, and how long
  a step at a given rate measures (long enough for its p99 to be more than
  its slowest request);
* :func:`next_rate`: geometric steps up until a step breaks (down, while
  nothing has held below the lowest that broke), then bisection (geometric
  means) between the highest step that held and the lowest that broke;
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


def first_rate(bound: float | None, *, floor: float, ceiling: float) -> float:
    """A series' first offered rate: a share of its bound (``ceiling`` where it has none), within the limits."""
    share = defaults.CAPACITY_START_SHARE * min(bound if bound is not None else ceiling, ceiling)
    return rounded(min(max(floor, share), ceiling))


def window_s(rate: float, duration_s: float, min_samples: int) -> float:
    """Measured seconds of a step at ``rate``: ``duration_s``, or as long as
    ``min_samples`` requests take at that rate, and a second more, since
    Locust's window ends up to a second early (labbench.capacity). Whole
    seconds, as Locust's run time takes them."""
    needed = math.ceil(min_samples / rate) + 1 if min_samples else 0
    return float(max(math.ceil(duration_s), needed))


def achieved_rps(requests: int, window_s: float, mean_ms: float | None) -> float:
    """A step's achieved rate: its requests over its window and one mean latency.

    Locust counts the requests that end in the window (those in flight at its
    start among them) and, within its stop timeout, those in flight at its
    end: rate × mean latency more than the window's own (Little's law).
    """
    return requests / (window_s + (mean_ms or 0) / 1000)


def _bracketed_at(tried: Sequence[tuple[float, bool]]) -> int | None:
    """The index of the step after which a rate that held lay below the lowest that broke."""
    for index in range(len(tried)):
        broke = [rate for rate, ok in tried[: index + 1] if not ok]
        if broke and any(ok and rate < min(broke) for rate, ok in tried[: index + 1]):
            return index
    return None


def next_rate(
    tried: Sequence[tuple[float, bool]], *, start: float, factor: float, bisections: int, ceiling: float,
    floor: float | None = None,
) -> float | None:  # fmt: skip
    """The next offered rate after ``tried`` ((rate, held) in the order run), or None when done.

    Up by ``factor`` from ``start`` until a step breaks; while nothing held
    below the lowest that broke, down by ``factor`` to no lower than ``floor``
    (``start`` unless given); then ``bisections`` steps between the two.
    """
    if not tried:
        return rounded(min(start, ceiling))
    held = [rate for rate, ok in tried if ok]
    broke = [rate for rate, ok in tried if not ok]
    if not broke:
        top = max(held)
        return None if top >= ceiling else rounded(min(top * factor, ceiling))
    low = min(broke)
    below = [rate for rate in held if rate < low]
    lowest = start if floor is None else floor
    if not below:
        # Broke from the first step: down, unless the lowest rate allowed broke.
        down = rounded(max(low / factor, lowest))
        return down if down < low else None
    high = max(below)
    bracketed = _bracketed_at(tried)
    assert bracketed is not None
    if len(tried) - bracketed - 1 >= bisections or low / high <= 1 + RESOLUTION:
        return None
    middle = rounded(math.sqrt(high * low))
    return middle if high < middle < low else None


def planned(
    holds_up_to: float, *, start: float, factor: float, bisections: int, ceiling: float, floor: float
) -> list[float]:
    """The rates :func:`next_rate` offers a server that holds the SLO up to ``holds_up_to``: for estimates."""
    tried: list[tuple[float, bool]] = []
    while rate := next_rate(tried, start=start, factor=factor, bisections=bisections, ceiling=ceiling, floor=floor):
        tried.append((rate, rate <= holds_up_to))
    return [rate for rate, _ in tried]


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

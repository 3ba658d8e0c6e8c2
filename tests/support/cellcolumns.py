"""Columns that docs' measured tables show for a group of repeated cells,
shared by the tests that render those tables from committed runs."""

from __future__ import annotations

from labbench.results import Cell
from labbench.stats import TIMES, bottlenecks


def cpu_range(values: list[float]) -> str:
    """``0.42``, or ``0.38–0.74`` when the values differ at two decimals."""
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return low if low == high else f"{low}–{high}"


def classes(cells: list[Cell]) -> str:
    """Each repetition's bottleneck: ``server-cpu``, or ``load-generator ×2, unexplained ×1``."""
    counts = bottlenecks(cells)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{name} {TIMES}{count}" for name, count in counts.items())

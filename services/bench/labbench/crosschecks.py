"""``--engine both``: each group's Locust req/s next to wrk's, measured back to back.

A pure function of ``results.json``'s content, beside :mod:`labbench.stats`;
the report's cross-check section reads it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from labbench.results import Cell, Results
from labbench.stats import group_keys


@dataclass(frozen=True)
class Crosscheck:
    """One server x scenario x users measured by both engines (``--engine both``)."""

    server: str
    scenario: str
    users: int
    locust_rps: float
    wrk_rps: float
    #: Median over the rounds of Locust's req/s ÷ wrk's in the same round.
    ratio: float
    rounds: int


def crosschecks(results: Results) -> list[Crosscheck]:
    """Every group with a Locust cell carrying a ``crosscheck``, in the plan's order."""
    paired: dict[tuple[str, str, int], list[Cell]] = {}
    for cell in results.cells:
        if cell.ok and cell.crosscheck is not None:
            paired.setdefault((cell.server, cell.scenario, cell.users), []).append(cell)
    found = []
    for server, scenario, users, engine in group_keys(results):
        cells = paired.get((server, scenario, users), [])
        locust = [cell for cell in cells if cell.engine == "locust"]
        if engine != "locust" or not locust:
            continue
        wrk = [cell for cell in cells if cell.engine == "wrk"]
        found.append(
            Crosscheck(
                server,
                scenario,
                users,
                statistics.median((cell.rps or 0.0) for cell in locust),
                statistics.median((cell.rps or 0.0) for cell in wrk),
                statistics.median((cell.crosscheck or 0.0) for cell in locust),
                len(locust),
            )
        )
    return found

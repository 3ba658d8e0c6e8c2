"""The crossover map: per ``/mixed`` split and user count, the winning server or why there is none.

A pure function of ``results.json``'s content, beside :mod:`labbench.stats`
(whose :func:`~labbench.stats.winners` it reads); the report draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labbench.results import Results
from labbench.stats import Row, Winner, no_winner, winners


@dataclass(frozen=True)
class MapCell:
    """One (split, users) cell of the crossover map: its winner, or why it has none."""

    scenario: str
    io_ms: int
    cpu_ms: int
    users: int
    winner: Winner | None
    #: Why the cell names no winner; None when it does.
    why_not: str | None = None

    @property
    def within_spread(self) -> bool:
        """A winner whose lead the repetitions' spread does not make real."""
        return self.winner is not None and not self.winner.clear


def crossover_map(results: Results, rows: Sequence[Row]) -> list[MapCell]:
    """The crossover map: per ``mixed`` split (pure I/O first) and user count, the winner of
    :func:`winners` (its margin and :attr:`Winner.clear` say how real the win is), or
    why there is none (:func:`~labbench.stats.no_winner`: e.g. the fastest row was not
    server-bound, so its req/s was not set by its server)."""
    splits = [
        (name, spec.io_ms or 0, spec.cpu_ms or 0) for name, spec in results.scenarios.items() if spec.kind == "mixed"
    ]
    splits.sort(key=lambda split: (split[2], split[1]))
    found = {(winner.scenario, winner.users): winner for winner in winners(rows)}
    measured_users = sorted({row.users for row in rows if any(row.scenario == name for name, _, _ in splits)})
    cells = []
    for name, io_ms, cpu_ms in splits:
        for users in measured_users:
            winner = found.get((name, users))
            if winner is None:
                case = [row for row in rows if (row.scenario, row.users) == (name, users)]
                cells.append(MapCell(name, io_ms, cpu_ms, users, None, no_winner(case)))
            else:
                cells.append(MapCell(name, io_ms, cpu_ms, users, winner))
    return cells

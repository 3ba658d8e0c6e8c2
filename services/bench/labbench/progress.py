"""The run's progress on the terminal: cell i/N, what it measures, live req/s, time left."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


@dataclass
class Progressing:
    """The rich progress display of one run, counted in expected seconds rather than cells."""

    seconds: list[float]  # the expected length of each cell of the run, in order
    # stderr, so that stdout carries only what a script may want: the report's paths.
    console: Console = field(default_factory=lambda: Console(stderr=True))

    def __enter__(self) -> Progressing:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[cell]}"),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[rps]}"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.task = self.progress.add_task("", total=sum(self.seconds), cell="", rps="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start_cell(self, base: float, index: int, label: str, history: Path) -> Callable[[float], None]:
        """Show cell ``index`` (from 1); ``base`` is the expected seconds of every
        cell already done. The returned function takes the seconds into this
        cell and shows them, with the req/s of Locust's ``history`` CSV."""
        self.progress.update(
            self.task, completed=base, cell=f"cell {index}/{len(self.seconds)}", description=label, rps=""
        )

        def tick(seconds: float) -> None:
            self.progress.update(self.task, completed=base + seconds, rps=live_rps(history))

        return tick


def live_rps(history: Path) -> str:
    """The req/s of the last second, from Locust's history CSV; empty until it has one."""
    # Locust appends a row a second; the last Aggregated row is "now".
    with contextlib.suppress(OSError, ValueError, IndexError):
        lines = history.read_text().splitlines()
        for line in reversed(lines[1:]):
            fields = line.split(",")
            if "Aggregated" in fields:
                return f"{float(fields[4]):.0f} req/s"
    return ""

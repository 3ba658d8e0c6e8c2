"""``results/index.html``: the front page of every run in a results folder.

One line per run folder, newest first (and, in a table of their own, the
``labbench timeline`` folders): when it started, its mode and plan,
how it ended (finished or not, its cells by status), and links to its report
and to a comparison with the run before it. ``labbench run`` rewrites the
index after each run; ``labbench index [FOLDER]`` rewrites it on demand.

Every run is read with the same validation as everything else: a folder
whose results.json cannot be read is listed with the reason, never skipped in
silence. The comparisons (``labbench compare``'s Markdown, as HTML) go to
``compare/<A>__<B>.html`` beside the index; run folders are only read.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup

from labbench import BenchError, compare
from labbench.report.html import environment, stylesheet
from labbench.results import Results, load_results, write_atomically
from labbench.stats import TIMES
from labbench.timelinedata import FILE as TIMELINE_FILE
from labbench.timelinedata import Timelines, load_timelines

COMPARE_FOLDER = "compare"


@dataclass(frozen=True)
class Entry:
    """One run folder, as the index lists it."""

    folder: Path
    results: Results | None  # None: unreadable, see ``problem``
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def started_at(self) -> str:
        return self.results.run.started_at if self.results else ""

    @property
    def shape(self) -> str:
        if self.results is None:
            return ""
        plan = self.results.run.plan
        parts = [
            f"{len(plan.measured)} servers {TIMES} {len(plan.scenarios)} scenarios {TIMES} "
            f"{len(plan.users)} user counts {TIMES} {plan.repetitions} repetitions"
        ]
        if plan.faults:
            parts.append(f"faults: {', '.join(plan.faults)}")
        if plan.quick:
            parts.append("quick")
        return ", ".join(parts)

    @property
    def outcome(self) -> str:
        if self.results is None:
            return f"unreadable: {self.problem}"
        statuses = Counter(cell.status for cell in [*self.results.cells, *self.results.faults])
        counts = ", ".join(f"{count} {status}" for status, count in statuses.most_common()) or "no cells"
        return counts if self.results.finished else f"not finished: {counts}"

    def has(self, name: str) -> bool:
        return (self.folder / name).is_file()


def runs(output: Path) -> list[Entry]:
    """Every run folder under ``output`` (a folder with a results.json), oldest first."""
    entries = []
    for folder in sorted(path for path in Path(output).iterdir() if (path / "results.json").is_file()):
        try:
            entries.append(Entry(folder, load_results(folder)))
        except BenchError as error:
            entries.append(Entry(folder, None, str(error)))
    # Unreadable runs sort by name, which is their start time as the runner names them.
    return sorted(entries, key=lambda entry: (entry.started_at or entry.name, entry.name))


@dataclass(frozen=True)
class TimelineEntry:
    """One ``labbench timeline`` folder, as the index lists it."""

    folder: Path
    timelines: Timelines | None  # None: unreadable, see ``problem``
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def shape(self) -> str:
        if self.timelines is None:
            return f"unreadable: {self.problem}"
        run = self.timelines.run
        return (
            f"{len(run.servers)} servers {TIMES} {', '.join(run.scenarios)}, "
            f"{run.requests} concurrent requests per burst, {run.mode}"
        )

    def has(self, name: str) -> bool:
        return (self.folder / name).is_file()


def timeline_runs(output: Path) -> list[TimelineEntry]:
    """Every timeline folder under ``output`` (a folder with a timeline.json), newest first."""
    entries = []
    for folder in sorted(path for path in Path(output).iterdir() if (path / TIMELINE_FILE).is_file()):
        try:
            entries.append(TimelineEntry(folder, load_timelines(folder)))
        except BenchError as error:
            entries.append(TimelineEntry(folder, None, str(error)))
    return list(reversed(entries))


def _markdown_to_html(text: str) -> Markup:
    # Raw HTML in the Markdown (a server named "<b>") is escaped, never passed through.
    return Markup(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


def render_index(output: Path) -> Path:
    """Write ``output/index.html`` and the comparisons of consecutive readable runs; return the index's path."""
    output = Path(output)
    entries = runs(output)
    readable = [entry for entry in entries if entry.results is not None]
    previous: dict[str, tuple[str, str]] = {}  # run name -> (previous run's name, comparison's href)
    for before, after in itertools.pairwise(readable):
        href = f"{COMPARE_FOLDER}/{before.name}__{after.name}.html"
        page = (
            environment()
            .get_template("compare.html")
            .render(
                css=stylesheet(),
                before=before.name,
                after=after.name,
                table=_markdown_to_html(compare.compare(before.folder, after.folder)),
            )
        )
        (output / COMPARE_FOLDER).mkdir(exist_ok=True)
        write_atomically(output / href, page)
        previous[after.name] = (before.name, href)
    page = (
        environment()
        .get_template("index.html")
        .render(
            css=stylesheet(),
            entries=list(reversed(entries)),
            previous=previous,
            timelines=timeline_runs(output),
            folder=output.name or str(output),
        )
    )
    path = output / "index.html"
    write_atomically(path, page)
    return path

"""docs/methodology.md's "The issue's table, re-measured", rendered from the
committed ``--engine both`` runs that measured a bottleneck per cell
(docs/images/*-engines.json) and the plain wrk run by hand beside each
(*-engines-plain-wrk.txt). Earlier runs, made before the bottleneck existed,
stay committed and are left out of the table."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from labbench.bottleneck import SERVER_BOUND
from labbench.crosschecks import crosschecks
from labbench.results import Cell, Results
from labbench.stats import TIMES, bottlenecks
from tests.support.mdtables import md_tables

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
METHODOLOGY = IMAGES.parent / "methodology.md"
TABLE = "The issue's table, re-measured"
#: The issue's "Done when": a cell within 10 % of plain wrk (at least 0.9 of it) ...
CLOSE = 0.9


def plain_wrk(text: str) -> dict[tuple[str, str], list[float]]:
    """Requests/sec of each plain wrk run by hand, by server and scenario, from the ``### server path`` headers."""
    found: dict[tuple[str, str], list[float]] = {}
    for block in text.split("### ")[1:]:
        server, path = block.split()[:2]
        rate = re.search(r"^Requests/sec:\s+([\d.]+)$", block, re.M)
        # Read errors are uWSGI closing each connection after its answer; timeouts, wrk's 2 s default.
        assert rate and "Non-2xx" not in block, block
        found.setdefault((server, {"/": "hello", "/json": "json"}[path]), []).append(float(rate[1]))
    return found


def cpu_range(values: list[float]) -> str:
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return low if low == high else f"{low}–{high}"


def classes(cells: list[Cell]) -> str:
    """Each repetition's bottleneck: ``server-cpu``, or ``load-generator ×2, unexplained ×1``."""
    counts = bottlenecks(cells)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{name} {TIMES}{count}" for name, count in counts.items())


def verdict(ratio: float, cells: list[Cell]) -> str:
    """The issue's "Done when" for one engine's cell: close to plain wrk, flagged, or neither (a finding)."""
    if ratio >= CLOSE:
        return "≥ 0.9 × plain"
    if any(cell.bottleneck not in SERVER_BOUND for cell in cells):
        return "flagged"
    return "**neither**"


def engines_rows(results: Results, plain: dict[tuple[str, str], list[float]]) -> list[dict[str, str]]:
    rows = []
    for check in crosschecks(results):
        by_engine = {
            engine: [
                c
                for c in results.cells
                if c.ok and c.engine == engine and c.group[:3] == (check.server, check.scenario, check.users)
            ]
            for engine in ("locust", "wrk")
        }
        locust = by_engine["locust"]
        by_hand = statistics.median(plain[(check.server, check.scenario)])
        rows.append(
            {
                "server": f"`{check.server}`",
                "scenario": check.scenario,
                "Locust req/s": f"{check.locust_rps:.0f}",
                "lab's wrk req/s": f"{check.wrk_rps:.0f}",
                "plain wrk req/s": f"{by_hand:.0f}",
                "Locust ÷ wrk": f"{check.ratio:.2f}",
                "Locust ÷ plain wrk": f"{check.locust_rps / by_hand:.2f}",
                "lab's wrk ÷ plain wrk": f"{check.wrk_rps / by_hand:.2f}",
                "Locust bottleneck": classes(locust),
                "wrk bottleneck": classes(by_engine["wrk"]),
                "Locust: done when": verdict(check.locust_rps / by_hand, locust),
                "wrk: done when": verdict(check.wrk_rps / by_hand, by_engine["wrk"]),
                "Locust CPU": cpu_range([c.loadgen_cpu or 0 for c in locust]),
                "server CPU (cores)": cpu_range([(c.server_cpu_s or 0) / (c.duration_s or 1) for c in locust]),
            }
        )
    return rows


def measured_runs() -> list[Path]:
    """The committed ``--engine both`` runs whose cells carry a bottleneck."""
    runs = sorted(IMAGES.glob("*-engines.json"))
    return [run for run in runs if any(c.bottleneck for c in Results.from_json(run.read_text(), run.name).cells)]


@pytest.mark.unit
def test_methodology_shows_the_committed_engines_runs_as_they_render() -> None:
    runs = measured_runs()
    assert runs, "no committed --engine both run with a bottleneck per cell"
    expected = []
    for run in runs:
        results = Results.from_json(run.read_text(), run.name)
        plain = plain_wrk(run.with_name(run.name.replace(".json", "-plain-wrk.txt")).read_text())
        expected += engines_rows(results, plain)
    assert md_tables(METHODOLOGY.read_text())[TABLE] == expected

"""docs/methodology.md's "The issue's table, re-measured", rendered from the
committed ``--engine both`` runs that measured a bottleneck per cell
(docs/images/*-engines.json), the every-server runs at 16 and 64
connections (*-every-server.json), and the plain wrk run by hand beside each
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
from tests.support.cellcolumns import classes, cpu_range
from tests.support.mdtables import md_tables

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
METHODOLOGY = IMAGES.parent / "methodology.md"
TABLE = "The issue's table, re-measured"
EVERY_SERVER = "Every server at 16 and 64 connections"
#: The issue's "Done when": a cell within 10 % of plain wrk (at least 0.9 of it) ...
CLOSE = 0.9


def plain_wrk(text: str) -> dict[tuple[str, str, int], list[float]]:
    """Requests/sec of each plain wrk run by hand, by server, scenario and
    connections, from the ``### server path`` headers and wrk's own output."""
    found: dict[tuple[str, str, int], list[float]] = {}
    for block in text.split("### ")[1:]:
        server, path = block.split()[:2]
        rate = re.search(r"^Requests/sec:\s+([\d.]+)$", block, re.M)
        connections = re.search(r"^\s+\d+ threads and (\d+) connections$", block, re.M)
        # Read errors are uWSGI closing each connection after its answer; timeouts, wrk's 2 s default.
        assert rate and connections and "Non-2xx" not in block, block
        key = (server, {"/": "hello", "/json": "json"}[path], int(connections[1]))
        found.setdefault(key, []).append(float(rate[1]))
    return found


def verdict(ratio: float, cells: list[Cell]) -> str:
    """The issue's "Done when" for one engine's cell: close to plain wrk, flagged, or neither (a finding)."""
    if ratio >= CLOSE:
        return "≥ 0.9 × plain"
    if any(cell.bottleneck not in SERVER_BOUND for cell in cells):
        return "flagged"
    return "**neither**"


def engines_rows(results: Results, plain: dict[tuple[str, str, int], list[float]]) -> list[dict[str, str]]:
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
        by_hand = statistics.median(plain[(check.server, check.scenario, check.users)])
        rows.append(
            {
                "server": f"`{check.server}`",
                "scenario": check.scenario,
                "connections": str(check.users),
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


def measured_runs(kind: str) -> list[Path]:
    """The committed ``--engine both`` runs of a kind whose cells carry a bottleneck."""
    runs = sorted(IMAGES.glob(f"*-{kind}.json"))
    return [run for run in runs if any(c.bottleneck for c in Results.from_json(run.read_text(), run.name).cells)]


def rendered(kind: str) -> list[dict[str, str]]:
    """The rows of every committed run of a kind, each beside the plain wrk run by hand in its hold."""
    runs = measured_runs(kind)
    assert runs, f"no committed --engine both run (*-{kind}.json) with a bottleneck per cell"
    rows = []
    for run in runs:
        results = Results.from_json(run.read_text(), run.name)
        rows += engines_rows(results, plain_wrk(run.with_name(f"{run.stem}-plain-wrk.txt").read_text()))
    return rows


@pytest.mark.unit
@pytest.mark.parametrize(("kind", "table"), [("engines", TABLE), ("every-server", EVERY_SERVER)])
def test_methodology_shows_the_committed_engines_runs_as_they_render(kind: str, table: str) -> None:
    assert md_tables(METHODOLOGY.read_text())[table] == rendered(kind)


@pytest.mark.unit
def test_plain_wrk_is_read_per_connection_count() -> None:
    block = "### s / round 1 t\nRunning 5s test @ http://s:8000/\n  1 threads and 64 connections\n"
    assert plain_wrk(block + "Requests/sec:   1200.50\n") == {("s", "hello", 64): [1200.5]}
    with pytest.raises(AssertionError):
        plain_wrk(block + "  Non-2xx or 3xx responses: 3\nRequests/sec:   1200.50\n")

"""docs/results.md's "Two runs, the same servers": the full capacity run beside the earlier runs, as rendered here.

The earlier runs (one per scenario, shorter steps, no wait for a drained
server between steps) are committed as ``*-before-settle.json``; the table
puts each server's knee in both side by side, bold where the server set it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labbench.report.format import fmt
from labbench.results import Results
from tests.support import ROOT
from tests.support.mdtables import md_tables, sections_naming

pytestmark = pytest.mark.unit

IMAGES = ROOT / "docs" / "images"
#: The one capacity run results.md shows (tests/test_capacity.py checks its tables).
(FULL,) = IMAGES.glob("*-capacity*.json")
EARLIER = sorted(IMAGES.glob("*-before-settle.json"))
SCENARIOS = ("io", "cpu", "upstream")
HEADING = "Two runs, the same servers"


def load(path: Path) -> Results:
    return Results.from_json(path.read_text(), path.name)


def knees(results: Results) -> dict[tuple[str, str], str]:
    """Each server × scenario's capacity as the table shows it: bold where its knee was the server's."""
    shown = {}
    for entry in results.capacity:
        value = fmt(entry.capacity_rps)
        shown[entry.server, entry.scenario] = f"**{value}**" if entry.knee_is_the_servers else value
    return shown


def table() -> list[str]:
    full = load(FULL)
    earlier: dict[tuple[str, str], str] = {}
    for path in EARLIER:
        earlier |= knees(load(path))
    now = knees(full)
    header = ["server"] + [f"{scenario}: {run}" for scenario in SCENARIOS for run in ("full run", "earlier")]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|--:" * (len(header) - 1) + "|"]
    for server in full.run.plan.servers:
        cells = [value for scenario in SCENARIOS for value in (now[server, scenario], earlier[server, scenario])]
        lines.append("| " + " | ".join([server, *cells]) + " |")
    return lines


def test_the_earlier_runs_cover_every_scenario_of_the_full_run() -> None:
    covered = {entry.scenario for path in EARLIER for entry in load(path).capacity}
    assert covered == set(SCENARIOS) == set(load(FULL).run.plan.scenarios)


def test_results_md_shows_both_runs_knees_as_rendered_here() -> None:
    text = (ROOT / "docs" / "results.md").read_text()
    section = sections_naming(text, EARLIER[0].name, 3)
    assert f"### {HEADING}" in section and all(path.name in section for path in EARLIER)
    assert md_tables(section)[HEADING] == md_tables(f"# {HEADING}\n" + "\n".join(table()))[HEADING]

"""Draw docs/results.md's charts from a run's results.json with the report's own code.

    python docs/images/charts.py                        the run docs/results.md shows
    python docs/images/charts.py results/<run-id>       any other run (a folder or its results.json)
    python docs/images/charts.py --crossover            the crossover map docs/results.md shows
    python docs/images/charts.py --prefix capacity docs/images/<stamp>-capacity.json
                                                        a capacity run's charts: capacity-<scenario>.svg

Each chart is exactly what ``report.html`` shows for that run (labbench.report
draws it; this script only writes each one to its own SVG file), so the
images in the docs carry no number typed in by hand. Same data, same
matplotlib: byte-identical files. Needs labbench installed (the test
virtualenv has it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

from labbench.crossover import crossover_map
from labbench.report import capacity
from labbench.report.charts import chart_data, charts
from labbench.report.crossovermap import heatmap
from labbench.report.faultcharts import memory_chart, timeline_chart
from labbench.report.format import first_seen, run_colours
from labbench.report.tables import fault_cells, faults_present
from labbench.results import Results, load_results
from labbench.stats import summarize

HERE = Path(__file__).resolve().parent
#: The run docs/results.md shows: a byte-for-byte copy of its results.json
#: (results/ is not committed).
RUN = HERE / "2026-12-01T102246Z-results.json"
#: The crossover run docs/results.md shows (its map, drawn with --prefix crossover).
CROSSOVER = HERE / "2026-12-01T232653Z-crossover.json"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load(source: Path) -> tuple[str, Results]:
    """The run's id and results, from a run folder or a results.json file, checked as the report checks them."""
    if source.is_dir():
        results = load_results(source)
    else:
        with tempfile.TemporaryDirectory() as folder:
            shutil.copyfile(source, Path(folder) / "results.json")
            results = load_results(Path(folder))
    return results.run.id, results


def render(results: Results, output: Path, prefix: str = "results") -> list[Path]:
    """Every chart of every scenario, as ``<prefix>-<scenario>-<chart>.svg``, of
    every fault experiment, as ``<prefix>-fault-<name>.svg``, a crossover
    run's map, as ``<prefix>-map.svg``, and a capacity run's chart per
    scenario, as ``<prefix>-<scenario>.svg``; the paths written."""
    if results.capacity:
        # What report.html shows of a capacity run: per scenario, its latency against throughput.
        paths = [output / f"{prefix}-{scenario}.svg" for scenario in capacity.scenarios(results)]
        for path, scenario in zip(paths, capacity.scenarios(results), strict=True):
            path.write_text(capacity.chart(results, scenario).svg + "\n", encoding="utf-8")
        return paths
    rows = summarize(results)
    # The colours report.html gives each server.
    colours = run_colours(rows, results.run.plan.servers)
    written = []
    if cells := crossover_map(results, rows):
        path = output / f"{prefix}-map.svg"
        path.write_text(heatmap(cells, colours).svg + "\n", encoding="utf-8")
        # The map is what the docs show of a crossover run, not its per-split charts.
        return [path]
    for scenario in first_seen(row.scenario for row in rows):
        # The same ChartData that report.html's section for this scenario draws from.
        data = chart_data(scenario, rows, colours)
        spec = results.scenarios.get(scenario)
        for chart in charts(data, spec.kind if spec else "baseline"):
            path = output / f"{prefix}-{scenario}-{_slug(chart.title)}.svg"
            path.write_text(chart.svg + "\n", encoding="utf-8")
            written.append(path)
    for fault in faults_present(results):
        cells = fault_cells(results, fault)
        drawn = {"": timeline_chart(fault, cells, colours)}
        if fault == "soak":
            drawn["-memory"] = memory_chart(cells, colours)
        for suffix, svg in drawn.items():
            path = output / f"{prefix}-fault-{fault}{suffix}.svg"
            path.write_text(svg + "\n", encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, nargs="?", default=RUN, help="a run folder or its results.json")
    parser.add_argument("--output", type=Path, default=HERE, help="where the SVG files go (default: docs/images)")
    parser.add_argument("--prefix", default=None, help="the start of each file name (default: results, crossover)")
    parser.add_argument("--crossover", action="store_true", help="draw the crossover run docs/results.md shows")
    args = parser.parse_args()
    source = CROSSOVER if args.crossover else args.source
    prefix = args.prefix or ("crossover" if args.crossover else "results")
    run_id, results = load(source)
    args.output.mkdir(parents=True, exist_ok=True)
    for path in render(results, args.output, prefix):
        print(f"wrote {path} (run {run_id})")


if __name__ == "__main__":
    main()

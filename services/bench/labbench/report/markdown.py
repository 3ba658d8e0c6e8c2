"""report.md: the run's winners, tables, warnings and method as Markdown, to paste into an issue or the docs."""

from __future__ import annotations

from collections.abc import Iterable

from labbench import faults
from labbench.crosschecks import crosschecks
from labbench.crossover import crossover_map
from labbench.report import capacity, crossovermap
from labbench.report.findings import headlines, methodology, notices, winner_detail
from labbench.report.format import first_seen, fmt, server_label
from labbench.report.tables import (
    CROSSCHECK_COLUMNS,
    CROSSCHECK_TEXT,
    MD_COLUMNS,
    fault_cells,
    fault_headers,
    fault_values,
    faults_present,
    legend,
    notes,
    table_order,
    values,
    won,
)
from labbench.results import Results
from labbench.stats import Row, winners


def _line(cells: Iterable[str]) -> str:
    """One table row; a | inside a cell is escaped."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def scenario_table(rows: Iterable[Row], winning: set[tuple[str, str, int, str]]) -> list[str]:
    """One scenario's table: its rows in :func:`table_order`, the notes right after each group's name."""
    rows = list(rows)  # read twice: the table, then its legend
    lines = ["| " + " | ".join(MD_COLUMNS) + " |", "|---|--:|---|" + "--:|" * (len(MD_COLUMNS) - 3)]
    for row in table_order(rows):
        users, *numbers = values(row)
        badges = ", ".join(text for _, text in notes(row, row.key in winning))
        lines.append(_line([server_label(row), users, badges, *numbers]))
    marks = legend(rows)
    return lines + ([""] + [f"- {line}" for line in marks] if marks else [])


def crosscheck_section(results: Results) -> list[str]:
    """``--engine both``: each server's Locust req/s next to wrk's, measured back to back."""
    found = crosschecks(results)
    if not found:
        return []
    lines = ["", "## Cross-check: Locust and wrk", "", CROSSCHECK_TEXT, ""]
    lines += ["| " + " | ".join(CROSSCHECK_COLUMNS) + " |", "|---|---|--:|--:|--:|--:|"]
    for check in found:
        shown = [fmt(check.locust_rps), fmt(check.wrk_rps), f"{check.ratio:.2f}"]
        lines.append(_line([check.server, check.scenario, str(check.users), *shown]))
    return lines


def fault_sections(results: Results) -> list[str]:
    """A section per fault experiment of the run: its question and one row per server."""
    lines: list[str] = []
    for fault in faults_present(results):
        spec = faults.FAULTS[fault]
        headers = fault_headers(fault)
        lines += ["", f"## Fault: {spec.title}", "", spec.question, ""]
        lines += ["| " + " | ".join(headers) + " |", "|---|" + "--:|" * (len(headers) - 1)]
        for cell in fault_cells(results, fault):
            shown = fault_values(fault, cell)
            shown += [""] * (len(headers) - 1 - len(shown))
            lines.append(_line([cell.server, *shown]))
    return lines


def render_markdown(results: Results, rows: list[Row]) -> str:
    run = results.run
    found = winners(rows)
    finished = run.finished_at or "— (not finished)"
    lines = [f"# Benchmark run {run.id}", ""]
    lines += [f"{run.mode} mode, started {run.started_at}, finished {finished}."]
    scenarios = first_seen(row.scenario for row in rows)
    if scenarios:
        lines += ["", "## Winners", ""]
    for headline in headlines(scenarios, found, rows):
        lines.append(f"- **{headline.scenario}**: {headline.sentence}")
        lines += [f"  - {winner_detail(winner)}" for winner in headline.winners]
        lines += [f"  - {detail}" for detail in headline.unwon_details]
    if cells := crossover_map(results, rows):
        lines += ["", "## Crossover map", ""]
        lines += crossovermap.table(cells)
    winning = won(rows)
    for scenario in scenarios:
        spec = results.scenarios.get(scenario)
        method, path, kind = (spec.method, spec.path, spec.kind) if spec else ("GET", "?", "?")
        lines += ["", f"## {scenario}", "", f"`{method} {path}`, kind {kind}.", ""]
        lines += scenario_table((row for row in rows if row.scenario == scenario), winning)
    lines += crosscheck_section(results)
    lines += fault_sections(results)
    lines += capacity.markdown(results)
    lines += ["", "## Warnings", ""]
    lines += [f"- {notice.text}" for notice in notices(results, rows)] or ["None."]
    lines += ["", "## Methodology", ""]
    lines += [f"- {sentence}" for sentence in methodology(results)]
    return "\n".join(lines) + "\n"

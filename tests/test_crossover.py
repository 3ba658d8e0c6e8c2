"""The crossover map: its splits, its scenarios, who wins each cell, and how it is drawn (unit)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from labbench import cli, locustrun, metadata
from labbench.bounds import ideal_rps
from labbench.crossover import crossover_map
from labbench.report import crossovermap, render_html, render_markdown
from labbench.report.format import server_colours
from labbench.results import Plan
from labbench.stats import summarize
from labcore import defaults, protocol
from labcore.scenarios import SCENARIOS, SPLITS, resolve, split_name, split_of, splits
from tests.support import bench_fixtures, crossover_fixtures
from tests.support.crossover_fixtures import crossover_results

pytestmark = pytest.mark.unit

PURE_IO, MIDDLE, PURE_CPU = crossover_fixtures.PURE_IO, crossover_fixtures.MIDDLE, crossover_fixtures.PURE_CPU


def _map() -> list[crossovermap.MapCell]:
    results = bench_fixtures.typed(crossover_results())
    return crossover_map(results, summarize(results))


# --- the splits and their scenarios ------------------------------------------------------


def test_the_splits_run_from_pure_io_to_pure_cpu_with_the_same_total_work() -> None:
    assert 5 <= len(SPLITS) <= 7
    work = [split_of(name) for name in SPLITS]
    assert work[0] == (defaults.MIXED_MS, 0)
    assert work[-1] == (0, defaults.MIXED_MS)
    assert all(pair is not None and sum(pair) == defaults.MIXED_MS for pair in work)
    cpu = [pair[1] for pair in work if pair is not None]
    assert cpu == sorted(set(cpu)), "each split has more CPU than the one before"


def test_splits_come_from_the_shares() -> None:
    assert splits(100, (100, 25, 0)) == ["mixed-io100-cpu0", "mixed-io25-cpu75", "mixed-io0-cpu100"]


def test_a_split_resolves_to_the_mixed_scenario_with_its_own_work() -> None:
    scenario, io_ms, cpu_ms = resolve(split_name(40, 10), io_ms=100, cpu_ms=10)
    assert (scenario.name, io_ms, cpu_ms) == ("mixed", 40, 10)
    assert scenario.request(io_ms, cpu_ms) == "/mixed?io_ms=40&cpu_ms=10"
    assert scenario.work_ms(io_ms, cpu_ms) == 50
    # Any other scenario keeps the run's work.
    assert resolve("io", io_ms=70, cpu_ms=5) == (SCENARIOS["io"], 70, 5)


@pytest.mark.parametrize("name", ["mixed", "mixed-io-cpu", "mixed-io1-cpu", "mixed-io40-cpu10x", "nope"])
def test_what_is_not_a_split_or_a_scenario_is_unknown(name: str) -> None:
    assert split_of(name) is None
    if name not in SCENARIOS:
        with pytest.raises(KeyError):
            resolve(name)


def test_the_mixed_check_wants_both_numbers_echoed() -> None:
    mixed = SCENARIOS["mixed"]
    assert mixed.check('{"io_ms": 40, "cpu_ms": 10, "rounds": 3}', 40, 10) is None
    assert mixed.check('{"io_ms": 40, "cpu_ms": 11}', 40, 10) is not None
    assert mixed.check('{"io_ms": 41, "cpu_ms": 10}', 40, 10) is not None
    assert mixed.check('{"slept_ms": 40}', 40, 10) is not None
    assert mixed.check("Hello, World!", 40, 10) is not None


def test_a_split_is_described_with_both_parts_of_its_work() -> None:
    plan = crossover_results()["run"]["plan"]
    info = metadata.scenario_info("mixed-io40-cpu10", Plan(**plan), SCENARIOS)
    assert (info.kind, info.path, info.work_ms, info.io_ms, info.cpu_ms) == ("mixed", "/mixed", 50, 40, 10)
    assert metadata.scenario_info("io", Plan(**plan), SCENARIOS).io_ms is None


def test_mixed_ideal_is_the_lower_of_the_slots_and_the_cpu_bound() -> None:
    # 4 slots held 50 ms each: 80 req/s; 1 CPU for 10 ms of it: 100 req/s.
    assert ideal_rps("mixed", 50, users=16, slots=4, cpus=1.0, cpu_ms=10) == pytest.approx(80)
    # Unbounded slots: the CPU decides.
    assert ideal_rps("mixed", 50, users=16, slots=None, cpus=1.0, cpu_ms=10) == pytest.approx(100)
    # Pure I/O: no CPU bound at all.
    assert ideal_rps("mixed", 50, users=16, slots=4, cpus=1.0, cpu_ms=0) == pytest.approx(80)


# --- the option --------------------------------------------------------------------------


def test_crossover_sweeps_the_splits_at_the_crossover_users() -> None:
    values = cli.settings(["--crossover"])
    assert values["scenarios"] == SPLITS
    assert values["users"] == list(defaults.CROSSOVER_USERS)
    assert values["crossover"] is True


def test_crossover_keeps_the_users_and_scenarios_asked_for() -> None:
    values = cli.settings(["--crossover", "--users", "8,32", "--scenarios", f"{SPLITS[0]},{SPLITS[-1]}"])
    assert values["users"] == [8, 32]
    assert values["scenarios"] == [SPLITS[0], SPLITS[-1]]


def test_without_crossover_nothing_changes() -> None:
    values = cli.settings([])
    assert values["crossover"] is False
    assert not any(split_of(name) for name in values["scenarios"])


# --- who wins each cell ------------------------------------------------------------------


def test_the_map_orders_the_splits_from_pure_io_to_pure_cpu() -> None:
    assert [cell.scenario for cell in _map()] == [PURE_IO, MIDDLE, PURE_CPU]


def test_a_clear_win_names_the_winner_and_its_margin() -> None:
    cell = _map()[0]
    assert cell.winner is not None and cell.why_not is None
    assert cell.winner.row.server == "gunicorn-gevent"
    assert cell.winner.margin == pytest.approx(300 / 78)
    assert not cell.within_spread
    assert crossovermap.verdict(cell) == "×3.85"


def test_overlapping_spreads_are_within_the_spread() -> None:
    cell = _map()[1]
    assert cell.winner is not None and cell.winner.row.server == "gunicorn-gevent"
    assert cell.within_spread
    assert crossovermap.verdict(cell).startswith("within the spread")


def test_a_winner_whose_load_generator_was_hot_is_no_winner_and_says_why() -> None:
    cell = _map()[2]
    assert cell.winner is None
    assert cell.why_not is not None and "load-generator" in cell.why_not
    assert crossovermap.verdict(cell).startswith("no winner: ")


def test_a_cell_where_nothing_could_win_says_so() -> None:
    data = crossover_results()
    for cell in data["cells"]:
        if cell["scenario"] == MIDDLE:
            cell["failures"] = cell["requests"]
    results = bench_fixtures.typed(data)
    middle = crossover_map(results, summarize(results))[1]
    assert middle.winner is None and "failures" in (middle.why_not or "")


def test_a_run_without_mixed_scenarios_has_no_map() -> None:
    results = bench_fixtures.typed()
    assert crossover_map(results, summarize(results)) == []
    assert "Crossover map" not in render_markdown(results, summarize(results))
    assert 'id="crossover-map"' not in render_html(results, summarize(results))


# --- how it is drawn ---------------------------------------------------------------------


def test_the_heatmap_has_a_cell_per_split_and_users() -> None:
    cells = _map()
    chart = crossovermap.heatmap(cells, server_colours(["gunicorn-sync", "gunicorn-gevent"]))
    ids = re.findall(rf'id="crossover-map-{crossovermap.CELL_ID}-([^"]+)"', chart.svg)
    assert sorted(ids) == sorted(f"{cell.scenario}-u{cell.users}" for cell in cells)
    assert chart.svg.startswith("<svg")


def test_the_heatmap_is_the_same_for_the_same_data() -> None:
    colours = server_colours(["gunicorn-sync", "gunicorn-gevent"])
    assert crossovermap.heatmap(_map(), colours).svg == crossovermap.heatmap(_map(), colours).svg


def test_both_reports_carry_the_map() -> None:
    results = bench_fixtures.typed(crossover_results())
    rows = summarize(results)
    markdown = render_markdown(results, rows)
    assert "## Crossover map" in markdown
    assert "| 50 ms I/O + 0 ms CPU | 16 | gunicorn-gevent | 300 | gunicorn-sync | 78.0 | ×3.85 |" in markdown
    html = render_html(results, rows)
    assert 'id="crossover-map"' in html
    assert html.count(f'id="crossover-map-{crossovermap.CELL_ID}-') == 3


# --- the run goes on -----------------------------------------------------------------------


def test_a_locust_that_ends_before_its_warm_up_is_a_failed_cell_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found in the first crossover run: on a loaded machine Locust once hit its
    # run time before the warm-up ended and exited by itself; killing the gone
    # process raised NoSuchProcess and ended the whole run.
    announce = f"import sys; print({protocol.LOG_STARTED!r}, file=sys.stderr)"
    monkeypatch.setattr(locustrun, "command", lambda *_args: [sys.executable, "-c", announce])
    load = locustrun.Load("Mixed", 1, warmup_s=1, duration_s=1, processes=1, io_ms=1, cpu_ms=1)
    with pytest.raises(locustrun.LocustFailed, match="never ended its warm-up"):
        locustrun.measure(load, "http://127.0.0.1:9", tmp_path / "cell")

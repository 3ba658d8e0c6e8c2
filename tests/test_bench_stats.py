"""labbench.stats on fixed inputs: every derived number a report shows, worked out by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest

from labbench import BenchError
from labbench.stats import (
    MAX_WINNER_FAILURE_PCT,
    MIB,
    TIMES,
    Row,
    Spread,
    Winner,
    coefficient_of_variation,
    effective_concurrency,
    efficiency,
    ideal_rps,
    parse_cpus,
    spread,
    summarize,
    winners,
)
from tests.support import bench_fixtures

pytestmark = pytest.mark.unit


def _rows(results: dict[str, Any]) -> dict[tuple[str, str, int], Row]:
    """By server, scenario and users: the fixtures' cells are Locust's."""
    return {row.key[:3]: row for row in summarize(bench_fixtures.typed(results))}


def _winners(results: dict[str, Any]) -> list[Winner]:
    return winners(summarize(bench_fixtures.typed(results)))


def _only_cells(results: dict[str, Any], keep: Any) -> dict[str, Any]:
    results["cells"] = [cell for cell in results["cells"] if keep(cell)]
    return results


# --- small functions ----------------------------------------------------------------


def test_spread_is_median_with_min_and_max() -> None:
    assert spread([3.0, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0)
    assert spread([4.0, 1.0, 2.0, 3.0]) == Spread(2.5, 1.0, 4.0)


def test_spread_of_one_value_is_that_value() -> None:
    assert spread([7.5]) == Spread(7.5, 7.5, 7.5)


def test_spread_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        spread([])


def test_coefficient_of_variation_uses_the_sample_deviation() -> None:
    # mean 5, sample standard deviation sqrt(32/7)
    assert coefficient_of_variation([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(math.sqrt(32 / 7) / 5)
    assert coefficient_of_variation([10.0, 10.0, 10.0]) == 0


@pytest.mark.parametrize("values", [[], [5.0], [0.0, 0.0]])
def test_coefficient_of_variation_is_undefined_for_one_value_or_a_zero_mean(values: list[float]) -> None:
    assert coefficient_of_variation(values) is None


def test_effective_concurrency_is_littles_law() -> None:
    assert effective_concurrency(200.0, 50.0) == pytest.approx(10.0)
    assert effective_concurrency(0.0, 50.0) == 0


@pytest.mark.parametrize(
    ("slots", "users", "expected"),
    [
        (4, 32, 40.0),  # the slots are the limit
        (1000, 8, 80.0),  # the users are
        (None, 32, 320.0),  # unbounded: only the users limit it
    ],
)
def test_io_ideal_is_the_smaller_of_slots_and_users_over_the_sleep(
    slots: int | None, users: int, expected: float
) -> None:
    assert ideal_rps("io", 100, users, slots, cpus=1.0) == pytest.approx(expected)


def test_cpu_ideal_is_the_cpus_over_the_cpu_time_whatever_the_slots() -> None:
    assert ideal_rps("cpu", 10, 32, 4, cpus=1.5) == pytest.approx(150.0)
    assert ideal_rps("cpu", 10, 32, None, cpus=1.0) == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("kind", "work_ms", "cpus"),
    [("baseline", None, 1.0), ("io", None, 1.0), ("io", 0, 1.0), ("cpu", 10, None), ("mix", 100, 1.0)],
)
def test_no_ideal_without_a_bound(kind: str, work_ms: int | None, cpus: float | None) -> None:
    assert ideal_rps(kind, work_ms, 32, 4, cpus) is None


@pytest.mark.parametrize(("text", "expected"), [("1", 1.0), ("1.5", 1.5), ("0.25", 0.25), (None, None)])
def test_parse_cpus(text: str | None, expected: float | None) -> None:
    assert parse_cpus(text) == expected


@pytest.mark.parametrize("text", ["one", "", "0", "-1", "nan"])
def test_parse_cpus_refuses_what_is_not_a_positive_number(text: str) -> None:
    with pytest.raises(BenchError, match=r"run\.limits\.cpus"):
        parse_cpus(text)


def test_efficiency() -> None:
    assert efficiency(30.0, 40.0) == pytest.approx(0.75)
    assert efficiency(30.0, None) is None
    assert efficiency(None, 40.0) is None


# --- summarize ------------------------------------------------------------------------


def test_one_row_per_planned_group_in_plan_order() -> None:
    rows = summarize(bench_fixtures.typed())
    expected = [
        (server, scenario, users, "locust")
        for scenario in bench_fixtures.SCENARIOS
        for server in bench_fixtures.SERVERS
        for users in bench_fixtures.USERS
    ]
    assert [row.key for row in rows] == expected


def test_a_row_has_every_derived_column() -> None:
    row = _rows(bench_fixtures.results())[("gunicorn-sync", "io", 32)]
    # The model: 4 slots / 0.1 s = 40 req/s ideal, 95% of it, jitter 1.00 / 1.02 / 0.97.
    assert row.rps == Spread(38.0, pytest.approx(36.86), pytest.approx(38.76))
    assert row.repetitions == 3
    assert row.planned == 3
    assert row.status == "ok"
    mean_ms = [32 / bench_fixtures.model_rps("gunicorn-sync", "io", 32, r) * 1000 for r in (1, 2, 3)]
    assert row.p50 == pytest.approx(sorted(mean_ms)[1], abs=1e-3)
    assert row.p95 == pytest.approx(1.5 * sorted(mean_ms)[1], abs=1e-2)
    assert row.p99 == pytest.approx(2 * sorted(mean_ms)[1], abs=1e-2)
    assert row.max_ms == pytest.approx(3 * sorted(mean_ms)[1], abs=1e-2)
    assert row.failure_pct == 0
    assert row.req_per_cpu_s == pytest.approx(1000, rel=1e-3)  # 1 ms of CPU per request
    assert row.memory_mib == 70 + 3 + 32  # the largest peak: repetition 3
    assert row.effective_concurrency == pytest.approx(32, rel=1e-3)  # closed loop: every user in flight
    assert row.ideal == pytest.approx(40.0)
    assert row.efficiency == pytest.approx(0.95)
    assert row.rps_cv == pytest.approx(coefficient_of_variation([38.0, 38.76, 36.86]))
    assert row.ideal_concurrency == pytest.approx(4.0)
    assert not row.loadgen_bound


def test_unbounded_slots_make_the_users_the_io_bound() -> None:
    rows = _rows(bench_fixtures.results())
    assert rows[("flask-dev", "io", 8)].ideal == pytest.approx(80.0)
    assert rows[("flask-dev", "io", 32)].ideal == pytest.approx(320.0)


def test_cpu_ideal_comes_from_the_limits() -> None:
    results = bench_fixtures.results()
    results["run"]["limits"]["cpus"] = "2"
    row = _rows(results)[("gunicorn-gevent", "cpu", 8)]
    assert row.ideal == pytest.approx(200.0)
    assert row.efficiency == pytest.approx(0.4)


def test_no_cpu_ideal_without_a_cpu_limit() -> None:
    results = bench_fixtures.results()
    del results["run"]["limits"]["cpus"]
    row = _rows(results)[("gunicorn-gevent", "cpu", 8)]
    assert row.ideal is None
    assert row.efficiency is None
    assert row.rps is not None


def test_loadgen_bound_in_one_repetition_flags_the_group() -> None:
    rows = _rows(bench_fixtures.results())
    assert rows[bench_fixtures.LOADGEN_BOUND[:3]].loadgen_bound
    assert [row.key[:3] for row in rows.values() if row.loadgen_bound] == [bench_fixtures.LOADGEN_BOUND[:3]]


def test_loadgen_bound_of_a_failed_cell_does_not_flag_the_numbers() -> None:
    results = bench_fixtures.results()
    for cell in results["cells"]:
        if (cell["server"], cell["scenario"], cell["users"], cell["repetition"]) == bench_fixtures.LOADGEN_BOUND:
            cell["status"], cell["error"] = "locust-error", "exit code 1"
    assert not _rows(results)[bench_fixtures.LOADGEN_BOUND[:3]].loadgen_bound


def test_a_failed_repetition_is_counted_and_left_out_of_the_numbers() -> None:
    row = _rows(bench_fixtures.results())[bench_fixtures.DIED[:3]]
    assert row.repetitions == 2
    assert row.statuses == {"server-died": 1}
    assert row.status == f"server-died {TIMES}1"
    rps = [bench_fixtures.model_rps("gunicorn-sync", "cpu", 32, r) for r in (1, 2)]
    assert row.rps == Spread(pytest.approx(sum(rps) / 2), min(rps), max(rps))


def test_a_group_whose_every_cell_failed_keeps_a_row_without_numbers() -> None:
    results = bench_fixtures.results()
    for cell in results["cells"]:
        if (cell["server"], cell["scenario"], cell["users"]) == ("gunicorn-gevent", "io", 8):
            cell |= {"status": "server-unavailable", "error": "did not answer", "rps": None, "requests": None}
    row = _rows(results)[("gunicorn-gevent", "io", 8)]
    assert row.statuses == {"server-unavailable": 3}
    assert row.repetitions == 0
    assert not row.measured
    measurements = [row.rps, row.p50, row.p95, row.p99, row.max_ms, row.failure_pct, row.req_per_cpu_s]
    measurements += [row.memory_mib, row.effective_concurrency, row.efficiency, row.rps_cv]
    assert measurements == [None] * len(measurements)
    assert row.ideal == pytest.approx(80.0)  # the bound does not depend on the measurement


def test_a_planned_group_without_any_cell_is_not_run() -> None:
    results = _only_cells(bench_fixtures.results(), lambda cell: cell["server"] != "flask-dev")
    row = _rows(results)[("flask-dev", "cpu", 8)]
    assert row.status == "not run"
    assert not row.measured


def test_one_repetition_is_its_own_median_and_range() -> None:
    results = _only_cells(bench_fixtures.results(), lambda cell: cell["repetition"] == 2)
    results["run"]["plan"]["repetitions"] = 1
    row = _rows(results)[("gunicorn-gevent", "io", 32)]
    rps = bench_fixtures.model_rps("gunicorn-gevent", "io", 32, 2)
    assert row.rps == Spread(rps, rps, rps)
    assert row.rps_cv is None
    assert row.repetitions == row.planned == 1


def test_failure_percent_pools_all_repetitions() -> None:
    results = bench_fixtures.results()
    cells = [c for c in results["cells"] if (c["server"], c["scenario"], c["users"]) == bench_fixtures.FAILING]
    expected = 100 * sum(c["failures"] for c in cells) / sum(c["requests"] for c in cells)
    assert _rows(results)[bench_fixtures.FAILING].failure_pct == pytest.approx(expected)
    assert expected == pytest.approx(2.0, abs=0.05)


def test_cpu_and_memory_may_be_missing_from_ok_cells() -> None:
    results = bench_fixtures.results()
    for cell in results["cells"]:
        if cell["server"] == "flask-dev":
            cell |= {"server_cpu_s": None, "server_memory_bytes": None, "server_memory_peak_bytes": None}
    row = _rows(results)[("flask-dev", "io", 8)]
    assert row.req_per_cpu_s is None
    assert row.memory_mib is None
    assert row.rps is not None


def test_memory_is_the_largest_peak_in_mib() -> None:
    results = bench_fixtures.results()
    for cell in results["cells"]:
        if (cell["server"], cell["scenario"], cell["users"], cell["repetition"]) == ("flask-dev", "io", 8, 2):
            cell["server_memory_peak_bytes"] = 300 * MIB
    assert _rows(results)[("flask-dev", "io", 8)].memory_mib == 300


def test_a_cell_outside_the_plan_still_gets_a_row() -> None:
    results = bench_fixtures.results()
    extra = next(cell for cell in results["cells"] if cell["status"] == "ok") | {"users": 64}
    results["cells"].append(extra)
    rows = summarize(bench_fixtures.typed(results))
    assert rows[-1].key == (extra["server"], extra["scenario"], 64, "locust")


# --- winners -------------------------------------------------------------------------------


def test_winner_per_scenario_and_users() -> None:
    found = {(w.scenario, w.users): w for w in _winners(bench_fixtures.results())}
    assert set(found) == {(s, u) for s in bench_fixtures.SCENARIOS for u in bench_fixtures.USERS}
    io32 = found[("io", 32)]
    assert (io32.row.server, io32.runner_up and io32.runner_up.server) == ("gunicorn-gevent", "flask-dev")
    assert io32.margin == pytest.approx(0.90 / 0.80)
    assert io32.clear
    assert found[("cpu", 8)].row.server == "gunicorn-sync"


def test_a_winner_within_the_runner_ups_range_is_not_clear() -> None:
    results = bench_fixtures.results()
    for cell in results["cells"]:
        if (cell["server"], cell["scenario"], cell["users"], cell["repetition"]) == ("flask-dev", "io", 8, 2):
            cell["rps"] = 100.0  # above the winner's slowest repetition
    winner = next(w for w in _winners(results) if (w.scenario, w.users) == ("io", 8))
    assert winner.row.server == "gunicorn-gevent"
    assert not winner.clear


def test_many_failures_cannot_win() -> None:
    results = bench_fixtures.results()
    for cell in results["cells"]:
        if (cell["server"], cell["scenario"], cell["users"]) == ("gunicorn-gevent", "io", 32) and cell["requests"]:
            cell["failures"] = math.ceil(cell["requests"] * (MAX_WINNER_FAILURE_PCT + 0.5) / 100)
    winner = next(w for w in _winners(results) if (w.scenario, w.users) == ("io", 32))
    assert winner.row.server == "flask-dev"


def test_no_winner_where_nothing_was_measured() -> None:
    results = _only_cells(bench_fixtures.results(), lambda cell: cell["scenario"] != "cpu")
    assert {w.scenario for w in _winners(results)} == {"io"}


def test_a_lone_measured_group_wins_without_a_margin() -> None:
    results = _only_cells(
        bench_fixtures.results(), lambda cell: cell["server"] == "flask-dev" or cell["scenario"] == "io"
    )
    winner = next(w for w in _winners(results) if (w.scenario, w.users) == ("cpu", 8))
    assert winner.row.server == "flask-dev"
    assert winner.runner_up is None
    assert winner.margin is None
    assert winner.clear


def test_ties_go_to_the_server_listed_first() -> None:
    results = bench_fixtures.results()
    for cell in results["cells"]:
        if cell["scenario"] == "io" and cell["users"] == 8 and cell["status"] == "ok":
            cell["rps"] = 50.0
    winner = next(w for w in _winners(results) if (w.scenario, w.users) == ("io", 8))
    assert winner.row.server == "gunicorn-sync"
    assert winner.margin == 1
    assert not winner.clear


def test_an_ok_cell_without_requests_has_no_latency_or_failure_rate() -> None:
    results = _only_cells(bench_fixtures.results(), lambda cell: cell["repetition"] == 1)
    results["run"]["plan"]["repetitions"] = 1
    for cell in results["cells"]:
        if (cell["server"], cell["scenario"], cell["users"]) == ("gunicorn-sync", "io", 8):
            cell |= {"requests": 0, "failures": 0, "rps": 0.0, "server_cpu_s": 0.0}
            cell["latency_ms"] = dict.fromkeys(cell["latency_ms"])  # Locust's "N/A"
    row = _rows(results)[("gunicorn-sync", "io", 8)]
    assert row.rps == Spread(0.0, 0.0, 0.0)
    assert [row.p50, row.p95, row.p99, row.max_ms, row.effective_concurrency] == [None] * 5
    assert row.failure_pct is None
    assert row.req_per_cpu_s is None
    assert row.efficiency == 0

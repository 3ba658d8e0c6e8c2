"""labbench capacity's rules on fixed inputs: the SLO, the stepping, the knee, and its report.

The end-to-end runs (real servers, real Locust) are tests/test_capacity_run.py's.
"""

from __future__ import annotations

import json
import shutil
from html import unescape
from pathlib import Path

import pytest

from labbench import BenchError, capacity, cli, knee, options
from labbench.bottleneck import classify
from labbench.report import capacity as capacity_report
from labbench.report import render
from labbench.results import Plan, Results
from labcore import defaults, matrix
from tests.support import ROOT, capacity_fixtures
from tests.support.cli import labbench
from tests.support.mdtables import md_tables, sections_naming

pytestmark = pytest.mark.unit

STEPPING = {"start": 10.0, "factor": 2.0, "bisections": 3, "ceiling": 2000.0, "floor": 10.0}


def walk(capacity_rps: float, noise: dict[float, bool] | None = None, **stepping: float) -> list[tuple[float, bool]]:
    """The steps next_rate plans against a server that holds up to ``capacity_rps``
    (``noise`` overrides the verdict at given rates)."""
    settings = STEPPING | stepping
    tried: list[tuple[float, bool]] = []
    while (rate := knee.next_rate(tried, **settings)) is not None:  # type: ignore[arg-type]
        tried.append((rate, (noise or {}).get(rate, rate <= capacity_rps)))
        assert len(tried) < 40, "the stepping never ends"
    return tried


# --- the SLO ------------------------------------------------------------------------------


def test_a_step_within_every_rule_holds() -> None:
    assert knee.breaks(offered=40, achieved=39, requests=117, failures=0, p99_ms=200, slo_p99_ms=200) == []


@pytest.mark.parametrize(
    ("measured", "reason"),
    [
        ({"p99_ms": 201}, "p99 201 ms > 200 ms"),
        ({"p99_ms": None}, "p99 ? ms > 200 ms"),
        ({"failures": 2, "requests": 1000}, "failures 0.20% > 0.1%"),
        ({"achieved": 37.9}, "achieved 37.9 req/s < 95% of 40 offered"),
        ({"requests": 0}, "no request answered"),
    ],
)
def test_each_rule_breaks_the_slo_and_says_how(measured: dict[str, float], reason: str) -> None:
    step = {"offered": 40, "achieved": 39, "requests": 1000, "failures": 1, "p99_ms": 150, "slo_p99_ms": 200}
    assert knee.breaks(**step | measured) == [reason]  # type: ignore[arg-type]


def test_one_failure_in_a_thousand_is_within_the_slo() -> None:
    assert knee.breaks(offered=40, achieved=40, requests=1000, failures=1, p99_ms=1, slo_p99_ms=200) == []


def test_the_default_budget_is_the_work_plus_100_ms() -> None:
    assert knee.default_slo_ms(100) == 200
    assert knee.default_slo_ms(10) == 110
    assert knee.default_slo_ms(None) == defaults.CAPACITY_SLO_EXTRA_MS


# --- step planning ----------------------------------------------------------------------------


def test_steps_double_then_bisect_between_the_last_hold_and_the_first_break() -> None:
    tried = walk(35)
    assert tried[:3] == [(10, True), (20, True), (40, False)]
    # Geometric means of 20 and 40, then of the new bounds: 28.3, 33.6, 36.7.
    assert tried[3:] == [(28.3, True), (33.6, True), (36.7, False)]


def test_bisection_stops_at_the_resolution() -> None:
    tried = walk(35, bisections=10)
    held = max(rate for rate, ok in tried if ok)
    broke = min(rate for rate, ok in tried if not ok)
    assert held <= 35 < broke and broke / held <= 1 + knee.RESOLUTION * 1.5
    assert len(tried) < 12


def test_a_server_that_never_breaks_is_stepped_to_the_ceiling_and_no_further() -> None:
    tried = walk(10_000, ceiling=500)
    assert [rate for rate, _ in tried] == [10, 20, 40, 80, 160, 320, 500]


def test_a_server_that_breaks_at_once_gets_one_step() -> None:
    assert walk(1) == [(10, False)]


def test_a_first_step_that_breaks_is_followed_by_steps_down_to_the_floor_then_bisection() -> None:
    tried = walk(300, start=500, floor=10)
    assert tried[:3] == [(500, False), (250, True), (354, False)]
    assert knee.knee(tried).capacity == max(rate for rate, ok in tried if ok) <= 300
    # Never below the floor: a server that breaks everywhere gets steps down to it, and no capacity.
    assert [rate for rate, _ in walk(1, start=500, floor=100)] == [500, 250, 125, 100]
    assert knee.knee(walk(1, start=500, floor=100)).capacity is None


@pytest.mark.parametrize("rate", [1, 10, 28.3, 40, 100, 1000])
def test_every_step_measures_at_least_the_minimum_of_requests(rate: float) -> None:
    window = knee.window_s(rate, 5, defaults.CAPACITY_MIN_SAMPLES)
    # Its p99 is then not its slowest request: of n, Locust's p99 is the (n - floor(0.99 n))-th slowest.
    assert rate * window >= defaults.CAPACITY_MIN_SAMPLES and window >= 5 and window == int(window)
    n = defaults.CAPACITY_MIN_SAMPLES
    assert n - int(0.99 * n) >= 2


def test_a_step_at_10_rps_lasts_the_minimum_s_worth_and_a_fast_one_its_duration() -> None:
    assert knee.window_s(10, 5, 300) >= 30
    assert knee.window_s(10, 3, 200) >= 20
    assert knee.window_s(1000, 5, 300) == 5
    assert knee.window_s(10, 5, 0) == 5


def test_the_first_rate_is_half_the_bound_within_the_floor_and_ceiling() -> None:
    assert knee.first_rate(40, floor=10, ceiling=1000) == 20  # 4 sync workers of 100 ms
    assert knee.first_rate(100, floor=10, ceiling=1000) == 50  # 1 CPU, 10 ms each
    assert knee.first_rate(10, floor=10, ceiling=1000) == 10  # 1 slot: never below the floor
    assert knee.first_rate(None, floor=10, ceiling=800) == 400  # no bound: half the ceiling
    assert knee.first_rate(40_000, floor=10, ceiling=800) == 400


def series(server: str, scenario: str, plan_values: dict[str, object]) -> tuple[capacity.Series, Plan]:
    plan = options.capacity_plan(options.resolve(plan_values, options.CAPACITY))
    found = matrix.get(server)
    bound = capacity.bound_for(found, scenario, plan, cpus=1.0)
    return capacity.Series(found, scenario, 1, capacity.slo_for(scenario, plan.capacity, plan), bound), plan  # type: ignore[arg-type]


def test_the_bound_is_the_slots_over_the_work_or_the_cpus_over_the_cpu() -> None:
    assert series("gunicorn-sync", "io", {})[0].bound_rps == pytest.approx(40)
    assert series("gunicorn-gthread", "cpu", {})[0].bound_rps == pytest.approx(100)
    assert series("flask-dev", "io", {})[0].bound_rps is None  # a thread per request: no slots bound
    assert series("gunicorn-sync", "hello", {})[0].bound_rps is None


def test_the_estimate_adds_each_planned_step_s_warm_up_window_and_overhead() -> None:
    sync, plan = series("gunicorn-sync", "io", {})
    # Knee assumed at 85 % of 40: steps 20, 40, 28.3, 33.6, their windows
    # ceil(300 / rate) + 1: 16, 9, 12, 10 s; each with 1 s of warm-up, the
    # overhead, and two probes within the 200 ms SLO before it.
    expected = 16 + 9 + 12 + 10 + 4 * (1 + capacity.STEP_OVERHEAD_S + 2 * 0.2)
    assert capacity.estimate_s([sync], plan) == pytest.approx(expected)


def test_the_full_run_is_planned_within_30_minutes_and_the_quick_one_within_5() -> None:
    for given, minutes in (({}, 30), ({"quick": True}, 5)):
        values = options.resolve(given, options.CAPACITY)
        plan = options.capacity_plan(values)
        all_series = [
            series(server, scenario, given)[0] for server in values["servers"] for scenario in values["scenarios"]
        ]
        assert capacity.estimate_s(all_series, plan) <= minutes * 60, given


def test_the_achieved_rate_counts_the_requests_drained_after_the_window() -> None:
    # waitress, 8 slots of 100 ms (80 req/s at most), 160 offered: 297 requests
    # in a 3 s window at 800 ms each; ÷ 3 s alone it read 99 req/s.
    assert knee.achieved_rps(297, 3.0, 800.0) <= 80
    # A server keeping up: 40 req/s of 100 ms over 9 s ends 360 + 4 in flight.
    assert knee.achieved_rps(364, 9.0, 100.0) == pytest.approx(40, rel=0.01)
    assert knee.achieved_rps(30, 3.0, None) == 10


def test_users_cover_the_rate_at_the_budget_with_headroom() -> None:
    assert capacity.users_for(40, 200) == 16  # 40 req/s × 0.2 s × 2
    assert capacity.users_for(0.5, 110) == 1


# --- the knee -----------------------------------------------------------------------------------


def test_knee_of_a_monotone_curve_is_the_last_rate_that_held() -> None:
    assert knee.knee(walk(35)) == knee.Knee(33.6, None)


def test_knee_ignores_a_lucky_step_above_a_broken_one() -> None:
    # What a person reads: it broke at 40; 80 holding once is noise, not capacity.
    noisy = [(10, True), (20, True), (40, False), (80, True), (28.3, True)]
    assert knee.knee(noisy).capacity == 28.3


def test_knee_with_a_noisy_dip_below_the_edge_takes_the_highest_hold_under_it() -> None:
    tried = walk(35, noise={20: False})
    # 20 broke once: the stepping bisects below it, and the knee stays under it.
    assert tried[:3] == [(10, True), (20, False), (14.1, True)]
    assert knee.knee(tried).capacity == max(rate for rate, ok in tried if ok) < 20


def test_knee_of_a_curve_that_never_broke_is_a_lower_bound_said_so() -> None:
    found = knee.knee(walk(10_000, ceiling=500), ceiling=500)
    assert found.capacity == 500
    assert found.reason is not None and "at least" in found.reason and "--max-rps 500" in found.reason


def test_knee_of_a_curve_broken_from_the_first_step_is_none_with_the_reason() -> None:
    assert knee.knee([(10, False)]) == knee.Knee(None, "the SLO broke at the lowest step, 10 req/s")


# --- bottleneck and schedule ----------------------------------------------------------------------


def test_the_bottleneck_rules_apply_in_order() -> None:
    base = {"server_cpu": 0.2, "cpu_limit": 1.0, "in_service": 1.0, "slots": 4, "io_bound": True,
            "loadgen_cpu": 0.3, "host_busy": 0.5, "crosscheck": None}  # fmt: skip
    assert classify(**base) == "unexplained"
    assert classify(**base | {"host_busy": 0.96}) == "machine"
    assert classify(**base | {"loadgen_cpu": 0.95, "host_busy": 0.96}) == "load-generator"
    assert classify(**base | {"in_service": 3.8, "loadgen_cpu": 0.95}) == "slots"
    assert classify(**base | {"in_service": 3.8, "io_bound": False}) == "unexplained"
    assert classify(**base | {"server_cpu": 0.95, "in_service": 3.8}) == "server-cpu"
    assert classify(**base | {"server_cpu": 0.95, "crosscheck": 0.5}) == "load-generator"


def test_a_step_is_behind_schedule_when_users_are_all_busy_or_the_rate_is_missed_unsaturated() -> None:
    curve = capacity_fixtures.CURVES
    on_time = curve["gunicorn-sync"][0]
    assert not capacity.behind(on_time)
    # Short of the rate, but the server's slots were full: the server's limit, not the engine's.
    assert not capacity.behind(curve["gunicorn-sync"][2])
    assert capacity.behind(curve["gunicorn-sync"][2].model_copy(update={"bottleneck": "unexplained"}))
    # 5 users at 10 req/s with 500 ms each: all busy.
    assert capacity.behind(on_time.model_copy(update={"users": 5, "mean_ms": 500.0}))


# --- the entry and its report ---------------------------------------------------------------------


def test_summary_names_the_capacity_what_it_cost_and_what_broke_past_it() -> None:
    sync, gevent = capacity_fixtures.results().capacity
    assert (sync.capacity_rps, sync.reason, sync.bottleneck) == (28.3, None, "slots")
    assert sync.capacity_per_cpu == pytest.approx(28.2 / (0.1 + 0.0282), abs=0.1)
    assert sync.memory_peak_bytes == 100 * 2**20
    # Its knee was the load generator's: said so, never passed off as the server's.
    assert gevent.capacity_rps == 640 and gevent.bottleneck == "load-generator"
    assert gevent.reason is not None and "load-generator bound" in gevent.reason


def test_capacity_entries_read_and_write_back_unchanged() -> None:
    found = capacity_fixtures.results()
    assert Results.from_json(found.to_json()) == found
    data = json.loads(found.to_json())
    data["capacity"][0]["curve"][0]["bottleneck"] = "disk"
    with pytest.raises(BenchError, match=r"capacity\[0\]\.curve\[0\]\.bottleneck: Input should be 'server-cpu'"):
        Results.from_json(json.dumps(data))


def test_report_ranks_servers_and_shows_the_spread_of_repetitions(tmp_path: Path) -> None:
    html, md = render(capacity_fixtures.write_run(tmp_path / "run", repetitions=2))
    markdown = md.read_text()
    table = markdown[markdown.index("## Capacity: io") :]
    assert table.index("| gunicorn-gevent | 640 [640–640]") < table.index("| gunicorn-sync | 28.3 [28.3–28.3]")
    assert "p99 ≤ 200 ms" in table
    # gunicorn-gevent leads on a knee the load generator set: the table must not rank on it.
    reading = (
        "Only 1 of 2 knees was the server's (its CPU or its slots full past it, in every repetition): gunicorn-sync."
    )
    assert reading in table and "their order ranks nothing" in table
    page = html.read_text()
    assert 'id="capacity-io"' in page and "Latency against throughput: io" in page
    assert reading in unescape(page)
    assert page.count("<svg") == 1


def test_capacity_flags_are_declared_once_with_their_quick_defaults() -> None:
    quick = options.resolve({"quick": True}, options.CAPACITY)
    assert quick["servers"] == ["gunicorn-sync", "gunicorn-gevent"] and quick["scenarios"] == ["io"]
    plan = options.capacity_plan(quick)
    assert plan.users == [] and plan.capacity is not None and plan.capacity.max_rps == 800
    assert plan.capacity.min_samples == defaults.CAPACITY_MIN_SAMPLES_QUICK
    help_text = cli.build_parser().parse_args(["capacity", "--slo-p99-ms", "250"])
    assert help_text.slo_p99_ms == 250


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--factor", "1"], "argument --factor: must be at least 1.1, not '1'"),
        (["--slo-p99-ms", "fast"], "argument --slo-p99-ms: expected a number, not 'fast'"),
        (["--servers", "nginx"], "argument --servers: unknown nginx"),
    ],
)
def test_bad_capacity_flags_name_the_flag(args: list[str], message: str) -> None:
    result = labbench("capacity", *args, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


# --- docs/results.md's capacity section ----------------------------------------------------------

#: The capacity runs committed for the docs, each shown by results.md (the earlier runs are *-before-settle.json).
CAPACITY_RUNS = sorted((ROOT / "docs" / "images").glob("*-capacity*.json"))
RESULTS_MD = ROOT / "docs" / "results.md"


def test_results_md_has_a_capacity_section_exactly_when_a_run_is_committed() -> None:
    assert ("## Capacity at a latency SLO" in RESULTS_MD.read_text()) == bool(CAPACITY_RUNS)


@pytest.mark.parametrize("committed", CAPACITY_RUNS, ids=lambda path: path.name)
def test_results_md_capacity_tables_are_the_report_s(committed: Path, tmp_path: Path) -> None:
    """Every committed capacity run has a section of results.md naming it, whose
    capacity tables are the ones labbench renders from it, row for row."""
    results = Results.from_json(committed.read_text(), committed.name)
    assert results.finished and results.capacity
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copyfile(committed, folder / "results.json")
    _, md_path = render(folder)
    report = {
        heading: rows for heading, rows in md_tables(md_path.read_text()).items() if heading.startswith("Capacity")
    }
    section = sections_naming(RESULTS_MD.read_text(), committed.name, 3)
    assert f"`{results.run.id}`" in section, f"no section of results.md names {committed.name} and its run"
    shown = md_tables(section)
    assert report and all(shown.get(heading) == rows for heading, rows in report.items()), sorted(report)
    # And how far each table ranks the servers, as the report says it.
    for scenario in capacity_report.scenarios(results):
        assert capacity_report.reading(capacity_report.rows(results, scenario)) in section, scenario


def row(server: str, capacities: list[float], own: bool) -> capacity_report.CapacityRow:
    return capacity_report.CapacityRow(
        server, 200.0, capacities, None, None, "slots" if own else "unexplained", 4, None, own
    )


def test_the_table_ranks_only_knees_the_server_set_in_every_repetition() -> None:
    reading = capacity_report.reading
    assert reading([row("a", [40.0], True), row("b", [30.0], True)]).startswith("Every knee here was the server's")
    # Set by the server in one repetition of two: not the server's (the row's own is False).
    mixed = reading([row("a", [40.0, 50.0], False), row("b", [30.0], True)])
    assert mixed.startswith("Only 1 of 2 knees was the server's") and mixed.endswith("their order ranks nothing.")
    assert ": b." in mixed
    # A row that never held has no knee: it counts neither way.
    assert reading([row("a", [40.0], True), row("z", [], True)]).startswith("Every knee")
    assert reading([row("z", [], True)]) == "No server held the SLO at any step: there is no knee to rank."
    assert reading([row("a", [40.0], False)]).startswith("None of the 1 knees")

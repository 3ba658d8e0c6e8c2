"""labbench.bottleneck on fixed inputs: every class, each threshold's edge, the order of the rules, and /proc/stat."""

from __future__ import annotations

from typing import Any

import pytest

from labbench.bottleneck import (
    CLASSES,
    SERVER_BOUND,
    CpuSample,
    classify,
    host_busy,
    host_cpu_sample,
    parse_proc_stat,
    slots_can_bind,
)
from labcore import defaults

pytestmark = pytest.mark.unit

#: A cell where no rule holds: a quiet server, generator and machine, one engine only.
QUIET: dict[str, Any] = {
    "server_cpu": 0.5,
    "cpu_limit": 1.0,
    "in_service": 2.0,
    "slots": 4,
    "io_bound": True,
    "loadgen_cpu": 0.5,
    "host_busy": 0.5,
    "crosscheck": None,
}


def judge(**changed: Any) -> str:
    return classify(**(QUIET | changed))


def test_the_thresholds_are_the_documented_ones() -> None:
    assert (defaults.SERVER_CPU_HOT, defaults.SLOTS_FULL, defaults.LOADGEN_HOT) == (0.9, 0.9, 0.9)
    assert (defaults.CROSSCHECK_LOW, defaults.MACHINE_BUSY) == (0.9, 0.95)
    assert CLASSES == ("server-cpu", "slots", "load-generator", "machine", "unexplained")
    assert SERVER_BOUND == ("server-cpu", "slots")


def test_nothing_saturated_is_unexplained() -> None:
    assert judge() == "unexplained"


@pytest.mark.parametrize(
    ("changed", "below", "at"),
    [
        # server CPU against 0.9 x its limit, for a 1-CPU and a 2-CPU limit
        ({"server_cpu": 0.899}, "unexplained", None),
        ({"server_cpu": 0.9}, None, "server-cpu"),
        ({"server_cpu": 1.799, "cpu_limit": 2.0}, "unexplained", None),
        ({"server_cpu": 1.8, "cpu_limit": 2.0}, None, "server-cpu"),
        # requests in service against 0.9 x slots (4 slots: 3.6)
        ({"in_service": 3.599}, "unexplained", None),
        ({"in_service": 3.6}, None, "slots"),
        # the load generator's CPU against LOADGEN_HOT
        ({"loadgen_cpu": 0.899}, "unexplained", None),
        ({"loadgen_cpu": 0.9}, None, "load-generator"),
        # the machine against 0.95
        ({"host_busy": 0.949}, "unexplained", None),
        ({"host_busy": 0.95}, None, "machine"),
        # the cross-check: below 0.9 of the other engine is the generator's fault; at 0.9 it is not
        ({"crosscheck": 0.899}, None, "load-generator"),
        ({"crosscheck": 0.9}, "unexplained", None),
    ],
)
def test_each_threshold_s_edge(changed: dict[str, Any], below: str | None, at: str | None) -> None:
    assert judge(**changed) == (below or at)


def test_slots_count_only_for_an_io_scenario_with_bounded_slots() -> None:
    assert judge(in_service=4.0, io_bound=False) == "unexplained"  # a cpu or baseline scenario queues, not sleeps
    assert judge(in_service=4.0, slots=None) == "unexplained"  # unbounded: no slots to fill
    assert judge(in_service=4.0) == "slots"


def test_the_rules_apply_in_their_order() -> None:
    everything = {"crosscheck": 0.5, "server_cpu": 1.0, "in_service": 4.0, "loadgen_cpu": 1.0, "host_busy": 1.0}
    assert judge(**everything) == "load-generator"  # a cross-check beats a busy server
    everything.pop("crosscheck")
    assert judge(**everything) == "server-cpu"  # the server's CPU beats its full slots and a busy generator
    everything.pop("server_cpu")
    assert judge(**everything) == "slots"
    everything.pop("in_service")
    assert judge(**everything) == "load-generator"  # the generator before the machine it runs on
    everything.pop("loadgen_cpu")
    assert judge(**everything) == "machine"


def test_unknown_inputs_never_make_a_rule_hold() -> None:
    unknown = dict.fromkeys(QUIET, None) | {"io_bound": True}
    assert classify(**unknown) == "unexplained"
    # A CPU share without a limit to compare it with says nothing.
    assert judge(server_cpu=5.0, cpu_limit=None) == "unexplained"
    assert judge(in_service=None, slots=4) == "unexplained"
    assert judge(server_cpu=None, loadgen_cpu=0.95) == "load-generator"


# /proc/stat as Linux writes it: cpu user nice system idle iowait irq softirq steal guest guest_nice
BEFORE = """cpu  1000 10 500 8000 200 0 40 0 300 0
cpu0 500 5 250 4000 100 0 20 0 150 0
cpu1 500 5 250 4000 100 0 20 0 150 0
intr 12345 0 0
ctxt 999
"""
AFTER = """cpu  1600 10 700 8100 300 0 90 0 900 0
cpu0 800 5 350 4050 150 0 45 0 450 0
cpu1 800 5 350 4050 150 0 45 0 450 0
intr 22345 0 0
ctxt 1999
"""


def test_a_proc_stat_sample_counts_busy_and_all_ticks_without_guest_twice() -> None:
    # busy: user + nice + system + irq + softirq + steal; idle and iowait are not busy; guest is inside user.
    assert parse_proc_stat(BEFORE) == CpuSample(busy=1000 + 10 + 500 + 40, total=1000 + 10 + 500 + 8000 + 200 + 40)


def test_host_busy_between_two_fixed_samples() -> None:
    # busy went up by 600 + 200 + 50 = 850 ticks of 850 + 100 idle + 100 iowait = 1050.
    assert host_busy(parse_proc_stat(BEFORE), parse_proc_stat(AFTER)) == pytest.approx(850 / 1050)
    assert host_busy(parse_proc_stat(AFTER), parse_proc_stat(AFTER)) is None  # no time passed
    assert host_busy(None, parse_proc_stat(AFTER)) is None


def test_a_text_without_the_cpu_line_is_refused_and_an_unreadable_file_is_none(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="cpu line"):
        parse_proc_stat("cpu0 1 2 3 4\nintr 1\n")
    assert host_cpu_sample(tmp_path / "missing") is None
    (tmp_path / "stat").write_text(AFTER)
    assert host_cpu_sample(tmp_path / "stat") == parse_proc_stat(AFTER)


@pytest.mark.parametrize(
    ("kind", "io_ms", "cpu_ms", "slots", "cpus", "can"),
    [
        ("io", 100, 10, 4, 1.0, True),
        ("cpu", 100, 10, 4, 1.0, False),  # queued for the CPU, not waiting
        ("mixed", 50, 0, 4, 1.0, True),  # pure I/O split: only the slots bound it
        ("mixed", 50, 0, 4, None, True),
        ("mixed", 40, 10, 4, 1.0, True),  # 4 / 50 ms = 80 req/s before 1 CPU / 10 ms = 100
        ("mixed", 30, 20, 4, 1.0, False),  # 80 against 1 / 20 ms = 50: the CPU binds first
        ("mixed", 40, 10, 32, 1.0, False),  # 32 / 50 ms = 640 against 100
        ("mixed", 40, 10, 4, None, False),  # no CPU limit known: which binds is unknown
        ("mixed", 0, 50, 4, 1.0, False),  # pure CPU split
        ("user", 0, 0, 4, 1.0, False),
    ],
)
def test_the_slots_rule_applies_where_the_slots_bind_before_the_cpu(
    kind: str, io_ms: int, cpu_ms: int, slots: int, cpus: float | None, can: bool
) -> None:
    assert slots_can_bind(kind, io_ms, cpu_ms, slots, cpus) is can

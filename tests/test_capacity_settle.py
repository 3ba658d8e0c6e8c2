"""Between capacity steps the runner waits until the server has drained what the last step left queued.

A server served here, in the test process, plays the buried server: a
request waits until the queue's end (a moment set by the test), then answers.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

from labbench import BenchError, capacity, options
from labbench.appclient import AppClient
from labbench.capacitymodels import Step
from tests.support.inprocess import serve_wsgi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


pytestmark = pytest.mark.unit


def queue_until(drained_at: float) -> WSGIApplication:
    """An app whose every request waits in a queue that drains at ``drained_at`` (monotonic), then 50 ms of work."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        time.sleep(max(0.0, drained_at - time.monotonic()) + 0.05)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def test_a_server_already_drained_is_ready_at_once() -> None:
    with serve_wsgi(queue_until(0)) as url:
        waited = capacity.settle(AppClient(url), "/", slo_p99_ms=200, timeout_s=10)
    assert waited is not None and waited < 1.0


def test_the_step_waits_for_the_queue_to_drain() -> None:
    with serve_wsgi(queue_until(time.monotonic() + 1.5)) as url:
        waited = capacity.settle(AppClient(url), "/", slo_p99_ms=200, timeout_s=10)
    # The first probe waits out the queue (1.5 s, over the SLO), the next two answer in 50 ms.
    assert waited is not None and 1.4 <= waited <= 4, waited


def answering(slow_until: float, status: str = "200 OK", every_other: bool = False) -> WSGIApplication:
    """An app that answers in 300 ms (over a 200 ms SLO) until ``slow_until``, then in 10 ms;
    with ``every_other``, only every second request is slow before then."""
    count = itertools.count()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        slow = time.monotonic() < slow_until and (not every_other or next(count) % 2 == 0)
        time.sleep(0.3 if slow else 0.01)
        start_response(status if slow else "200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def test_answers_over_the_slo_do_not_count_as_drained() -> None:
    with serve_wsgi(answering(time.monotonic() + 1.5)) as url:
        waited = capacity.settle(AppClient(url), "/", slo_p99_ms=200, timeout_s=10)
    assert waited is not None and 1.5 <= waited <= 4, waited


def test_one_fast_answer_between_slow_ones_is_not_enough() -> None:
    # A free slot beside busy ones: the fast answers come one at a time until 1.5 s.
    with serve_wsgi(answering(time.monotonic() + 1.5, every_other=True)) as url:
        waited = capacity.settle(AppClient(url), "/", slo_p99_ms=200, timeout_s=10)
    assert waited is not None and waited >= 1.5, waited


def test_fast_errors_are_not_a_drained_server() -> None:
    # Slow 200s would not count either; here the "slow" answers are quick 503s.
    def overloaded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        ready = time.monotonic() >= drained_at
        start_response("200 OK" if ready else "503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"ok"]

    drained_at = time.monotonic() + 1.5
    with serve_wsgi(overloaded) as url:
        waited = capacity.settle(AppClient(url), "/", slo_p99_ms=200, timeout_s=10)
    assert waited is not None and waited >= 1.5, waited


def test_a_server_that_stays_buried_is_said_so_within_the_timeout() -> None:
    with serve_wsgi(queue_until(time.monotonic() + 60)) as url:
        start = time.monotonic()
        waited = capacity.settle(AppClient(url), "/", slo_p99_ms=200, timeout_s=1.5)
    assert waited is None
    assert time.monotonic() - start < 5


def test_a_server_that_refuses_is_not_settled() -> None:
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    start = time.monotonic()
    assert capacity.settle(AppClient(f"http://127.0.0.1:{port}"), "/", slo_p99_ms=200, timeout_s=1.2) is None
    assert time.monotonic() - start < 3


def test_the_probe_is_the_series_own_request_where_the_lab_knows_it() -> None:
    plan = options.capacity_plan(options.resolve({}, options.CAPACITY))
    assert capacity.probe_path("io", plan) == f"/io?ms={plan.io_ms}"
    assert capacity.probe_path("upstream", plan) == f"/upstream?ms={plan.io_ms}"
    assert capacity.probe_path("cpu", plan) == f"/cpu?ms={plan.cpu_ms}"
    assert capacity.probe_path("mix", plan) == "/"  # several requests: the cheapest page


def broken_step(bottleneck: str, server_cpu: float | None) -> Step:
    return Step(
        offered_rps=70.7, users=16, status="ok", started_at="2026-12-02T00:00:00+00:00", raw="raw/x",
        achieved_rps=68.0, requests=400, failures=0, p99_ms=180.0, server_cpu=server_cpu,
        bottleneck=bottleneck, broken=["p99 180 ms > 110 ms"],
    )  # type: ignore[arg-type]  # fmt: skip


def test_a_knee_not_the_servers_says_what_set_it() -> None:
    assert capacity.knee_not_the_servers(broken_step("machine", 0.5)) == "machine bound, not the server's"
    unexplained = capacity.knee_not_the_servers(broken_step("unexplained", 0.85))
    # Queueing at 85 % of a CPU is the server's own; the note must not deny it, only say it is unproven.
    assert "at 0.85 CPUs" in unexplained and "queueing" in unexplained and "not proven the server's" in unexplained
    assert "CPUs" not in capacity.knee_not_the_servers(broken_step("unexplained", None))


def test_a_budget_no_request_could_meet_is_refused_before_any_step() -> None:
    plan = options.capacity_plan(options.resolve({"slo_p99_ms": 80.0, "scenarios": ["cpu", "io"]}, options.CAPACITY))
    with pytest.raises(BenchError, match=r"--slo-p99-ms 80 is not above io's own work of 100 ms"):
        capacity.check_slo(plan)
    capacity.check_slo(options.capacity_plan(options.resolve({"slo_p99_ms": 150.0}, options.CAPACITY)))

"""Each server's concurrency model, checked by physics on loopback (no Docker).

Every server runs its real command from compose.yaml (see native.py), and the
expectations come from its ``lab.model`` and ``lab.slots`` labels, so these
tests check that the labels tell the truth. Margins are wide: a burst of
1-second sleeps takes whole seconds per "round", and noise on a shared
machine is tens of milliseconds, so a round more or less is unmistakable.

What is measured is also written to test-artifacts/concurrency.json, which
docs/models.md quotes.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from labbench import native
from labbench.bottleneck import host_busy, host_cpu_sample
from labcore import matrix, protocol
from tests.support import ARTIFACTS
from tests.support.burst import burst

pytestmark = pytest.mark.native

SERVERS = matrix.load()
N = 8  # concurrent requests per burst
MS = 1000  # each one sleeps this long
ROUND = MS / 1000
observed: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module", params=SERVERS, ids=[server.name for server in SERVERS])
def running(request: pytest.FixtureRequest, upstream_url: str) -> Iterator[tuple[matrix.Server, str]]:
    server: matrix.Server = request.param
    with native.serve(server, upstream_url=upstream_url) as url:
        burst(url + "/io?ms=1", 4)  # warm up: lazy imports, first forks
        yield server, url


@pytest.fixture(scope="module", autouse=True)
def record_observations() -> Iterator[None]:
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "concurrency.json").write_text(json.dumps(observed, indent=2, sort_keys=True) + "\n")


def rounds_allowed(server: matrix.Server, n: int) -> tuple[int, int]:
    """The fewest and the most rounds a burst of ``n`` blocking requests may
    take under the server's model."""
    factors = server.slot_factors
    if server.model == "single":
        return n, n
    if factors is None:  # a new thread for every request
        return 1, 1
    fewest = math.ceil(n / math.prod(factors))
    if server.model == "processes+threads":
        # Workers accept connections greedily: one worker may take more than
        # its threads can serve while others idle, so in the worst case a
        # single worker's threads serve the whole burst.
        return fewest, math.ceil(n / factors[-1])
    return fewest, fewest


def test_whoami_reports_the_model_the_label_claims(running: tuple[matrix.Server, str]) -> None:
    server, url = running
    who = burst(url + protocol.WHOAMI, 1).bodies[0]
    assert who["model"] == server.model, who


@pytest.mark.parametrize("path", ["/io", "/upstream", "/async-io"])
def test_blocking_requests_take_the_rounds_the_model_allows(running: tuple[matrix.Server, str], path: str) -> None:
    server, url = running
    result = burst(f"{url}{path}?ms={MS}", N)
    observed.setdefault(server.name, {})[f"{path} {N}x{MS}ms rounds"] = round(result.rounds(MS), 2)
    fewest, most = rounds_allowed(server, N)
    took = f"{server.name}: {path} x{N} took {result.seconds:.2f}s"
    assert result.seconds >= fewest * ROUND * 0.95, f"{took}, faster than {fewest} rounds"
    assert result.seconds <= (most + 0.5) * ROUND, f"{took}, slower than {most} rounds"


def test_a_request_in_flight_is_visible_to_the_next(running: tuple[matrix.Server, str]) -> None:
    """Where one process serves several requests at once, /whoami counts them."""
    server, url = running
    if server.model in ("single", "processes"):
        pytest.skip("one request per process: nothing else can be in flight beside /whoami")
    # Sleeping requests, then a few asking who is busy: with more than one
    # request per process, some process must report company.
    with ThreadPoolExecutor(N) as pool:
        sleepers = [pool.submit(burst, f"{url}/io?ms={MS}", 1) for _ in range(N)]
        time.sleep(0.5 * ROUND)  # all of them accepted and asleep by now
        peak = max(who["in_flight"] for who in burst(url + protocol.WHOAMI, N).bodies)
        for sleeper in sleepers:
            sleeper.result()
    assert peak >= 2


CPU_N = 4
CPU_MS = 500
#: Other work on the machine, in cores on average, that leaves the processes no core to gain.
OTHERS_BUSY = 0.5


def test_cpu_work_gains_nothing_from_threads_or_greenlets(running: tuple[matrix.Server, str]) -> None:
    server, url = running
    host_before = host_cpu_sample()
    result = burst(f"{url}/cpu?ms={CPU_MS}", CPU_N)
    host = host_busy(host_before, host_cpu_sample())
    observed.setdefault(server.name, {})[f"/cpu {CPU_N}x{CPU_MS}ms seconds"] = round(result.seconds, 2)
    assert all(body["cpu_ms"] >= CPU_MS for body in result.bodies)
    serial = CPU_N * CPU_MS / 1000
    if not server.model.startswith("processes"):
        # One process, one GIL: the work is done one request at a time.
        assert result.seconds >= serial * 0.9, f"{server.name}: {result.seconds:.2f}s for {serial:.2f}s of CPU work"
    elif server.model == "processes" and (cores := os.cpu_count() or 1) >= 2:
        # A request per process, and processes run on every core: ideally
        # half the serial time on two cores; the margin allows for a machine
        # that is not entirely ours. A machine whose other core someone else
        # held leaves nothing to gain (CI, 2026-12-02: 2.06 s for 2.0 s of
        # work): the CPU the machine spent besides this work says which.
        others_s = None if host is None else host * cores * result.seconds - serial
        if result.seconds > serial * 0.85 and others_s is not None and others_s > OTHERS_BUSY * result.seconds:
            pytest.skip(
                f"{server.name}: {result.seconds:.2f}s, but the machine spent {others_s:.1f} CPU-s on other work"
            )
        assert result.seconds <= serial * 0.85, f"{server.name}: {result.seconds:.2f}s, no gain from processes"

"""``labbench capacity --quick`` end to end: real servers, real Locust, and the physics its numbers must obey.

Natively (the servers pinned to one CPU) and through Compose (each server
limited to one CPU). The bounds are wide: timings on a shared machine are
noisy, but no noise lets 4 sync workers with 100 ms sleeps serve more than
40 req/s, or a CPU serve more 10 ms requests per second than 100.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from labbench.capacity import NOT_THE_SERVER
from labbench.capacitymodels import Capacity
from labbench.results import Results, load_results
from tests.support.cli import labbench, only_run
from tests.support.docker import compose

#: Slack on a bound set by physics: Locust's window edges, a request counted at each end.
OVER = 1.1
SERVERS = ["gunicorn-sync", "gunicorn-gevent"]
#: How a knee's note says it is no measure of the server's limit.
NOT_ITS_OWN = re.compile(r"not (proven )?the server's")


def entry(results: Results, server: str, scenario: str = "io") -> Capacity:
    return next(item for item in results.capacity if (item.server, item.scenario) == (server, scenario))


def check_capacity_run(folder: Path) -> Results:
    """The files, the curves, and the io physics of gunicorn-sync against a greenlet server."""
    results = load_results(folder)
    assert results.finished
    assert [(item.server, item.scenario) for item in results.capacity] == [(server, "io") for server in SERVERS]
    settings = results.run.plan.capacity
    assert settings is not None
    for item in results.capacity:
        offered = [step.offered_rps for step in item.curve]
        # Half the bound: 4 slots of 100 ms allow 40 req/s; greenlets have none but --max-rps.
        first = 20 if item.server == "gunicorn-sync" else settings.max_rps / 2
        assert offered[0] == first and len(offered) == len(set(offered)), offered
        if item.bottleneck is None:
            # Never broke: held up to --max-rps, a lower bound said so.
            assert item.capacity_rps == settings.max_rps and item.reason and "at least" in item.reason, item
        else:
            # A knee the server set was found by stepping, then bisecting.
            assert item.bottleneck in NOT_THE_SERVER or len(offered) >= 3, offered
        assert item.slo_p99_ms == 200
        for step in item.curve:
            assert step.status == "ok", step.error
            assert step.bottleneck is not None and step.achieved_rps is not None
            assert (folder / (step.raw + ".json")).is_file()
            # Enough requests that the p99 is not the slowest one (a step that held achieved its rate).
            assert not step.holds or (step.requests or 0) >= 0.95 * settings.min_samples, step
    sync, gevent = entry(results, "gunicorn-sync"), entry(results, "gunicorn-gevent")
    markdown = (folder / "report.md").read_text()
    assert "## Capacity: io" in markdown and all(f"| {server} |" in markdown for server in SERVERS)
    assert 'id="capacity-io"' in (folder / "report.html").read_text()
    # 4 slots of 100 ms: at most 40 req/s achieved in any step, whatever else ran on the machine.
    assert max(step.achieved_rps or 0 for step in sync.curve) <= 40 * OVER
    assert sync.capacity_rps is None or sync.capacity_rps <= 40 * OVER, sync
    # The lower bounds are the server's only where its knee is: a knee set by a
    # saturated host, the load generator or nothing measured is said so, and is
    # no measure of the server's limit (only of what this machine allowed).
    for item in (sync, gevent):
        if item.bottleneck in NOT_THE_SERVER:
            assert item.reason is not None and NOT_ITS_OWN.search(item.reason), item
    skipped = []
    if sync.bottleneck in NOT_THE_SERVER:
        skipped.append(f"gunicorn-sync {sync.capacity_rps} req/s ({sync.bottleneck})")
    else:
        # At the default SLO at least half of the 40, and the step past it broke on full slots.
        assert sync.capacity_rps is not None and sync.capacity_rps >= 20, sync
        assert sync.bottleneck == "slots", [(s.offered_rps, s.bottleneck) for s in sync.curve]
    # Greenlets are not bounded by slots: far beyond. A knee that is not the
    # server's is a lower bound of its capacity, so it may still show it.
    far = gevent.capacity_rps is not None and gevent.capacity_rps >= 3 * (sync.capacity_rps or 40)
    if gevent.bottleneck in NOT_THE_SERVER and not far:
        skipped.append(f"gunicorn-gevent {gevent.capacity_rps} req/s ({gevent.bottleneck})")
    else:
        assert far, (gevent, sync.capacity_rps)
    if skipped:
        pytest.skip(
            "knee not set by the server (the machine, the load generator, or unexplained): " + "; ".join(skipped)
        )
    return results


@pytest.mark.native
def test_quick_capacity_natively(tmp_path: Path) -> None:
    result = labbench("capacity", "--quick", "--native", "--output", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    check_capacity_run(only_run(tmp_path))


@pytest.mark.native
def test_cpu_capacity_stays_under_the_cpu_limit_natively(tmp_path: Path) -> None:
    """cpu: one CPU and 10 ms of CPU per request allow 100 req/s, whatever the model."""
    flags = ["--servers", "gunicorn-gthread", "--scenarios", "cpu", "--bisections", "1"]
    result = labbench("capacity", "--quick", "--native", *flags, "--output", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (found,) = load_results(only_run(tmp_path)).capacity
    assert max(step.achieved_rps or 0 for step in found.curve) <= 100 * 1.15
    assert found.capacity_rps is None or found.capacity_rps <= 100 * 1.15
    if found.bottleneck in NOT_THE_SERVER:
        # Not the server's knee, and said so; the bound above holds all the same.
        assert found.reason is not None and NOT_ITS_OWN.search(found.reason), found
        return
    # The server set it: its one CPU, never its slots (200 threads' worth of users would be needed).
    assert found.bottleneck == "server-cpu", found.curve


@pytest.mark.docker
def test_quick_capacity_through_compose(lab_stack: object, tmp_path: Path) -> None:
    compose("--profile", "bench", "build", "bench")
    volume = f"{tmp_path}:/lab/results"
    compose("run", "--rm", "--volume", volume, "bench", "capacity", "--quick", timeout=600)
    folder = only_run(tmp_path)
    run = load_results(folder).run
    assert run.mode == "docker" and run.limits is not None and run.limits.cpus == "1"
    assert {path.stat().st_uid for path in [folder, *folder.iterdir()]} == {os.getuid()}
    check_capacity_run(folder)

"""``labbench timeline --native``: the physics of three models, request by request.

One run of the real command line, three servers, one burst each of 16
concurrent ``/io?ms=500``; then what each model must show, with wide margins
(a round is 500 ms; noise on a shared machine is tens of milliseconds):

* ``flask-dev-single``: never more than one request in service;
* ``gunicorn-sync`` (4 workers): at most 4 at once, served by 4 distinct pids;
* ``gevent-pywsgi`` (greenlets): all 16 in service within one sleep.

And on every server, the one clock: each server record inside its client times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labbench.timelinedata import FILE, Burst, Timelines, clock_check, load_timelines, max_in_service, summarize
from tests.support.cli import labbench

pytestmark = pytest.mark.native

SERVERS = ["flask-dev-single", "gunicorn-sync", "gevent-pywsgi"]
N = 16
MS = 500


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Timelines]:
    output = tmp_path_factory.mktemp("timeline")
    argv = ["timeline", "--native", "--servers", ",".join(SERVERS), "--scenarios", "io"]
    result = labbench(*argv, "--requests", str(N), "--io-ms", str(MS), "--output", str(output), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = [path for path in output.iterdir() if (path / FILE).is_file()]
    return folder, load_timelines(folder)


def burst(run: tuple[Path, Timelines], server: str) -> Burst:
    (found,) = [b for b in run[1].bursts if b.server == server]
    assert found.status == "ok", found.error
    assert len(found.requests) == N and all(request.ok for request in found.requests)
    return found


def in_service(found: Burst) -> list[tuple[float, float]]:
    return [(r.served.start, r.served.end) for r in found.requests if r.served]


def test_the_run_is_complete_and_drawn(run: tuple[Path, Timelines]) -> None:
    folder, timelines = run
    assert timelines.run.mode == "native" and timelines.run.finished_at
    assert [b.server for b in timelines.bursts] == SERVERS
    assert (folder / "report.html").is_file() and (folder / "timeline-io.svg").is_file()
    for server in SERVERS:
        assert (folder / f"timeline-io-{server}.svg").is_file()


def test_a_single_threaded_server_never_serves_two_at_once(run: tuple[Path, Timelines]) -> None:
    found = burst(run, "flask-dev-single")
    assert max_in_service(in_service(found)) == 1
    assert len({r.served.pid for r in found.requests if r.served}) == 1


def test_four_sync_workers_serve_at_most_four_at_once_in_four_processes(run: tuple[Path, Timelines]) -> None:
    found = burst(run, "gunicorn-sync")
    assert max_in_service(in_service(found)) <= 4
    assert len({r.served.pid for r in found.requests if r.served}) == 4
    # Four at a time, so four rounds of 500 ms at least.
    assert summarize(found, run[1].servers["gunicorn-sync"]).took_s >= 4 * MS / 1000 * 0.9


def test_greenlets_hold_the_whole_burst_within_one_sleep(run: tuple[Path, Timelines]) -> None:
    found = burst(run, "gevent-pywsgi")
    spans = in_service(found)
    assert max_in_service(spans) == N
    # Every request started before the first one ended: all 16 in service at one moment.
    assert max(start for start, _ in spans) < min(end for _, end in spans)
    assert max(end for _, end in spans) - min(start for start, _ in spans) < 2 * MS / 1000


@pytest.mark.parametrize("server", SERVERS)
def test_client_and_server_read_one_clock(run: tuple[Path, Timelines], server: str) -> None:
    check = clock_check(burst(run, server))
    assert check is not None and check.violations == 0, check
    assert check.low <= 0 <= check.high

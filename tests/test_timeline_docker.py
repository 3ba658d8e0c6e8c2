"""``docker compose run --rm bench timeline``: the timeline through Compose, on two servers.

The bench container and the servers' containers are processes of one host
and share its realtime clock: every server record must fall inside its
client times, as natively. The physics are test_timeline_native.py's, here
with the containers' CPU limit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labbench.timelinedata import FILE, clock_check, load_timelines, max_in_service
from tests.support.docker import compose

pytestmark = pytest.mark.docker

SERVERS = ["gunicorn-sync", "gevent-pywsgi"]
N = 16


def test_timeline_through_compose(lab_stack: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Files in the results folder belong to whoever runs the tests.
    monkeypatch.setenv("LAB_UID", str(os.getuid()))
    monkeypatch.setenv("LAB_GID", str(os.getgid()))
    compose("--profile", "bench", "build", "bench")
    volume = f"{tmp_path}:/lab/results"
    argv = ["timeline", "--servers", ",".join(SERVERS), "--requests", str(N)]
    compose("run", "--rm", "--volume", volume, "bench", *argv, timeout=600)
    (folder,) = [path for path in tmp_path.iterdir() if (path / FILE).is_file()]
    timelines = load_timelines(folder)
    assert timelines.run.mode == "docker" and timelines.run.finished_at
    assert [(b.server, b.scenario) for b in timelines.bursts] == [(s, c) for s in SERVERS for c in ("io", "cpu")]
    for burst in timelines.bursts:
        assert burst.status == "ok", burst.error
        assert burst.cpus == 1.0, "the containers' CPU limit, as the server reports it"
        check = clock_check(burst)
        assert check is not None and check.violations == 0, (burst.server, burst.scenario, check)
        assert (folder / f"timeline-{burst.scenario}-{burst.server}.svg").is_file()
    assert (folder / "report.html").is_file() and (folder / "timeline-io.svg").is_file()
    sync, gevent = (next(b for b in timelines.bursts if b.server == s and b.scenario == "io") for s in SERVERS)
    assert max_in_service([(r.served.start, r.served.end) for r in sync.requests if r.served]) <= 4
    assert len({r.served.pid for r in sync.requests if r.served}) == 4
    assert max_in_service([(r.served.start, r.served.end) for r in gevent.requests if r.served]) == N

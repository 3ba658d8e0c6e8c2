"""Your own app in the Docker lab (docs/own-app.md): built into an image of
its own with LAB_APP_DIR, served by every server with LAB_APP_MODULE, its
scenarios file offered by Locust and measured by `docker compose run bench`
(README's three commands), then an app whose pins break gevent, then the
lab's own app again.

A Compose project and image tag of its own, and host ports + 20000, so that
it never touches the tests' stack or a lab someone is using.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from labcore import matrix, protocol
from tests.support import ROOT
from tests.support.cli import only_run
from tests.support.docker import require_docker

pytestmark = pytest.mark.docker

PROJECT = "lab-own-app-tests"
PORT_OFFSET = 20000
SERVERS = matrix.load()
#: The servers that run on gevent, which pip check says needs greenlet 3
#: (eventlet asks for greenlet>=1.0 only, and serves the app).
GEVENT_SERVERS = {"gunicorn-gevent", "gevent-pywsgi", "uwsgi-gevent"}


def _ports() -> dict[str, str]:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    published = " ".join(str(port) for service in services.values() for port in service.get("ports", []))
    return {knob: str(int(port) + PORT_OFFSET) for knob, port in re.findall(r"\$\{(LAB_\w+_PORT):-(\d+)\}", published)}


PORTS = _ports()


def _compose(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", "compose", "-p", PROJECT, *args],
        cwd=ROOT,
        env=os.environ | PORTS | env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if result.returncode != 0:
        pytest.fail(f"docker compose {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


@contextmanager
def lab(app_dir: str | None, module: str | None, tag: str) -> Iterator[dict[str, str]]:
    """The servers and upstream built and started with these knobs (yielded,
    for the load generators); down (with volumes) afterwards."""
    env = {
        "LAB_APP_IMAGE": f"flask-serving-lab/app:{tag}",
        "LAB_APP_DIR": app_dir or "",
        "LAB_APP_MODULE": module or "",
    }
    if app_dir is None:
        env.pop("LAB_APP_DIR")
    services = ["upstream", *(server.name for server in SERVERS)]
    try:
        _compose(env, "up", "-d", "--build", "--wait", "--wait-timeout", "300", *services)
        yield env
    finally:
        _compose(env, "down", "-v", "--remove-orphans")


def get(server: matrix.Server, path: str) -> tuple[int, bytes]:
    knob = f"LAB_{server.name.upper().replace('-', '_')}_PORT"
    url = f"http://127.0.0.1:{PORTS[knob]}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module", autouse=True)
def docker() -> None:
    require_docker()


def locust_classes(env: dict[str, str]) -> set[str]:
    """The User classes the Locust service offers in its web UI's class picker (``locust --list``)."""
    return set(_compose(env, "run", "--rm", "--no-deps", "locust", "--list").stdout.split())


#: The fixture's scenarios file (tests/fixtures/ownapp/lab-scenarios.yaml) as Locust's classes.
FIXTURE_CLASSES = {"Home", "Add", "Token", "Missing", "AppMix"}
#: Two servers of different models, for a short run of the fixture's scenarios.
BENCH_SERVERS = ["gunicorn-sync", "waitress"]


def test_your_app_on_every_server_then_the_labs_own_again(tmp_path: Path) -> None:
    with lab("tests/fixtures/ownapp", "ownapp:create_app()", "own-app-tests") as env:
        for server in SERVERS:
            assert get(server, "/") == (200, b"<html><body>Hello from ownapp</body></html>"), server.name
            who = json.loads(get(server, protocol.WHOAMI)[1])
            assert who["app"]["refused"] is None and who["model"] == server.model, server.name
            assert get(server, "/count")[0] == 200, f"{server.name}: the app may write to LAB_APP_DATA"
        # README's third command: the load generators read the scenarios file
        # from LAB_APP_DIR, mounted into their containers.
        _compose(env, "--profile", "bench", "build", "bench", "locust")
        assert FIXTURE_CLASSES | {"Hello", "Io"} <= locust_classes(env), "the app's classes, and the lab's beside them"
        flags = ["--scenarios", "home,add", "--servers", ",".join(BENCH_SERVERS), "--users", "2", "--duration", "2"]
        _compose(env, "run", "--rm", "--volume", f"{tmp_path}:/lab/results", "bench", *flags, "--repetitions", "1")
        run = only_run(tmp_path)
        cells = json.loads((run / "results.json").read_text())["cells"]
        assert sorted((c["server"], c["scenario"]) for c in cells) == sorted(
            (server, scenario) for server in BENCH_SERVERS for scenario in ("home", "add")
        )
        for cell in cells:
            assert cell["status"] == "ok" and cell["requests"] > 0 and cell["failures"] == 0, cell
        report = (run / "report.md").read_text()
        assert "## home\n\n`GET /`, kind user." in report and "## add\n\n`POST /add`, kind user." in report
    # A tag of its own: the lab's flask-serving-lab/app:latest stays as it was.
    with lab(None, None, "own-app-tests-default") as env:
        for server in SERVERS:
            assert get(server, "/") == (200, b"Hello, World!"), server.name
        # Unset, the mounted folder holds no scenarios file: the lab's own classes only.
        classes = locust_classes(env)
        assert {"Hello", "Io"} <= classes and not classes & FIXTURE_CLASSES, classes


def test_an_app_that_breaks_gevent_is_refused_by_the_gevent_servers_only() -> None:
    with lab("tests/fixtures/oldgreenlet", "oldgreenlet:app", "own-app-tests-conflict"):
        for server in SERVERS:
            status, body = get(server, "/")
            cause = json.loads(get(server, protocol.WHOAMI)[1])["app"]["refused"]
            if server.name in GEVENT_SERVERS:
                assert status == 503 and cause and "greenlet" in cause, (server.name, cause)
                assert b"Traceback" not in body
            else:
                assert (status, body, cause) == (200, b"old greenlet app", None), server.name

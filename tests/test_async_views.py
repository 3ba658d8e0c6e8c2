"""``async def`` views: which thread runs the coroutine, and each recipe's physics.

Flask's default (asgiref) runs a coroutine in a new loop in a new thread; in a
monkey-patched process the lab runs it with one of its recipes
(``LAB_ASYNC_RECIPE``, ``flasklab/coroutines.py``). The unit tests ask a
coroutine which OS thread it is on; the native tests start the four
monkey-patched servers with one process each and fire concurrent async views
at every recipe: rounds of sleeps, failures counted, a plain request timed
behind async views that compute.

Everything measured goes to test-artifacts/async-views.json; docs/models.md
quotes the run copied to docs/images/2026-12-01T131219Z-concurrency-async-views.json.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from flasklab import create_app
from labbench import native
from labcore import defaults, matrix, protocol
from tests.support import ARTIFACTS, ROOT

# --- which thread runs the coroutine (no server) --------------------------------


@pytest.mark.unit
def test_flasks_default_runs_the_coroutine_in_another_thread() -> None:
    """What LabFlask.async_to_sync's docstring says of asgiref: a new thread,
    not the calling one."""
    app = create_app()

    @app.get("/where")
    async def where() -> dict[str, int]:
        return {"thread": threading.get_ident()}

    ran_on = app.test_client().get("/where").get_json()["thread"]
    assert ran_on != threading.get_ident()


# Patches, builds the app with a recipe, and calls an async view from a
# greenlet: prints the OS thread (and greenlet) of the caller and of the
# coroutine. The real OS thread's id: patching makes threading.get_ident a
# greenlet's.
WHERE = """
import sys
library, recipe = sys.argv[1], sys.argv[2]
if library == "gevent":
    from gevent import monkey
    monkey.patch_all()
    import gevent
    spawn = gevent.spawn
    native_id = monkey.get_original("threading", "get_native_id")
else:
    import eventlet
    eventlet.monkey_patch()
    from eventlet import patcher
    spawn = eventlet.spawn
    native_id = patcher.original("threading").get_native_id
import json, os
import greenlet
os.environ["LAB_ASYNC_RECIPE"] = recipe
from flasklab import create_app
app = create_app()

@app.get("/where")
async def where():
    return {"thread": native_id(), "greenlet": id(greenlet.getcurrent())}

def call():
    reply = app.test_client().get("/where")
    return {"status": reply.status_code, "view": reply.get_json(),
            "caller": {"thread": native_id(), "greenlet": id(greenlet.getcurrent())}}

caller = spawn(call)
print(json.dumps(caller.wait() if library == "eventlet" else caller.get()))
"""


def where_it_runs(library: str, recipe: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", WHERE, library, recipe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.unit
@pytest.mark.parametrize("library", ["gevent", "eventlet"])
def test_the_thread_recipe_runs_the_coroutine_in_another_os_thread(library: str) -> None:
    seen = where_it_runs(library, "thread")
    assert seen["status"] == 200, seen
    assert seen["view"]["thread"] != seen["caller"]["thread"], seen


@pytest.mark.unit
@pytest.mark.parametrize("library", ["gevent", "eventlet"])
def test_the_greenlet_recipe_runs_the_coroutine_on_the_hubs_thread_in_another_greenlet(library: str) -> None:
    seen = where_it_runs(library, "greenlet")
    assert seen["status"] == 200, seen
    assert seen["view"]["thread"] == seen["caller"]["thread"], seen
    assert seen["view"]["greenlet"] != seen["caller"]["greenlet"], seen


@pytest.mark.unit
def test_an_unknown_recipe_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv(protocol.ASYNC_RECIPE_ENV, "threads")
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert stopped.value.code == 3  # gunicorn's master stops rather than respawn
    assert capsys.readouterr().err == "LAB_ASYNC_RECIPE must be one of greenlet, thread, asgiref, not 'threads'\n"


# A sync view calling asyncio.run() after an async view has run, in a
# gevent-patched process: the greenlet recipe's loop never stops, and asyncio
# sees it running in every greenlet of the hub's thread.
SYNC_RUN = """
import sys
from gevent import monkey
monkey.patch_all()
import asyncio, os
import gevent
os.environ["LAB_ASYNC_RECIPE"] = sys.argv[1]
from flasklab import create_app
app = create_app()

@app.get("/sync-run")
def sync_run():
    async def nothing():
        return "ran"
    return asyncio.run(nothing())

def call(path):
    return app.test_client().get(path).status_code

print(gevent.spawn(call, "/async-io?ms=1").get(), gevent.spawn(call, "/sync-run").get())
"""


@pytest.mark.unit
@pytest.mark.parametrize(("recipe", "sync_run_status"), [("greenlet", 500), ("thread", 200)])
def test_the_greenlet_recipe_leaves_no_room_for_asyncio_run_in_sync_views(recipe: str, sync_run_status: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SYNC_RUN, recipe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["200", str(sync_run_status)], done.stderr[-3000:]
    if recipe == "greenlet":
        assert "asyncio.run() cannot be called from a running event loop" in done.stderr


@pytest.mark.unit
def test_the_knob_reaches_every_server_and_readme_states_the_apps_default() -> None:
    services = yaml.safe_load(matrix.compose_file().read_text())["services"]
    for server in matrix.load():
        # Passed through unset, so that the app's default is the only one.
        environment = services[server.name]["environment"]
        assert protocol.ASYNC_RECIPE_ENV in environment, server.name
        assert environment[protocol.ASYNC_RECIPE_ENV] is None, server.name
    readme = (ROOT / "README.md").read_text()
    assert f"| `{protocol.ASYNC_RECIPE_ENV}` | `{defaults.ASYNC_RECIPE}` |" in readme


# --- each recipe under load (native) ---------------------------------------------

N = 40  # concurrent async views on one process
MS = 500  # each awaits this long
CPU_N, CPU_MS = 4, 1000  # async views that compute instead
BEHIND_S = 0.1  # when the plain request follows them

# The four monkey-patched servers, one process each, and the hub's thread
# pool the thread recipe runs coroutines in (gevent's default maxsize, 10;
# eventlet's tpool, 20 threads).
ONE_PROCESS = {
    "gunicorn-gevent": ({"LAB_GUNICORN_GEVENT_WORKERS": "1"}, 10),
    "gevent-pywsgi": ({}, 10),
    "uwsgi-gevent": ({"LAB_UWSGI_GEVENT_PROCESSES": "1"}, 10),
    "eventlet-wsgi": ({}, 20),
}
CASES = [(name, recipe) for name in ONE_PROCESS for recipe in defaults.ASYNC_RECIPES]

observed: dict[str, dict[str, dict[str, Any]]] = {}


@dataclass
class Fired:
    seconds: float
    statuses: Counter[int]


def fire(url: str, n: int, timeout: float = 60) -> Fired:
    """GET ``url`` from ``n`` threads released together; every answer's status counted."""
    ready = threading.Barrier(n)

    def one(_: int) -> int:
        ready.wait()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as reply:
                reply.read()
                return reply.status
        except urllib.error.HTTPError as error:
            return error.code

    with ThreadPoolExecutor(n) as pool:
        started = time.monotonic()
        statuses = Counter(pool.map(one, range(n)))
        return Fired(time.monotonic() - started, statuses)


@pytest.fixture(scope="module", params=CASES, ids=[f"{name}-{recipe}" for name, recipe in CASES])
def running(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str]]:
    name, recipe = request.param
    env = ONE_PROCESS[name][0] | {protocol.ASYNC_RECIPE_ENV: recipe}
    with native.serve(matrix.get(name), env=env) as url:
        fire(url + "/io?ms=1", 4)  # warm up: lazy imports, first forks
        yield name, recipe, url


@pytest.fixture(scope="module", autouse=True)
def record_observations() -> Iterator[None]:
    yield
    if not observed:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "bash tests/run tests/test_async_views.py -m native",
        "machine": machine(),
        "burst": f"{N} x /async-io?ms={MS}",
        "cpu": f"{CPU_N} x /async-cpu?ms={CPU_MS}, then / after {BEHIND_S} s",
        "servers": observed,
    }
    (ARTIFACTS / "async-views.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    packages = ("flask", "asgiref", "gevent", "eventlet", "greenlet", "gunicorn", "uwsgi")
    return {
        "cpu": models[0] if models else platform.processor(),
        "cpus": len(models) or os.cpu_count(),
        "python": platform.python_version(),
        "packages": {name: importlib.metadata.version(name) for name in packages},
        "load average at the end (1, 5, 15 min)": [round(load, 2) for load in os.getloadavg()],
    }


def note(name: str, recipe: str, key: str, value: Any) -> None:
    value = round(value, 3) if isinstance(value, float) else value
    observed.setdefault(name, {}).setdefault(recipe, {})[key] = value


@pytest.mark.native
def test_concurrent_async_views(running: tuple[str, str, str]) -> None:
    name, recipe, url = running
    fired = fire(f"{url}/async-io?ms={MS}", N)
    rounds = fired.seconds / (MS / 1000)
    note(name, recipe, f"{N} x /async-io?ms={MS}: seconds", fired.seconds)
    note(name, recipe, f"{N} x /async-io?ms={MS}: rounds", round(rounds, 2))
    note(name, recipe, f"{N} x /async-io?ms={MS}: statuses", {str(k): v for k, v in sorted(fired.statuses.items())})
    took = f"{name}, {recipe}: {N} async views took {rounds:.2f} rounds, statuses {dict(fired.statuses)}"
    if recipe == "asgiref":
        # Flask's default: a view that starts while another awaits finds its
        # loop running on the same OS thread and fails at once.
        assert fired.statuses[500] >= N // 2, took
        assert fired.statuses[500] + fired.statuses[200] == N, took
        return
    assert fired.statuses == Counter({200: N}), took
    if recipe == "greenlet":
        # One loop, no cap: every view awaits side by side.
        assert rounds <= 1.5, took
    else:
        # The hub's pool runs `pool` views at a time.
        pool = ONE_PROCESS[name][1]
        expected = math.ceil(N / pool)
        assert expected * 0.95 <= rounds <= expected + 0.5, f"{took}; a pool of {pool} allows {expected}"


@pytest.mark.native
def test_async_views_that_compute(running: tuple[str, str, str]) -> None:
    """A coroutine that never awaits holds whatever runs its loop: in the
    greenlet recipe the hub's own thread, so a plain request waits for all of
    them; in the thread recipe a pool thread, and the hub still answers."""
    name, recipe, url = running
    if recipe == "asgiref":
        pytest.skip("Flask's default fails for concurrent async views (above)")
    with ThreadPoolExecutor(1) as pool:
        computing = pool.submit(fire, f"{url}/async-cpu?ms={CPU_MS}", CPU_N)
        time.sleep(BEHIND_S)
        started = time.monotonic()
        with urllib.request.urlopen(url + "/", timeout=60) as reply:
            reply.read()
        behind = time.monotonic() - started
        fired = computing.result()
    serial = CPU_N * CPU_MS / 1000
    note(name, recipe, f"{CPU_N} x /async-cpu?ms={CPU_MS}: seconds", fired.seconds)
    note(name, recipe, f"/ sent {BEHIND_S} s after them: seconds", behind)
    took = f"{name}, {recipe}: {CPU_N} computing views took {fired.seconds:.2f}s, / behind them {behind:.2f}s"
    assert fired.statuses == Counter({200: CPU_N}), took
    # One process, one GIL: the work is done one view at a time either way.
    assert fired.seconds >= serial * 0.9, took
    # The hub's thread gets the request at the earliest when the loop's view
    # in progress ends; a pool thread computing leaves it the GIL often.
    rest_of_one = CPU_MS / 1000 - BEHIND_S
    if recipe == "greenlet":
        assert behind >= rest_of_one * 0.65, took
    else:
        assert behind <= rest_of_one / 3, took

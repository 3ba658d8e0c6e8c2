"""The claims ledger (docs/claims.md), claims 14 to 20: advice people give.

Some of these are about packages the lab does not install (Quart, FastAPI,
mod_wsgi); their verdicts rest on the cited docs, and the tests check what the
lab can: what the pinned packages do with the quoted command, what they print,
what the kernel holds. Numbers go to test-artifacts/claims.json beside
tests/test_claims.py's.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import flask
import pytest
import werkzeug.serving

from labbench import native
from labcore import matrix
from tests.support import ROOT
from tests.support.claims import PRIORITY, Notes, free_cores, listen_queue, raise_priority

notes = Notes()
note = notes.note


@pytest.fixture(scope="module", autouse=True)
def record_observations() -> Iterator[None]:
    yield
    notes.save()


# --- 14. gunicorn -k eventlet ----------------------------------------------------


@pytest.mark.native
def test_c14_gunicorn_refuses_the_eventlet_worker() -> None:
    # The lab's gunicorn-gevent with the worker class the advice names.
    gevent = matrix.get("gunicorn-gevent")
    words = shlex.split(gevent.command)
    at = words.index("--worker-class")
    assert words[at + 1] == "gevent"
    words[at + 1] = "eventlet"
    quoted = replace(gevent, command=shlex.join(words))
    with pytest.raises(native.ServerFailed) as failure, native.serve(quoted):
        pass
    message = str(failure.value)
    error = next(line for line in message.splitlines() if line.startswith("Error:"))
    note(14, f"gunicorn {importlib.metadata.version('gunicorn')} -k eventlet", error.strip())
    assert "exited with 1" in message
    assert "Error: class uri 'eventlet' invalid or not found" in message
    assert "Entry point ('gunicorn.workers', 'eventlet') not found" in message


# --- 15. eventlet as a recommended route ---------------------------------------------


@pytest.mark.unit
def test_c15_eventlet_warns_on_import_that_it_is_deprecated() -> None:
    # A fresh interpreter with Python's default warning filters, as a user's app has.
    imported = subprocess.run(
        [sys.executable, "-c", "import eventlet"], capture_output=True, text=True, timeout=60, check=True
    )
    first = imported.stderr.strip().splitlines()[:3]
    note(15, "python -c 'import eventlet': stderr, first lines", first)
    assert "EventletDeprecationWarning" in imported.stderr
    assert "Eventlet is deprecated" in imported.stderr
    assert "strongly recommend against using it for new projects" in imported.stderr
    # Not a DeprecationWarning, which Python hides outside __main__: it shows
    # wherever eventlet is imported.
    probe = (
        "import warnings; warnings.simplefilter('ignore'); import eventlet; "
        "print(eventlet.EventletDeprecationWarning.__mro__[1].__name__)"
    )
    base = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert base.stdout.strip() == "Warning"


# --- 16. "multiprocessing and asyncio address GIL issues" -----------------------------

WORK_MS = 500
JOBS = 4


def _burn(ms: int) -> float:
    """Pure-Python work until this thread has used ``ms`` of CPU; its CPU seconds."""
    started = time.thread_time()
    deadline = started + ms / 1000
    total = 0
    while time.thread_time() < deadline:
        for i in range(1_000):
            total += i * i
    return time.thread_time() - started


async def _burn_async(ms: int) -> float:
    return _burn(ms)  # a coroutine that never awaits: CPU work gives the loop nothing to interleave


def _gathered() -> float:
    async def main() -> None:
        await asyncio.gather(*(_burn_async(WORK_MS) for _ in range(JOBS)))

    started = time.monotonic()
    asyncio.run(main())
    return time.monotonic() - started


def _own_session_first(cpus: set[int]) -> None:
    """A pool process's initializer: pinned, in a session of its own, raised
    above the machine's other work (as claim 6's servers are)."""
    os.sched_setaffinity(0, cpus)
    os.setsid()
    raise_priority(os.getpid())  # where it may not, the test skips on a busy machine


def _niceness(_: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def _pooled(cpus: set[int]) -> tuple[float, float, bool]:
    """Seconds for JOBS bursts in len(cpus) processes, the CPU seconds they
    used, and whether the processes run at the raised priority."""
    with ProcessPoolExecutor(len(cpus), initializer=_own_session_first, initargs=(cpus,)) as pool:
        raised = all(nice == PRIORITY for nice in pool.map(_niceness, range(len(cpus))))
        list(pool.map(_burn, [1] * len(cpus)))  # the processes are up
        started = time.monotonic()
        used = sum(pool.map(_burn, [WORK_MS] * JOBS))
        return time.monotonic() - started, used, raised


@pytest.mark.native  # CPU load: it runs in the loaded lane, under the lab's lock
def test_c16_asyncio_does_nothing_for_cpu_work_multiprocessing_uses_the_cores() -> None:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("needs two CPUs")
    serial = JOBS * WORK_MS / 1000
    gathered = _gathered()
    two = set(cores[:2])
    pooled, used, raised = _pooled(two)
    note(16, f"asyncio.gather of {JOBS} coroutines of {WORK_MS} ms CPU: seconds", gathered)
    note(
        16,
        f"multiprocessing, 2 processes on 2 CPUs, {JOBS} x {WORK_MS} ms CPU: seconds, cores used",
        [round(pooled, 2), round(used / pooled, 2)],
    )
    note(16, f"pool processes at nice {PRIORITY}", raised)
    # One event loop is one thread: the coroutines run one after another.
    assert gathered >= serial * 0.95
    # Two processes, two interpreters, two GILs: about half the serial time.
    # Without the raised priority, only a machine with free cores can show it.
    if not raised and pooled > serial * 0.75 and (free := free_cores(two)) < 1.6:
        pytest.skip(f"not root, and other work left {free:.2f} of 2 CPUs free: cannot show processes' gain")
    assert pooled <= serial * 0.75, f"{pooled:.2f}s, {used / pooled:.2f} cores"


# --- 17. "Flask keeps a request queue" ---------------------------------------------

LONG_MS = 2000
WAITING = 5


def _exchange(port: int) -> tuple[float, float]:
    """Connect, send GET /, read the answer: seconds to connect, seconds to the answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        connected = time.monotonic() - started
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert re.match(rb"HTTP/1\.[01] 200 ", answer), answer[:80]
    return connected, time.monotonic() - started


@pytest.mark.native
def test_c17_requests_wait_in_the_kernels_listen_queue_not_in_flask() -> None:
    # Werkzeug asks the kernel for a backlog of 128 (listen()); it has no queue of its own.
    assert werkzeug.serving.BaseWSGIServer.request_queue_size == werkzeug.serving.LISTEN_QUEUE == 128
    with native.serve(matrix.get("flask-dev-single")) as url:
        port = int(url.rsplit(":", 1)[1])
        with ThreadPoolExecutor(1 + WAITING) as pool:
            busy = pool.submit(urllib.request.urlopen, f"{url}/io?ms={LONG_MS}", timeout=30)
            time.sleep(0.3)
            waiting = [pool.submit(_exchange, port) for _ in range(WAITING)]
            time.sleep(0.3)
            queued = listen_queue(port)
            busy.result().read()
            exchanges = [future.result() for future in waiting]
    connects = [round(connected, 3) for connected, _ in exchanges]
    answers = [round(answered, 2) for _, answered in exchanges]
    note(17, f"app.run(threaded=False) busy with /io?ms={LONG_MS}: listen queue with {WAITING} waiting", queued)
    note(17, "their connect() seconds", connects)
    note(17, "their answers, seconds after connecting", answers)
    # The kernel completed every handshake while the server was busy, and
    # kept the connections until the server's next accept().
    assert queued == WAITING
    assert max(connects) < 0.2
    assert min(answers) >= (LONG_MS / 1000 - 0.6) * 0.9


# --- 18 and 20. Quart and FastAPI -------------------------------------------------


@pytest.mark.unit
def test_c18_c20_flask_is_a_wsgi_framework_quart_and_fastapi_are_other_frameworks() -> None:
    # A Flask app is a WSGI callable: (environ, start_response), synchronous.
    parameters = list(inspect.signature(flask.Flask.__call__).parameters)
    note(18, "flask.Flask.__call__ parameters", parameters)
    assert parameters == ["self", "environ", "start_response"]
    assert not inspect.iscoroutinefunction(flask.Flask.__call__)
    # ASGI apps (Quart's, FastAPI's) are async (scope, receive, send): nothing
    # in Flask or its dependencies provides or installs them.
    # Its extras included (async brings asgiref, to run async views under WSGI).
    requires = {re.split(r"[ ;<>=!~\[]", line, maxsplit=1)[0].lower() for line in importlib.metadata.requires("flask")}
    note(18, "Flask's requirements, extras included", sorted(requires))
    assert not {"quart", "fastapi", "starlette"} & requires
    for name in ("quart", "fastapi"):
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version(name)


# --- 19. "use gunicorn, uWSGI or mod_wsgi in production" --------------------------


@pytest.mark.unit
def test_c19_the_labs_uwsgi_is_the_20_line_in_maintenance() -> None:
    pinned = re.search(r"^uwsgi==(\S+)$", (ROOT / "services/app/requirements.txt").read_text(), re.MULTILINE)
    assert pinned
    reported = subprocess.run(
        [str(Path(sys.executable).with_name("uwsgi")), "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    note(19, "uwsgi --version", reported)
    # The 2.0 line, first released in 2013, gets bug fixes only.
    assert reported == pinned[1]
    assert reported.startswith("2.0.")

"""The endpoints: one per kind of workload a Flask app meets in production.

=============  ==========================================================
``/``          the baseline: almost no work per request
``/json``      serialisation through ``jsonify``
``/json-dumps`` the same bytes through ``json.dumps`` and ``response_class``
``/io``        blocking I/O, stood in for by ``time.sleep`` (``via=c``: in C)
``/upstream``  real network I/O: an HTTP call to the lab's upstream service
``/cpu``       pure-Python work that holds the GIL
``/async-io``  an ``async def`` view awaiting ``asyncio.sleep``
``/async-cpu`` an ``async def`` view doing ``/cpu``'s work without awaiting
``/mixed``     a blocking wait, then CPU work: ``?io_ms=N&cpu_ms=M``
=============  ==========================================================

The lab's instruments (``/_lab/whoami``, ``/_lab/usage``, ``/_lab/packages``)
are not views of this app: :mod:`flasklab.instruments` answers them in front
of any app the lab serves, this one included.

Any of them, asked with ``X-Lab-Timeline: 1``, also tells where and when it
ran the request, in a response header (``timeline.py``).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import json
import re
import signal
import time
from typing import Any

import urllib3
from flask import Blueprint, Response, current_app, jsonify, request

from flasklab.errors import BadParameter
from labcore import defaults
from labcore.scenarios import PERSON

bp = Blueprint("lab", __name__)


# ASCII digits only: int() would also accept " 7", "+7", "7_0" and other scripts' digits.
_DIGITS = re.compile(r"[0-9]{1,9}")

# One pool per process. urllib3 talks through the socket module, so gevent
# and eventlet monkey patching make it cooperative; block=False lets a burst
# open extra connections instead of queueing behind the pool.
_http = urllib3.PoolManager(maxsize=64, block=False, retries=False)


# What /io sleeps through: Python's time.sleep (which gevent and eventlet patch),
# or libc's nanosleep called through ctypes, the way a C-extension client such
# as mysqlclient or pycurl blocks in C where no monkey patch can reach;
# "c-uninterrupted" holds signals off until it returns (see below).
SLEEP_VIA = ("python", "c", "c-uninterrupted")

# dlopen(NULL): the C library this interpreter already runs on.
_libc = ctypes.CDLL(None, use_errno=True)


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


def _sleep_in_c(ms: int) -> None:
    """Sleep in libc's ``nanosleep``. ctypes releases the GIL for the call, so
    other threads run meanwhile; a gevent or eventlet hub, which only switches
    when Python code yields to it, cannot."""
    wanted = _Timespec(ms // 1000, ms % 1000 * 1_000_000)
    left = _Timespec()
    while _libc.nanosleep(ctypes.byref(wanted), ctypes.byref(left)) != 0:
        if ctypes.get_errno() != errno.EINTR:
            raise OSError(ctypes.get_errno(), "nanosleep failed")
        # A signal woke it early: sleep what is left, as time.sleep does.
        wanted, left = left, _Timespec()


def _sleep_in_c_uninterrupted(ms: int) -> None:
    """Sleep in C with this thread's signals blocked until the call returns.

    ``_sleep_in_c`` comes back to Python whenever a signal interrupts it, so
    a Python signal handler (gunicorn's SIGABRT on a worker timeout) runs at
    once. Many C libraries instead resume their wait after a signal (libpq's
    poll loop does), and a long computation inside a C extension never
    looks: the handler waits until the call returns. This is that call.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        _sleep_in_c(ms)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _via() -> str:
    """The ``via`` query parameter of /io: one of :data:`SLEEP_VIA`."""
    raw = request.args.get("via", SLEEP_VIA[0])
    if raw not in SLEEP_VIA:
        raise BadParameter("via", f"must be one of {', '.join(SLEEP_VIA)}, not {raw[:40]!r}")
    return raw


def _ms(default: int, name: str = "ms") -> int:
    """The query parameter ``name``, in ms, validated against the lab's cap."""
    raw = request.args.get(name)
    if raw is None:
        return default
    cap = current_app.config["MAX_MS"]
    if not _DIGITS.fullmatch(raw):
        raise BadParameter(name, f"must be a whole number of milliseconds from 0 to {cap}, not {raw[:40]!r}")
    value = int(raw)
    if value > cap:
        raise BadParameter(name, f"must be at most {cap}, not {value}")
    return value


@bp.get("/")
def hello() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


@bp.get("/json")
def json_jsonify() -> Response:
    return jsonify(PERSON)


@bp.get("/json-dumps")
def json_dumps() -> Response:
    # The arguments jsonify uses by default outside debug mode (sorted keys,
    # compact separators, trailing newline), so both endpoints send the same
    # bytes and only the code path differs.
    body = json.dumps(PERSON, sort_keys=True, separators=(",", ":")) + "\n"
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/io")
def io() -> Response:
    ms = _ms(default=defaults.IO_MS)
    via = _via()
    if via == "c":
        _sleep_in_c(ms)
    elif via == "c-uninterrupted":
        _sleep_in_c_uninterrupted(ms)
    else:
        time.sleep(ms / 1000)
    return jsonify(slept_ms=ms)


@bp.get("/upstream")
def upstream() -> Any:
    ms = _ms(default=defaults.IO_MS)
    url = f"{current_app.config['UPSTREAM_URL']}/io?ms={ms}"
    try:
        reply = _http.request("GET", url, timeout=ms / 1000 + 10)
    except urllib3.exceptions.HTTPError as error:
        return jsonify(error="Bad Gateway", status=502, message=f"upstream unreachable: {error}"), 502
    if reply.status != 200 or reply.json().get("slept_ms") != ms:
        return jsonify(error="Bad Gateway", status=502, message=f"upstream answered {reply.status}"), 502
    return jsonify(upstream_ms=ms)


def _burn_cpu(ms: int) -> int:
    """Do pure-Python work until this thread has used ``ms`` of CPU time.

    The thread's CPU clock, unlike the wall clock, does not advance while
    other threads hold the GIL, so each request does the same amount of work
    however contended the process is.
    """
    deadline = time.thread_time() + ms / 1000
    rounds = 0
    total = 0
    while time.thread_time() < deadline:
        for i in range(1_000):  # many bytecodes per clock read
            total += i * i
        rounds += 1
    return rounds


@bp.get("/cpu")
def cpu() -> Response:
    ms = _ms(default=defaults.CPU_MS)
    started = time.thread_time()
    rounds = _burn_cpu(ms)
    return jsonify(ms=ms, cpu_ms=round((time.thread_time() - started) * 1000, 3), rounds=rounds)


@bp.get("/mixed")
def mixed() -> Response:
    # A typical view: wait on a database or a service, then compute on what
    # came back. The wait is time.sleep (cooperative where monkey-patched), so
    # each server's model decides what else runs meanwhile; the CPU part holds
    # the GIL whatever the model.
    io_ms = _ms(default=defaults.IO_MS, name="io_ms")
    cpu_ms = _ms(default=defaults.CPU_MS, name="cpu_ms")
    if io_ms + cpu_ms > current_app.config["MAX_MS"]:
        raise BadParameter("io_ms", f"io_ms + cpu_ms must be at most {current_app.config['MAX_MS']}")
    time.sleep(io_ms / 1000)
    started = time.thread_time()
    rounds = _burn_cpu(cpu_ms)
    return jsonify(
        io_ms=io_ms, cpu_ms=cpu_ms, cpu_used_ms=round((time.thread_time() - started) * 1000, 3), rounds=rounds
    )


@bp.get("/async-io")
async def async_io() -> Response:
    # Under WSGI Flask runs this coroutine to completion in its own event
    # loop; the worker's thread or greenlet waits for it the whole time.
    ms = _ms(default=defaults.IO_MS)
    await asyncio.sleep(ms / 1000)
    return jsonify(slept_ms=ms)


@bp.get("/async-cpu")
async def async_cpu() -> Response:
    # A coroutine that computes never yields to its event loop: what that
    # blocks depends on where the loop runs (coroutines.py, docs/models.md).
    ms = _ms(default=defaults.CPU_MS)
    started = time.thread_time()
    rounds = _burn_cpu(ms)
    return jsonify(ms=ms, cpu_ms=round((time.thread_time() - started) * 1000, 3), rounds=rounds)

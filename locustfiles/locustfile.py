"""Load scenarios for the Flask Serving Lab: one Locust User class per workload.

Each class hammers one endpoint of the lab's app (see
``services/app/flasklab/views.py``) and checks every answer, so a server that
answers fast but wrong scores failures, not throughput:

=============  ============  ========================  ==============================
User class     scenario      request                   a success is
=============  ============  ========================  ==============================
``Hello``      hello         ``GET /``                 the body ``Hello, World!``
``Json``       json          ``GET /json``             the person ``{"name": "John"…``
``JsonDumps``  json-dumps    ``GET /json-dumps``       the same person
``Io``         io            ``GET /io?ms=N``          ``{"slept_ms": N}``
``Upstream``   upstream      ``GET /upstream?ms=N``    ``{"upstream_ms": N}``
``Cpu``        cpu           ``GET /cpu?ms=M``         ``{"ms": M, …}``
``AsyncIo``    async-io      ``GET /async-io?ms=N``    ``{"slept_ms": N}``
``Mix``        mix           all of the above          each its own check (weighted)
=============  ============  ========================  ==============================

Users never wait between requests, so the load is closed-loop: each user has
one request in flight at all times and the user count is the concurrency.

Choosing what to run:

* the scenario: in the web UI, the class picker (the lab's master runs with
  ``--class-picker``); headless, name the classes as arguments, e.g.
  ``locust -f locustfile.py --headless -u 50 -t 1m Io``.
* the server: ``--target`` (a dropdown in the web UI) lists every server in
  compose.yaml and sends the load to ``http://<target>:8000`` on the Compose
  network. A host given explicitly (``--host`` or the web UI's Host field)
  wins, which is how tests and native runs point Locust at loopback.
* the work per request: ``--io-ms`` (``/io``, ``/upstream``, ``/async-io``)
  and ``--cpu-ms`` (``/cpu``).
* ``--warmup S``: statistics are reset S seconds into the test, so that they
  cover only the steady state (the benchmark runner, labbench, relies on it).

Every option reaches distributed workers: the master sends its parsed
options, custom ones included, with each spawn message, and each user
resolves its base URL from them when it is created.

Each scenario class also carries ``scenario``, ``kind`` (``baseline``,
``io``, ``cpu`` or ``mix``: what bounds its ideal throughput) and ``path``,
which labbench reads to describe it.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, constant, events
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import ResponseContextManager
from locust.env import Environment

import matrix
import weblogin  # noqa: F401  (the web UI's optional login: docs/safety.md)

logger = logging.getLogger(__name__)

PERSON = {"name": "John", "age": 30, "city": "New York"}

SERVERS = matrix.names()
DEFAULT_TARGET = "gunicorn-sync" if "gunicorn-sync" in SERVERS else SERVERS[0]
DEFAULT_IO_MS = 100
DEFAULT_CPU_MS = 10


def _milliseconds(text: str) -> int:
    # The app rejects anything else with a 400; better to refuse it before a run.
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of milliseconds, not {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, not {text!r}")
    return value


@events.init_command_line_parser.add_listener
def _add_arguments(parser: LocustArgumentParser, **_kwargs: Any) -> None:
    # include_in_web_ui makes each one a form field; choices makes --target a dropdown.
    parser.add_argument(
        "--target",
        choices=SERVERS,
        default=DEFAULT_TARGET,
        env_var="LOCUST_TARGET",
        include_in_web_ui=True,
        help="Server under test, from compose.yaml; leave Host empty to use it",
    )
    parser.add_argument(
        "--io-ms",
        type=_milliseconds,
        default=DEFAULT_IO_MS,
        env_var="LOCUST_IO_MS",
        include_in_web_ui=True,
        help="Milliseconds each /io, /upstream and /async-io request waits",
    )
    parser.add_argument(
        "--cpu-ms",
        type=_milliseconds,
        default=DEFAULT_CPU_MS,
        env_var="LOCUST_CPU_MS",
        include_in_web_ui=True,
        help="Milliseconds of CPU each /cpu request burns",
    )
    parser.add_argument(
        "--warmup",
        type=_seconds,
        default=0.0,
        env_var="LOCUST_WARMUP",
        include_in_web_ui=True,
        help="Seconds after the start at which statistics are reset (0: never)",
    )


def _option(environment: Environment, name: str, default: Any) -> Any:
    # parsed_options is None when Locust is used as a library.
    return getattr(environment.parsed_options, name, default)


def base_url(environment: Environment) -> str:
    """Where this test's requests go: the explicit host, else the target's Compose URL."""
    if environment.host:
        return environment.host
    return matrix.get(_option(environment, "target", DEFAULT_TARGET)).compose_url


# The pending warm-up reset of this process's current test, if any.
_warmup_timer: gevent.Greenlet | None = None


def _end_warmup(environment: Environment, seconds: float) -> None:
    if environment.runner is not None:
        logger.info("Warm-up of %gs over: statistics reset", seconds)
        environment.runner.stats.reset_all()


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs: Any) -> None:
    global _warmup_timer
    # The web UI shows no host when the target picks it, so the log of the
    # master and of every worker says where this test's load goes.
    logger.info("Load goes to %s", base_url(environment))
    # Every node resets its own statistics: the master its totals, each
    # worker what it has not reported yet, which would otherwise carry
    # warm-up requests into the master's fresh totals.
    warmup = _option(environment, "warmup", 0.0)
    if warmup > 0:
        _warmup_timer = gevent.spawn_later(warmup, _end_warmup, environment, warmup)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kwargs: Any) -> None:
    global _warmup_timer
    # A test stopped within its warm-up must not reset the next one's statistics.
    if _warmup_timer is not None:
        _warmup_timer.kill(block=False)
        _warmup_timer = None


class LabUser(FastHttpUser):
    """What every scenario shares: no think time, checked answers, the chosen server."""

    abstract = True
    wait_time = constant(0)

    scenario: ClassVar[str]
    kind: ClassVar[str]
    path: ClassVar[str]

    def __init__(self, environment: Environment) -> None:
        # Set per user, never on the class: Locust copies an explicit host
        # onto the classes itself and never clears it, and the web UI would
        # offer a class-level target URL as the next run's explicit Host.
        # By the time a worker creates users, it holds the master's host and
        # options for this test.
        if not environment.host:
            self.host = base_url(environment)
        self.io_ms: int = _option(environment, "io_ms", DEFAULT_IO_MS)
        self.cpu_ms: int = _option(environment, "cpu_ms", DEFAULT_CPU_MS)
        super().__init__(environment)


def _expect(
    response: ResponseContextManager, expected: object, read: Callable[[ResponseContextManager], object]
) -> None:
    """Fail the request unless ``read(response)`` gives ``expected``."""
    if getattr(response, "error", None) is not None:
        return  # Locust already fails a connection error or a 4xx/5xx status
    try:
        actual = read(response)
    except (ValueError, TypeError, KeyError) as error:  # not JSON, or not the expected shape
        response.failure(f"unreadable body ({error!r:.60}): {response.text!r:.80}")
        return
    if actual != expected:
        response.failure(f"expected {expected!r:.80}, got {actual!r:.80}")


def _text(response: ResponseContextManager) -> object:
    return response.text


def _json(response: ResponseContextManager) -> object:
    return response.json()


def _field(name: str) -> Callable[[ResponseContextManager], object]:
    def read(response: ResponseContextManager) -> object:
        return response.json()[name]

    return read


# Module-level tasks, so that each scenario and the mix share one definition.
Task = Callable[[LabUser], None]


def hello(user: LabUser) -> None:
    with user.client.get("/", catch_response=True) as response:
        _expect(response, "Hello, World!", _text)


def json_jsonify(user: LabUser) -> None:
    with user.client.get("/json", catch_response=True) as response:
        _expect(response, PERSON, _json)


def json_dumps(user: LabUser) -> None:
    with user.client.get("/json-dumps", catch_response=True) as response:
        _expect(response, PERSON, _json)


def io(user: LabUser) -> None:
    with user.client.get(f"/io?ms={user.io_ms}", catch_response=True) as response:
        _expect(response, user.io_ms, _field("slept_ms"))


def upstream(user: LabUser) -> None:
    with user.client.get(f"/upstream?ms={user.io_ms}", catch_response=True) as response:
        _expect(response, user.io_ms, _field("upstream_ms"))


def cpu(user: LabUser) -> None:
    with user.client.get(f"/cpu?ms={user.cpu_ms}", catch_response=True) as response:
        _expect(response, user.cpu_ms, _field("ms"))


def async_io(user: LabUser) -> None:
    with user.client.get(f"/async-io?ms={user.io_ms}", catch_response=True) as response:
        _expect(response, user.io_ms, _field("slept_ms"))


class Hello(LabUser):
    scenario = "hello"
    kind = "baseline"
    path = "/"
    tasks: ClassVar[list[Task]] = [hello]


class Json(LabUser):
    scenario = "json"
    kind = "baseline"
    path = "/json"
    tasks: ClassVar[list[Task]] = [json_jsonify]


class JsonDumps(LabUser):
    scenario = "json-dumps"
    kind = "baseline"
    path = "/json-dumps"
    tasks: ClassVar[list[Task]] = [json_dumps]


class Io(LabUser):
    scenario = "io"
    kind = "io"
    path = "/io"
    tasks: ClassVar[list[Task]] = [io]


class Upstream(LabUser):
    scenario = "upstream"
    kind = "io"  # to this server, a call upstream is a wait like any other
    path = "/upstream"
    tasks: ClassVar[list[Task]] = [upstream]


class Cpu(LabUser):
    scenario = "cpu"
    kind = "cpu"
    path = "/cpu"
    tasks: ClassVar[list[Task]] = [cpu]


class AsyncIo(LabUser):
    scenario = "async-io"
    kind = "io"
    path = "/async-io"
    tasks: ClassVar[list[Task]] = [async_io]


class Mix(LabUser):
    scenario = "mix"
    kind = "mix"
    path = " ".join(single.path for single in (Hello, Json, JsonDumps, Io, Upstream, Cpu, AsyncIo))
    # A rough web app: mostly cheap pages and API reads, a fair share of
    # waiting on I/O, a little real CPU work.
    tasks: ClassVar[dict[Task, int]] = {
        hello: 4,
        json_jsonify: 2,
        json_dumps: 1,
        io: 2,
        upstream: 2,
        cpu: 1,
        async_io: 1,
    }

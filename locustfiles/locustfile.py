"""Load scenarios for the Flask Serving Lab: one Locust User class per workload.

The scenarios themselves are data in ``labcore.scenarios`` (request, kind of
work, what a correct answer is); this file turns each into a User class
(``Hello``, ``Json``, ``JsonDumps``, ``Io``, ``Upstream``, ``Cpu``,
``AsyncIo``, ``Mix``) that hammers its endpoint and checks every answer, so a
server that answers fast but wrong scores failures, not throughput.

Users never wait between requests, so the load is closed-loop: each user has
one request in flight at all times and the user count is the concurrency.

Choosing what to run:

* the scenario: in the web UI, the class picker (the lab's master runs with
  ``--class-picker``); headless, name the classes as arguments, e.g.
  ``locust -f locustfile.py --headless -u 50 -t 1m Io``.
* the server: in the web UI, the "Server under load" list (webui.py), which
  fills the Host with the server's address on the Compose network;
  headless, ``--target`` names a server of compose.yaml and sends the load
  to ``http://<target>:8000``. A host given explicitly (``--host``) wins,
  which is how tests and native runs point Locust at loopback.
* the user's own scenarios: ``LAB_APP_SCENARIOS`` (or ``lab-scenarios.yaml``
  in ``LAB_APP_DIR``) adds a User class per scenario of that file
  (labcore.userscenarios), e.g. ``AddItem`` for ``add-item``.
* the work per request: ``--io-ms`` (``/io``, ``/upstream``, ``/async-io``)
  and ``--cpu-ms`` (``/cpu``).
* ``--warmup S``: statistics are reset S seconds into the test, so that they
  cover only the steady state (the benchmark runner, labbench, relies on it).

Every option reaches distributed workers: the master sends its parsed
options, custom ones included, with each spawn message, and each user
resolves its base URL from them when it is created.
"""

from __future__ import annotations

import argparse
import logging
import math
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, constant, events
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment

import weblogin  # noqa: F401  (the web UI's optional login: docs/safety.md)
import webui
from labcore import defaults, matrix, protocol, userscenarios
from labcore.scenarios import Scenario

logger = logging.getLogger(__name__)

# The lab's compose.yaml: the nearest one above this file (or LAB_COMPOSE_FILE).
COMPOSE_FILE = matrix.compose_file(Path(__file__).parent)
SERVERS = matrix.names(COMPOSE_FILE)
DEFAULT_TARGET = "gunicorn-sync" if "gunicorn-sync" in SERVERS else SERVERS[0]
webui.register(COMPOSE_FILE, DEFAULT_TARGET)


def _milliseconds(text: str) -> int:
    # The app rejects anything else with a 400; better to refuse it before a run.
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of milliseconds, not {text!r}")
    if int(text) > defaults.MAX_MS:
        raise argparse.ArgumentTypeError(f"must be at most {defaults.MAX_MS} (the app's cap), not {text!r}")
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
        # The web UI chooses by Host instead (its "Server under load" list, webui.py).
        include_in_web_ui=False,
        help="Server under test, from compose.yaml (an explicit --host wins)",
    )
    parser.add_argument(
        "--io-ms",
        type=_milliseconds,
        default=defaults.IO_MS,
        env_var="LOCUST_IO_MS",
        include_in_web_ui=True,
        help="Milliseconds each /io, /upstream and /async-io request waits",
    )
    parser.add_argument(
        "--cpu-ms",
        type=_milliseconds,
        default=defaults.CPU_MS,
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
    return matrix.get(_option(environment, "target", DEFAULT_TARGET), COMPOSE_FILE).compose_url


# The pending warm-up reset of this process's current test, if any.
_warmup_timer: gevent.Greenlet | None = None


def _end_warmup(environment: Environment, seconds: float) -> None:
    if environment.runner is not None:
        logger.info("Warm-up of %gs over: %s", seconds, protocol.LOG_RESET)
        environment.runner.stats.reset_all()


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs: Any) -> None:
    global _warmup_timer
    # The web UI shows no host when the target picks it, so the log of the
    # master and of every worker says where this test's load goes.
    logger.info("%s %s", protocol.LOG_STARTED, base_url(environment))
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

    scenario: ClassVar[Scenario]

    def __init__(self, environment: Environment) -> None:
        # Set per user, never on the class: Locust copies an explicit host
        # onto the classes itself and never clears it, and the web UI would
        # offer a class-level target URL as the next run's explicit Host.
        # By the time a worker creates users, it holds the master's host and
        # options for this test.
        if not environment.host:
            self.host = base_url(environment)
        self.io_ms: int = _option(environment, "io_ms", defaults.IO_MS)
        self.cpu_ms: int = _option(environment, "cpu_ms", defaults.CPU_MS)
        super().__init__(environment)


Task = Callable[[LabUser], None]


def task_for(scenario: Scenario) -> Task:
    """Send the scenario's request and fail it unless the answer is correct."""

    def task(user: LabUser) -> None:
        ms = scenario.work_ms(user.io_ms, user.cpu_ms)
        with user.client.get(scenario.request(user.io_ms, user.cpu_ms), catch_response=True) as response:
            if getattr(response, "error", None) is not None:
                return  # Locust already fails a connection error or a 4xx/5xx status
            if (problem := scenario.verify(response.text or "", ms)) is not None:
                response.failure(problem)

    def user_task(user: LabUser) -> None:
        # A user's scenario says which status is right, a 404 included: the
        # status decides, not Locust's rule that 4xx/5xx fail.
        with user.client.request(
            scenario.method,
            scenario.path,
            json=scenario.json_body,
            headers=dict(scenario.headers) or None,
            catch_response=True,
        ) as response:
            problem = scenario.verify_status(response.status_code) or scenario.verify(response.text or "", None)
            if problem is None:
                response.success()
            else:
                response.failure(problem)

    if scenario.kind == "user":
        user_task.__name__ = scenario.name
        return user_task

    task.__name__ = scenario.name
    return task


try:
    SCENARIOS = userscenarios.available()
except userscenarios.ScenarioFileError as error:
    # Locust shows this line rather than a traceback from inside its import.
    raise SystemExit(f"locustfile: {error}") from None

# One task per single request, shared by its own scenario and the mix.
_TASKS = {name: task_for(scenario) for name, scenario in SCENARIOS.items() if not scenario.mix}


def _user_class(scenario: Scenario) -> type[LabUser]:
    tasks: list[Task] | dict[Task, int] = (
        {_TASKS[name]: weight for name, weight in scenario.mix} if scenario.mix else [_TASKS[scenario.name]]
    )
    body = {
        "scenario": scenario,
        "tasks": tasks,
        "__module__": __name__,
        "__doc__": f"{scenario.method} {scenario.path}",
    }
    return types.new_class(scenario.user_class, (LabUser,), exec_body=lambda namespace: namespace.update(body))


# A user's scenario named like one of this module's names (``lab-user``)
# would replace it.
if taken := sorted({scenario.user_class for scenario in SCENARIOS.values()} & set(globals())):
    raise SystemExit(
        f"locustfile: {userscenarios.scenarios_file()}: the User class {', '.join(taken)} is a name "
        "the locustfile already uses; rename that scenario"
    )

# Locust finds User classes among this module's globals: one per scenario.
globals().update({scenario.user_class: _user_class(scenario) for scenario in SCENARIOS.values()})

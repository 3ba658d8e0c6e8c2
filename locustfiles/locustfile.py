"""Load scenarios for the Flask Serving Lab: one Locust User class per workload.

The scenarios themselves are data in ``labcore.scenarios`` (request, kind of
work, what a correct answer is); this file turns each into a User class
(``Hello``, ``Json``, ``JsonDumps``, ``Io``, ``Upstream``, ``Cpu``,
``AsyncIo``, ``Mixed``, ``Mix``) that hammers its endpoint and checks every answer, so a
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
  and ``--cpu-ms`` (``/cpu``); ``/mixed`` takes both.
* ``--warmup S``: statistics are reset S seconds into the test, so that they
  cover only the steady state (the benchmark runner, labbench, relies on it).
* ``--pace S``: each user starts a request every S seconds, on a schedule
  of its own from a random point within the first S seconds, instead of at
  once: the closed loop becomes a fixed arrival rate of users ÷ S while every
  user is free in time (``labbench capacity`` sizes the users so;
  docs/methodology.md).
* ``--worker-cpu-file FILE`` (on the master): where each worker's own CPU
  over the measured window goes, as JSON by worker; every worker sends it
  to the master when its test stops (labbench's ``--workers``).

Every option reaches distributed workers: the master sends its parsed
options, custom ones included, with each spawn message, and each user
resolves its base URL from them when it is created.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, events
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.rpc import Message
from locust.runners import MasterRunner, Runner, WorkerRunner

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
    parser.add_argument(
        "--pace",
        type=_seconds,
        default=0.0,
        env_var="LOCUST_PACE",
        include_in_web_ui=True,
        help="Seconds between the starts of each user's requests (0: none, a closed loop)",
    )
    parser.add_argument(
        protocol.WORKER_CPU_FLAG,
        default="",
        env_var="LOCUST_WORKER_CPU_FILE",
        include_in_web_ui=False,
        help="On the master: a JSON file that receives each worker's CPU over the measured window",
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


# This process's CPU seconds and clock when the measured window began.
_window_start: tuple[float, float] | None = None


def _open_window() -> None:
    global _window_start
    _window_start = (time.process_time(), time.monotonic())


def _end_warmup(environment: Environment, seconds: float) -> None:
    if environment.runner is not None:
        logger.info("Warm-up of %gs over: %s", seconds, protocol.LOG_RESET)
        environment.runner.stats.reset_all()
        _open_window()


@events.init.add_listener
def _fresh_clock(**_kwargs: Any) -> None:
    # gevent's timers count from the time its loop last looked at the clock:
    # after a slow start (imports on a busy machine) that is seconds old, and
    # the run time Locust schedules soon after this event would end that much
    # early (a 4 s run time ended at once in a Docker capacity step on
    # 2026-12-01, before the warm-up's reset). Look at the clock now.
    gevent.get_hub().loop.update_now()


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs: Any) -> None:
    global _warmup_timer
    gevent.get_hub().loop.update_now()  # as in _fresh_clock: the warm-up's timer counts from now
    # The web UI shows no host when the target picks it, so the log of the
    # master and of every worker says where this test's load goes.
    logger.info("%s %s", protocol.LOG_STARTED, base_url(environment))
    # Every node resets its own statistics: the master its totals, each
    # worker what it has not reported yet, which would otherwise carry
    # warm-up requests into the master's fresh totals.
    _worker_cpu.clear()
    warmup = _option(environment, "warmup", 0.0)
    if warmup > 0:
        _warmup_timer = gevent.spawn_later(warmup, _end_warmup, environment, warmup)
    else:
        _open_window()


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kwargs: Any) -> None:
    global _warmup_timer
    # A test stopped within its warm-up must not reset the next one's statistics.
    if _warmup_timer is not None:
        _warmup_timer.kill(block=False)
        _warmup_timer = None
    _report_worker_cpu(environment)


# --- each worker's own CPU, for the master (labbench --workers) ---------------------
# labbench measures the CPU of the Locust processes it starts; workers in
# other containers or on other machines measure their own and send it here.


def _report_worker_cpu(environment: Environment) -> None:
    global _window_start
    if not isinstance(environment.runner, WorkerRunner) or _window_start is None:
        return
    cpu_start, clock_start = _window_start
    _window_start = None
    data = {
        "cpu_s": time.process_time() - cpu_start,
        "window_s": time.monotonic() - clock_start,
        # Not on every system a worker may run on (macOS has no affinity).
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    environment.runner.send_message(protocol.WORKER_CPU_MESSAGE, data)


# What the master has heard this test, by worker id (cleared as each test starts).
_worker_cpu: dict[str, dict[str, Any]] = {}
# The parsed option's name for the flag.
_WORKER_CPU_OPTION = protocol.WORKER_CPU_FLAG.removeprefix("--").replace("-", "_")


def _on_worker_cpu(environment: Environment, msg: Message, **_kwargs: Any) -> None:
    _worker_cpu[msg.node_id] = msg.data
    if path := _option(environment, _WORKER_CPU_OPTION, ""):
        # Rewritten whole at each report: the master quits half a second
        # after asking its workers to stop, with no event after the last one.
        Path(path).write_text(json.dumps(_worker_cpu, indent=1, sort_keys=True))


@events.init.add_listener
def _on_init(environment: Environment, runner: Runner | None = None, **_kwargs: Any) -> None:
    if isinstance(runner, MasterRunner):
        runner.register_message(protocol.WORKER_CPU_MESSAGE, _on_worker_cpu)


class LabUser(FastHttpUser):
    """What every scenario shares: no think time, checked answers, the chosen server."""

    abstract = True

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
        self.pace: float = _option(environment, "pace", 0.0)
        self._due = 0.0
        super().__init__(environment)

    def on_start(self) -> None:
        if self.pace > 0:
            # Locust starts a batch of users at once, and its constant_pacing
            # keeps each on the clock of its start: they would send in bursts.
            # A random phase within the pace spreads the starts instead.
            self._due = time.perf_counter() + random.uniform(0, self.pace)
            gevent.sleep(self._due - time.perf_counter())

    def wait_time(self) -> float:
        if self.pace <= 0:
            return 0.0
        # The next start on this user's schedule; a user that is late sends at
        # once, and its lateness is in no latency (docs/methodology.md).
        self._due += self.pace
        return max(0.0, self._due - time.perf_counter())


Task = Callable[[LabUser], None]


def task_for(scenario: Scenario) -> Task:
    """Send the scenario's request and fail it unless the answer is correct."""

    def task(user: LabUser) -> None:
        with user.client.get(scenario.request(user.io_ms, user.cpu_ms), catch_response=True) as response:
            if getattr(response, "error", None) is not None:
                return  # Locust already fails a connection error or a 4xx/5xx status
            if (problem := scenario.check(response.text or "", user.io_ms, user.cpu_ms)) is not None:
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

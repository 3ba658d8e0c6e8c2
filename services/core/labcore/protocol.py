"""Strings two processes of the lab agree on, written once.

The app serves its instruments on these paths and the runner asks them; the
locustfile logs these milestones and the runner waits for them in Locust's log.
"""

from __future__ import annotations

# --- the lab's instruments, around any app (services/app/flasklab/instruments.py) ---

#: The prefix the lab reserves for its instruments in front of every app, the
#: lab's own included: a request under it never reaches the app.
PREFIX = "/_lab"
#: CPU seconds and memory of the server (its cgroup, or natively its process group).
USAGE = PREFIX + "/usage"
#: The detected concurrency model, the server's process census, and the app
#: it serves (or why it could not: ``app.refused``). Also the healthcheck.
WHOAMI = PREFIX + "/whoami"
#: The image's installed packages.
PACKAGES = PREFIX + "/packages"
#: SIGKILL the worker serving the request (only with LAB_FAULT_ENDPOINTS=1).
FAULT_CRASH = PREFIX + "/fault/crash"
#: SIGTERM the server's top process (only with LAB_FAULT_ENDPOINTS=1).
FAULT_STOP = PREFIX + "/fault/stop"
#: The environment variable naming the WSGI app every server serves, as
#: ``module:name`` or ``module:factory()`` (default ``defaults.APP_MODULE``).
APP_MODULE_ENV = "LAB_APP_MODULE"
#: The environment variable that tells the app where its writable data folder is.
APP_DATA_ENV = "LAB_APP_DATA"
#: The environment variable that turns the fault endpoints on.
FAULT_ENDPOINTS_ENV = "LAB_FAULT_ENDPOINTS"
#: The environment variable that chooses how ``async def`` views run in a
#: monkey-patched process: one of ``defaults.ASYNC_RECIPES``.
ASYNC_RECIPE_ENV = "LAB_ASYNC_RECIPE"
#: The environment variable that makes the app trust one proxy's X-Forwarded-* headers.
PROXY_FIX_ENV = "LAB_PROXY_FIX"
#: A request carrying this header with the value ``1`` gets its timeline
#: record (where and when the server ran it) back in the same response header,
#: as JSON; the body stays exactly what the scenario verifies.
TIMELINE_HEADER = "X-Lab-Timeline"

# --- the user's own app (docs/own-app.md) ----------------------------------------

#: A folder with the user's app; its ``APP_SCENARIOS_FILE`` is the default scenarios file.
APP_DIR_ENV = "LAB_APP_DIR"
#: The user's WSGI callable as ``module:name`` or ``module:factory()``.
APP_MODULE_ENV = "LAB_APP_MODULE"
#: A YAML file of the user's scenarios (labcore.userscenarios).
APP_SCENARIOS_ENV = "LAB_APP_SCENARIOS"
#: The scenarios file's name inside ``LAB_APP_DIR``.
APP_SCENARIOS_FILE = "lab-scenarios.yaml"
#: Where the load generators' containers (locust, locust-worker, bench,
#: bench-worker) see the host's ``LAB_APP_DIR``: compose.yaml mounts that
#: folder here read-only and, when the user set it, points ``LAB_APP_DIR`` here.
APP_MOUNT = "/lab/app"

# --- the locustfile's milestones in Locust's log --------------------------------

#: Logged by the master and each worker as a test starts, with the target URL.
LOG_STARTED = "Load goes to"
#: Logged when the warm-up ends and the statistics are reset.
LOG_RESET = "statistics reset"
#: Logged by Locust itself when ``--run-time`` is up.
LOG_STOPPED = "--run-time limit reached"

# --- Locust's workers and the master labbench starts (--workers) ------------------

#: The custom message each worker sends the master when its test stops: its
#: process's CPU seconds over the measured window, the window's length in
#: seconds and the CPUs it could run on (``cpu_s``, ``window_s``, ``cpus``).
WORKER_CPU_MESSAGE = "lab_worker_cpu"
#: The locustfile's option naming the master's file of those reports (JSON,
#: one object per worker id), which labbench reads after the cell.
WORKER_CPU_FLAG = "--worker-cpu-file"

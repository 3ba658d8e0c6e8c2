"""The lab's defaults, each written once; everything else imports them.

The locustfile's options, the runner's flags and the app's bounds come from
here, so that ``--io-ms`` means the same to Locust, labbench and the report.
"""

from __future__ import annotations

#: Milliseconds each ``/io``, ``/upstream`` and ``/async-io`` request waits.
IO_MS = 100
#: Milliseconds of CPU each ``/cpu`` request burns.
CPU_MS = 10
#: The largest ``ms`` any endpoint of the app accepts: long enough for every
#: experiment (the timeout fault outlasts the servers' 30 s timeouts), short
#: enough that a typo cannot park a worker for hours.
MAX_MS = 120_000
#: The timeout experiment's request: longer than the servers' 30 s timeouts.
LONG_MS = 35_000
#: The longest the timeout experiment's request may be: the app's cap, less
#: the time the experiment needs around it.
LONG_MS_MAX = MAX_MS - 10_000
#: Seconds of load in the soak experiment.
SOAK_S = 600.0
#: A load generator busier than this share of its CPU may have set the
#: number instead of the server (the cell is flagged).
LOADGEN_HOT = 0.9
#: A server using this share of its CPU limit over the window was the limit
#: (bottleneck ``server-cpu``; docs/methodology.md, "Bottleneck per cell").
SERVER_CPU_HOT = 0.9
#: An I/O cell whose requests in service (Little's law) reached this share of
#: the server's slots was bound by them (bottleneck ``slots``).
SLOTS_FULL = 0.9
#: One engine below this share of the other engine's req/s on the same cell
#: was held back by its own work (bottleneck ``load-generator``).
CROSSCHECK_LOW = 0.9
#: The whole machine (all CPUs, /proc/stat) at least this busy set the number
#: (bottleneck ``machine``).
MACHINE_BUSY = 0.95
#: How ``async def`` views run where gevent or eventlet has monkey-patched the
#: process (docs/models.md, "async def views under gevent and eventlet"):
#: ``greenlet``: Flask's gevent recipe, one asyncio loop per process in a
#: greenlet of its own; ``thread``: a new loop per view in a real thread of
#: the hub's pool; ``asgiref``: Flask's default, kept to show how it fails.
ASYNC_RECIPES = ("greenlet", "thread", "asgiref")
#: The recipe when ``LAB_ASYNC_RECIPE`` is unset: no cap on concurrent views.
ASYNC_RECIPE = "greenlet"
#: labbench capacity: its SLO rules (failures at most this share; achieved at
#: least this share of the offered rate), the default p99 budget above the
#: scenario's own work, and users per request in flight at the budget.
CAPACITY_FAILURES_MAX = 0.001
CAPACITY_ACHIEVED_MIN = 0.95
CAPACITY_SLO_EXTRA_MS = 100
CAPACITY_USER_HEADROOM = 2.0
#: Requests each capacity step measures at least: its window lasts long enough
#: at its rate (labbench.knee.window_s). The lab's p99 is Locust's, of n
#: requests the (n - floor(0.99 n))-th slowest: up to 100 requests it is the
#: slowest one, so one late request on a shared machine breaks the SLO; with
#: 300 the two slowest are tolerated (the quick run's 200: one).
CAPACITY_MIN_SAMPLES = 300
CAPACITY_MIN_SAMPLES_QUICK = 200
#: A series' first rate is this share of its bound (its slots ÷ the work for
#: io, its CPUs ÷ the CPU per request for cpu, ``--max-rps`` where it has
#: none): below the knee where the bound is the server's, and without the
#: low-rate steps whose minimum of requests makes them the longest.
CAPACITY_START_SHARE = 0.5
#: The crossover map's request (``/mixed``): this much work in all, in ms,
#: split between a blocking wait and CPU work.
MIXED_MS = 50
#: The map's splits: the wait's share of ``MIXED_MS`` in percent, from pure
#: I/O to pure CPU (6 steps; each a scenario ``mixed-ioN-cpuM``).
MIXED_IO_SHARES = (100, 80, 60, 40, 20, 0)
#: The map's offered concurrencies (closed-loop users) unless --users says otherwise.
CROSSOVER_USERS = (4, 16, 64)
#: The app every server serves when ``LAB_APP_MODULE`` is unset: the lab's own.
APP_MODULE = "flasklab:create_app()"
#: Where the app's writable data folder is mounted in a server's container.
APP_DATA_DIR = "/data"

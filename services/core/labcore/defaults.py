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
#: How ``async def`` views run where gevent or eventlet has monkey-patched the
#: process (docs/models.md, "async def views under gevent and eventlet"):
#: ``greenlet``: Flask's gevent recipe, one asyncio loop per process in a
#: greenlet of its own; ``thread``: a new loop per view in a real thread of
#: the hub's pool; ``asgiref``: Flask's default, kept to show how it fails.
ASYNC_RECIPES = ("greenlet", "thread", "asgiref")
#: The recipe when ``LAB_ASYNC_RECIPE`` is unset: no cap on concurrent views.
ASYNC_RECIPE = "greenlet"
#: The app every server serves when ``LAB_APP_MODULE`` is unset: the lab's own.
APP_MODULE = "flasklab:create_app()"
#: Where the app's writable data folder is mounted in a server's container.
APP_DATA_DIR = "/data"

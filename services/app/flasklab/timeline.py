"""Where and when the server ran a request, told on request: the raw data of
``labbench timeline``.

A request with ``X-Lab-Timeline: 1`` (:data:`labcore.protocol.TIMELINE_HEADER`)
gets back, in the response header of the same name, one JSON object::

    {"start": 1764000000.123456, "end": 1764000000.624012, "pid": 41,
     "thread": "MainThread", "thread_id": 1401..., "greenlet": null,
     "model": "processes", "in_flight": 1}

``start`` and ``end`` are wall-clock seconds (``time.time()``), so that a
client on the same host reads them on its own clock: a container shares the
host kernel's realtime clock. ``end`` is ``start`` plus the elapsed time on
the monotonic clock, so a step of the wall clock during the request cannot
make it end before it started. ``start`` is taken as Flask begins the request
(after the server has read it and handed it to the app), ``end`` as the view's
response leaves the app (before the server writes it).

Without the header nothing changes: no header is added, and the body is
never touched, so measured requests and their checks stay as they are.
"""

from __future__ import annotations

import json
import os
import threading
import time

from flask import Flask, Response, g, request

from flasklab import runtime
from labcore import protocol


def _start() -> None:
    if request.headers.get(protocol.TIMELINE_HEADER) == "1":
        # Both clocks read back to back: the wall clock places the request,
        # the monotonic one measures it.
        g.lab_timeline = (time.time(), time.perf_counter())


def _record(response: Response) -> Response:
    started = g.pop("lab_timeline", None)
    if started is None:
        return response
    wall, counter = started
    record = {
        "start": wall,
        "end": wall + (time.perf_counter() - counter),
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "thread_id": threading.get_ident(),
        "greenlet": runtime.greenlet_name(),
        "model": runtime.model(request.environ),
        "in_flight": runtime.in_flight(),
    }
    # ASCII JSON: header values must be Latin-1, and thread names could be anything.
    response.headers[protocol.TIMELINE_HEADER] = json.dumps(record, separators=(",", ":"), ensure_ascii=True)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_record)

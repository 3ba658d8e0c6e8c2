"""Fault injection for the lab's fault experiments (docs/faults.md).

Two endpoints let a request do to its own server what the outside world
does to real ones, so that the experiments work the same natively and in
containers, where the load generator has no Docker socket:

``POST /fault/crash``
    SIGKILL the worker process serving this request, as an OOM kill or a
    segfault in a C extension would; the request never gets an answer.
``POST /fault/stop``
    SIGTERM the server's top process, as ``docker compose stop`` does
    through the container's init; answers 202 first.

They exist only when ``LAB_FAULT_ENDPOINTS=1`` (the lab's compose.yaml and
native launcher set it); otherwise these paths are a 404 like any other.
"""

from __future__ import annotations

import os
import signal
from typing import NoReturn

from flask import Blueprint, Response, jsonify

from flasklab import runtime
from labcore import protocol

bp = Blueprint("faults", __name__)


@bp.post(protocol.FAULT_CRASH)
def crash() -> NoReturn:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("SIGKILL cannot be caught")


@bp.post(protocol.FAULT_STOP)
def stop() -> tuple[Response, int]:
    root = runtime.server_root()
    # The server decides what a graceful stop means: that is the experiment.
    os.kill(root.pid, signal.SIGTERM)
    return jsonify(stopping=root.pid), 202

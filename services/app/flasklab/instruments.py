"""The lab's instruments around any WSGI app, under one reserved prefix.

``Instruments(app, module=...)`` answers the paths of :mod:`labcore.protocol`
itself (``/_lab/usage``, ``/_lab/whoami``, ``/_lab/packages``, and the fault
endpoints when ``LAB_FAULT_ENDPOINTS=1``) and hands every other request to
the app as it came: the same ``environ`` and ``start_response``, and the
app's own response iterable returned as is. Status, headers, body bytes, a
server's ``wsgi.file_wrapper`` and the call to ``close()`` stay between the
server and the app, so the instruments cost a path comparison per request.

The whole prefix belongs to the lab: a request under it never reaches the
app, so that a healthcheck or a census never depends on what the app serves.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flasklab import runtime, usage
from labcore import protocol

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_REASONS = {200: "OK", 202: "Accepted", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def json_response(
    start_response: StartResponse, status: int, body: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    """One JSON answer, as the lab's app writes them (compact, sorted, a newline)."""
    data = (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def _error(start_response: StartResponse, status: int, message: str, path: str, **extra: str) -> list[bytes]:
    body = {"error": _REASONS[status], "status": status, "message": message, "path": path}
    return json_response(start_response, status, body, extra.items())


def refusal(message: str) -> WSGIApp:
    """What a server serves in place of an app it could not load: a 503
    naming the cause, for every path outside the lab's prefix."""

    def refused(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return _error(start_response, 503, message, environ.get("PATH_INFO", ""))

    return refused


def packages() -> dict[str, str]:
    """The installed distributions and their versions: the image's ``pip freeze``."""
    found = {dist.metadata["Name"]: dist.version for dist in importlib.metadata.distributions()}
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


class Instruments:
    """WSGI middleware: the lab's instruments, then ``app`` for everything else.

    ``module`` is what the app was loaded from (``LAB_APP_MODULE``);
    ``refused``, why it could not be, in which case ``app`` is a
    :func:`refusal`. ``environ`` stands for the process's environment (tests).
    """

    def __init__(
        self, app: WSGIApp, *, module: str, refused: str | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        self.app = app
        self.module = module
        self.refused = refused
        # "cgroup" inside a container (the whole container is the server);
        # "process" natively (the server's process group).
        self.usage_source = env.get("LAB_USAGE_SOURCE", "process")
        # The fault endpoints let a request kill or stop its own server: only
        # where the lab turns them on (compose.yaml, the native launcher).
        self.faults = env.get(protocol.FAULT_ENDPOINTS_ENV) == "1"
        self.data = env.get(protocol.APP_DATA_ENV) or None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        runtime.enter()
        try:
            path = environ.get("PATH_INFO", "")
            if path == protocol.PREFIX or path.startswith(protocol.PREFIX + "/"):
                return self._instrument(path, environ.get("REQUEST_METHOD", "GET"), environ, start_response)
            return self.app(environ, start_response)
        finally:
            # When the app has returned its iterable, as Flask's own teardown
            # counts: the body may still be on its way.
            runtime.leave()

    def whoami(self, environ: Environ) -> dict[str, Any]:
        found = runtime.describe(environ)
        found["app"] = {"module": self.module, "refused": self.refused, "data": self.data}
        return found

    def _instrument(self, path: str, method: str, environ: Environ, start_response: StartResponse) -> list[bytes]:
        reads: dict[str, Callable[[], Any]] = {
            protocol.USAGE: lambda: usage.usage(self.usage_source),
            protocol.WHOAMI: lambda: self.whoami(environ),
            protocol.PACKAGES: packages,
        }
        if path in reads:
            if method not in ("GET", "HEAD"):
                return _error(start_response, 405, f"{path} answers GET only", path, Allow="GET, HEAD")
            answer = json_response(start_response, 200, reads[path]())
            return [] if method == "HEAD" else answer
        if self.faults and path in (protocol.FAULT_CRASH, protocol.FAULT_STOP):
            if method != "POST":
                return _error(start_response, 405, f"{path} answers POST only", path, Allow="POST")
            if path == protocol.FAULT_CRASH:
                # As an OOM kill or a segfault would: the request never gets an answer.
                os.kill(os.getpid(), signal.SIGKILL)
            root = runtime.server_root()
            # The server decides what a graceful stop means: that is the experiment.
            os.kill(root.pid, signal.SIGTERM)
            return json_response(start_response, 202, {"stopping": root.pid})
        return _error(start_response, 404, f"the lab's instruments under {protocol.PREFIX} have no {path}", path)

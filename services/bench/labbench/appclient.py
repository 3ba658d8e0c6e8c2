"""The one HTTP client for the app's instruments: what labbench asks a server about itself.

    client = AppClient("http://127.0.0.1:8001")
    client.usage()      # /_lab/usage: CPU seconds, memory and limits, or None
    client.census()     # /_lab/whoami's "server": top process, start time, workers, or None
    client.refused()    # why the server could not serve the app, or None
    client.crash()      # POST /_lab/fault/crash: "RemoteDisconnected", as the worker dies

The paths come from :mod:`labcore.protocol`: the lab's instruments answer
them in front of whatever app the server runs.
A read answers None whenever nothing sensible answers: the server is down,
slower than the timeout, or says something that is not the JSON object
asked for. The runner treats None as "did not answer" and carries on, so no
read raises. A request that changes something (the fault endpoints) answers
with what came back instead: the HTTP status, or the name of the error.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from labcore import protocol

#: Seconds a read may take: under load a /_lab/usage queues behind the test's own requests.
READ_TIMEOUT_S = 5.0
#: Seconds a fault request may take before the runner stops waiting for its answer.
POST_TIMEOUT_S = 10.0
#: Seconds the "is it up" check waits: a server starting up is polled often.
ALIVE_TIMEOUT_S = 2.0

# Everything a request to a dying or misbehaving server can raise: refused,
# reset or timed-out sockets (OSError, URLError), garbled status lines
# (HTTPException) and unparsable URLs or bodies (ValueError).
_FAILURES = (OSError, ValueError, http.client.HTTPException)


def error_name(error: BaseException) -> str:
    """A failed request as a short name: ``ConnectionRefusedError``, ``RemoteDisconnected``, ``timeout``."""
    # urllib wraps socket errors in URLError; the reason is what happened.
    reason = getattr(error, "reason", None)
    return type(reason if isinstance(reason, BaseException) else error).__name__


@dataclass(frozen=True)
class Outcome:
    """What one request got: its HTTP status or the error's name, and how long it took."""

    result: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.result == "200"


@dataclass(frozen=True)
class AppClient:
    """The lab's app behind ``url`` (scheme, host and port, no trailing slash)."""

    url: str
    timeout: float = READ_TIMEOUT_S

    @property
    def address(self) -> tuple[str, int]:
        """Host and port, for talking to the server with plain sockets."""
        parts = urllib.parse.urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    # --- reads: None unless a JSON object answers --------------------------------------

    def get_json(self, path: str, timeout: float | None = None) -> dict[str, Any] | None:
        """The JSON object at ``path``, or None."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout or self.timeout) as reply:
                document = json.loads(reply.read())
        except _FAILURES:
            return None
        return document if isinstance(document, dict) else None

    def usage(self, timeout: float | None = None) -> dict[str, Any] | None:
        """CPU seconds, memory and limits of the whole server (its cgroup, or natively its process group)."""
        return self.get_json(protocol.USAGE, timeout)

    def whoami(self) -> dict[str, Any] | None:
        """The process, thread and concurrency model that served this request, and the server's census."""
        return self.get_json(protocol.WHOAMI)

    def census(self) -> dict[str, Any] | None:
        """The server as a whole: ``pid`` of its top process, ``started``, ``workers``."""
        census = (self.whoami() or {}).get("server")
        return census if isinstance(census, dict) else None

    def packages(self) -> dict[str, str] | None:
        """The installed distributions and their versions where the server runs."""
        found = self.get_json(protocol.PACKAGES)
        if found is None or not all(isinstance(version, str) for version in found.values()):
            return None
        return found

    def image_digest(self) -> str | None:
        """The digest the app's image recorded at build time; None outside the lab's images."""
        digest = (self.whoami() or {}).get("image_digest")
        return digest if isinstance(digest, str) else None

    def refused(self) -> str | None:
        """Why the server could not serve the app (``LAB_APP_MODULE``), in one line; None when it serves it,
        or does not answer."""
        app = (self.whoami() or {}).get("app")
        cause = app.get("refused") if isinstance(app, dict) else None
        return cause if isinstance(cause, str) else None

    def alive(self) -> bool:
        """Whether the lab's instruments answer 200 within ALIVE_TIMEOUT_S: the server is up, whatever its app."""
        return self.request(protocol.WHOAMI, timeout=ALIVE_TIMEOUT_S).ok

    def responds(self) -> bool:
        """Whether ``/`` answers any HTTP status within ALIVE_TIMEOUT_S: for an app
        that is not the lab's, whose ``/`` may well be a 404 or a redirect."""
        return self.request("/", timeout=ALIVE_TIMEOUT_S).result.isdigit()

    # --- requests that do something: what came back, or why nothing did ---------------

    def request(self, path: str, method: str = "GET", timeout: float | None = None) -> Outcome:
        """One request to ``path``, its body read whole; never raises."""
        start = time.monotonic()
        request = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as reply:
                reply.read()
                result = str(reply.status)
        except urllib.error.HTTPError as error:
            result = str(error.code)
        except _FAILURES as error:
            result = error_name(error)
        return Outcome(result, round(time.monotonic() - start, 2))

    def crash(self) -> str:
        """SIGKILL the worker that serves this request: its answer never comes."""
        return self.request(protocol.FAULT_CRASH, "POST", POST_TIMEOUT_S).result

    def stop(self) -> str:
        """SIGTERM the server's top process; it answers 202 first."""
        return self.request(protocol.FAULT_STOP, "POST", POST_TIMEOUT_S).result

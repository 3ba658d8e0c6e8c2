"""The load scenarios, as plain data: their one definition.

Each scenario names one request to the lab's app, the kind of work it does
(what bounds its ideal throughput) and what a correct answer is. The
locustfile builds one Locust User class per scenario from this table (the web
UI's class picker shows their ``user_class``); labbench describes its cells
with it and the report derives each scenario's ideal from ``kind``:

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

Kinds: ``baseline`` (no measured work: the server's own overhead), ``io``
(the request waits ``io_ms``: the server's slots bound it), ``cpu`` (it burns
``cpu_ms`` of CPU: the CPU limit bounds it), ``mix`` (several requests,
weighted) and ``user`` (a request to the user's own app, from
``LAB_APP_SCENARIOS``: its work is unknown to the lab, so it has no ideal
bound; :mod:`labcore.userscenarios`). ``io`` and ``cpu`` requests take their
work as ``?ms=``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from labcore import defaults

#: The body of ``/json`` and ``/json-dumps``.
PERSON = {"name": "John", "age": 30, "city": "New York"}

KINDS = ("baseline", "io", "cpu", "mix", "user")


@dataclass(frozen=True)
class Scenario:
    """One scenario: a request and the answer that counts as a success.

    A correct answer has the status ``expect_status`` and is ``text`` as the
    whole body, or ``body`` as the JSON body, or the JSON body's ``field``
    equal to the request's ``ms``, or (a user's scenario) a body that
    contains ``expect_contains``.
    """

    name: str
    user_class: str
    kind: str
    path: str
    text: str | None = None
    body: Any = None
    field: str | None = None
    #: For ``mix``: (scenario name, weight) of each request it sends.
    mix: tuple[tuple[str, int], ...] = ()
    # A user's scenario may send something other than a bare GET.
    method: str = "GET"
    #: The JSON body sent with the request, if any.
    json_body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    expect_status: int = 200
    expect_contains: str | None = None

    def work_ms(self, io_ms: int = defaults.IO_MS, cpu_ms: int = defaults.CPU_MS) -> int | None:
        """Sleep or CPU time per request, where the scenario has one."""
        return {"io": io_ms, "cpu": cpu_ms}.get(self.kind)

    def request(self, io_ms: int = defaults.IO_MS, cpu_ms: int = defaults.CPU_MS) -> str:
        """The path and query of one request, e.g. ``/io?ms=100``."""
        ms = self.work_ms(io_ms, cpu_ms)
        return self.path if ms is None else f"{self.path}?ms={ms}"

    def verify_status(self, status: int) -> str | None:
        """Why ``status`` is not the expected one; None if it is."""
        return None if status == self.expect_status else f"expected status {self.expect_status}, got {status}"

    def verify(self, body: str, ms: int | None) -> str | None:
        """Why ``body`` is not a correct answer to a request with ``ms``; None if it is."""
        if self.kind == "user":
            if self.expect_contains is None or self.expect_contains in body:
                return None
            return f"expected the body to contain {self.expect_contains!r:.80}, got {body!r:.80}"
        if self.text is not None:
            expected: Any = self.text
            actual: Any = body
        else:
            try:
                document = json.loads(body)
                actual = document if self.field is None else document[self.field]
            except (ValueError, TypeError, KeyError) as error:  # not JSON, or not the expected shape
                return f"unreadable body ({error!r:.60}): {body!r:.80}"
            expected = self.body if self.field is None else ms
        if actual != expected:
            return f"expected {expected!r:.80}, got {actual!r:.80}"
        return None


_SINGLE = [
    Scenario("hello", "Hello", "baseline", "/", text="Hello, World!"),
    Scenario("json", "Json", "baseline", "/json", body=PERSON),
    Scenario("json-dumps", "JsonDumps", "baseline", "/json-dumps", body=PERSON),
    Scenario("io", "Io", "io", "/io", field="slept_ms"),
    # To this server, a call upstream is a wait like any other.
    Scenario("upstream", "Upstream", "io", "/upstream", field="upstream_ms"),
    Scenario("cpu", "Cpu", "cpu", "/cpu", field="ms"),
    Scenario("async-io", "AsyncIo", "io", "/async-io", field="slept_ms"),
]
# A rough web app: mostly cheap pages and API reads, a fair share of waiting
# on I/O, a little real CPU work.
_MIX_WEIGHTS = {"hello": 4, "json": 2, "json-dumps": 1, "io": 2, "upstream": 2, "cpu": 1, "async-io": 1}

#: Every scenario by name, in the order the web UI and the docs list them.
SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _SINGLE} | {
    "mix": Scenario(
        "mix",
        "Mix",
        "mix",
        " ".join(single.path for single in _SINGLE),
        mix=tuple(_MIX_WEIGHTS.items()),
    )
}

#: What a plain scripted run measures: one scenario per kind of work, and the baseline.
CORE = ["hello", "io", "upstream", "cpu"]

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
``Mixed``      mixed         ``GET /mixed?io_ms=N&…``  ``{"io_ms": N, "cpu_ms": M, …}``
``Mix``        mix           all of the above          each its own check (weighted)
=============  ============  ========================  ==============================

Kinds: ``baseline`` (no measured work: the server's own overhead), ``io``
(the request waits ``io_ms``: the server's slots bound it), ``cpu`` (it burns
``cpu_ms`` of CPU: the CPU limit bounds it), ``mixed`` (one request waits
``io_ms`` then burns ``cpu_ms``: both bound it), ``mix`` (several
requests, weighted) and ``user`` (a request to the user's own app, from
``LAB_APP_SCENARIOS``: its work is unknown to the lab, so it has no ideal
bound; :mod:`labcore.userscenarios`). ``io`` and ``cpu`` requests take their
work as ``?ms=``.

The crossover map sweeps ``mixed`` over :data:`SPLITS`: each split is a
scenario name of its own, ``mixed-io40-cpu10``, which :func:`resolve` turns
into the ``mixed`` scenario with that work.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from labcore import defaults

#: The body of ``/json`` and ``/json-dumps``.
PERSON = {"name": "John", "age": 30, "city": "New York"}

KINDS = ("baseline", "io", "cpu", "mixed", "mix", "user")


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
        """Sleep or CPU time per request, where the scenario has one (``mixed``: both)."""
        return {"io": io_ms, "cpu": cpu_ms, "mixed": io_ms + cpu_ms}.get(self.kind)

    def request(self, io_ms: int = defaults.IO_MS, cpu_ms: int = defaults.CPU_MS) -> str:
        """The path and query of one request, e.g. ``/io?ms=100``."""
        if self.kind == "mixed":
            return f"{self.path}?io_ms={io_ms}&cpu_ms={cpu_ms}"
        ms = self.work_ms(io_ms, cpu_ms)
        return self.path if ms is None else f"{self.path}?ms={ms}"

    def check(self, body: str, io_ms: int = defaults.IO_MS, cpu_ms: int = defaults.CPU_MS) -> str | None:
        """Why ``body`` is not a correct answer to :meth:`request` with this work; None if it is."""
        if self.kind != "mixed":
            return self.verify(body, self.work_ms(io_ms, cpu_ms))
        try:
            document = json.loads(body)
            echoed = {"io_ms": document["io_ms"], "cpu_ms": document["cpu_ms"]}
        except (ValueError, TypeError, KeyError) as error:
            return f"unreadable body ({error!r:.60}): {body!r:.80}"
        if echoed != {"io_ms": io_ms, "cpu_ms": cpu_ms}:
            return f"expected io_ms={io_ms} and cpu_ms={cpu_ms}, got {echoed}"
        return None

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

    def wire_answer(self, ms: int | None) -> tuple[str, str]:
        """:meth:`verify`'s check as bytes, for a load generator that cannot parse JSON (wrk's Lua).

        ``("body", text)``: the whole body is ``text``; ``("field", '"name":ms')``:
        the body holds it, followed by ``,`` or ``}``. JSON is written as the
        app writes it (Flask's jsonify outside debug mode: sorted keys, compact
        separators, a trailing newline), which the wrk tests check against
        every server.
        """
        if self.mix:
            raise ValueError(f"{self.name} sends several requests: no single answer")
        if self.text is not None:
            return "body", self.text
        if self.field is None:
            return "body", json.dumps(self.body, sort_keys=True, separators=(",", ":")) + "\n"
        return "field", f'"{self.field}":{ms}'


_SINGLE = [
    Scenario("hello", "Hello", "baseline", "/", text="Hello, World!"),
    Scenario("json", "Json", "baseline", "/json", body=PERSON),
    Scenario("json-dumps", "JsonDumps", "baseline", "/json-dumps", body=PERSON),
    Scenario("io", "Io", "io", "/io", field="slept_ms"),
    # To this server, a call upstream is a wait like any other.
    Scenario("upstream", "Upstream", "io", "/upstream", field="upstream_ms"),
    Scenario("cpu", "Cpu", "cpu", "/cpu", field="ms"),
    Scenario("async-io", "AsyncIo", "io", "/async-io", field="slept_ms"),
    Scenario("mixed", "Mixed", "mixed", "/mixed"),
]
# A rough web app: mostly cheap pages and API reads, a fair share of waiting
# on I/O, a little real CPU work.
# (``mixed`` is not in it: the crossover map sweeps it on its own.)
_MIX_WEIGHTS = {"hello": 4, "json": 2, "json-dumps": 1, "io": 2, "upstream": 2, "cpu": 1, "async-io": 1}

#: Every scenario by name, in the order the web UI and the docs list them.
SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _SINGLE} | {
    "mix": Scenario(
        "mix",
        "Mix",
        "mix",
        " ".join(single.path for single in _SINGLE if single.name in _MIX_WEIGHTS),
        mix=tuple(_MIX_WEIGHTS.items()),
    )
}

#: What a plain scripted run measures: one scenario per kind of work, and the baseline.
CORE = ["hello", "io", "upstream", "cpu"]


# --- the crossover map's splits -------------------------------------------------------

_SPLIT = re.compile(r"mixed-io([0-9]{1,6})-cpu([0-9]{1,6})")


def split_name(io_ms: int, cpu_ms: int) -> str:
    """The scenario name of one split of ``/mixed``: ``mixed-io40-cpu10``."""
    return f"mixed-io{io_ms}-cpu{cpu_ms}"


def split_of(name: str) -> tuple[int, int] | None:
    """``(io_ms, cpu_ms)`` of a split's name; None for any other name."""
    found = _SPLIT.fullmatch(name)
    return None if found is None else (int(found[1]), int(found[2]))


def splits(total_ms: int = defaults.MIXED_MS, io_shares: tuple[int, ...] = defaults.MIXED_IO_SHARES) -> list[str]:
    """The crossover map's scenarios, from pure I/O to pure CPU."""
    return [split_name(total_ms * share // 100, total_ms - total_ms * share // 100) for share in io_shares]


#: The default splits: ``mixed-io50-cpu0`` … ``mixed-io0-cpu50``.
SPLITS = splits()


def resolve(name: str, io_ms: int = defaults.IO_MS, cpu_ms: int = defaults.CPU_MS) -> tuple[Scenario, int, int]:
    """The scenario a cell's name stands for, with the work it sends.

    A split (``mixed-io40-cpu10``) is the ``mixed`` scenario with its own
    work; any other name is its scenario with the run's ``io_ms``/``cpu_ms``.
    A name that is neither raises KeyError.
    """
    if (split := split_of(name)) is not None:
        return SCENARIOS["mixed"], *split
    return SCENARIOS[name], io_ms, cpu_ms

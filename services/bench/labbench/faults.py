"""Fault experiments: one fault, injected into one server under load.

A fault cell runs Locust against the server like any other cell, but without
a warm-up reset, so that Locust's per-second history covers the seconds
before the fault and after it. ``LEAD_S`` seconds into the load a thread of
the runner injects the fault and watches what follows; the cell keeps both
what it saw and the timeline (successes and failures per second, relative to
the moment of the fault). docs/faults.md explains each experiment and its
results.

The faults reach a server the same way natively and in containers: through
the app's ``/fault/*`` endpoints (the runner has no Docker socket) and plain
sockets. Every experiment is bounded: fixed users, a fixed length, and
sockets with timeouts.

The reports read this module too (the experiments' titles, questions and
lengths), so it imports nothing that talks to a server: the runner hands
each experiment a :class:`Server`, in practice a
:class:`labbench.appclient.AppClient`.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from labcore import defaults
from labcore.scenarios import SCENARIOS

#: Seconds of load before the fault: the "before" the rest is compared with.
LEAD_S = 4.0
#: Locust users of every fault cell's background load.
USERS = 8
#: Slow clients of the slow-clients experiment: a handful, as one misbehaving
#: network or a few phones on a bad connection would be.
SLOW_CLIENTS = 8
#: Requests in flight when the stop arrives, and how long each one takes.
PROBES = 4
PROBE_MS = 2000
#: How often the runner asks the server for its census while watching.
POLL_S = 0.25


@dataclass(frozen=True)
class Settings:
    """What the runner's flags set for the experiments."""

    long_ms: int = defaults.LONG_MS  # --long-ms: the timeout experiment's request
    soak_s: float = defaults.SOAK_S  # --soak-s: the soak's length


class Answer(Protocol):
    """What one request got: its HTTP status or the error's name, and how long it took."""

    @property
    def result(self) -> str: ...
    @property
    def seconds(self) -> float: ...


class Server(Protocol):
    """What an experiment asks of the server under test: its instruments
    (None when it does not answer), its fault endpoints, and plain requests."""

    @property
    def address(self) -> tuple[str, int]: ...
    def census(self) -> dict[str, Any] | None: ...
    def usage(self) -> dict[str, Any] | None: ...
    def crash(self) -> str: ...
    def stop(self) -> str: ...
    def request(self, path: str, method: str = "GET", timeout: float | None = None) -> Answer: ...


@dataclass
class Watch:
    """What an injection needs: the server, the clock and when to stop."""

    app: Server
    long_ms: int
    # How to send the server SIGTERM: directly where the runner can (native
    # mode), else through /fault/stop, which waits its turn like any request.
    terminate: Callable[[], str] | None = None
    # True for a server that forks a process per request (its "workers" come and go).
    per_request: bool = False
    ending: threading.Event = field(default_factory=threading.Event)
    at: float | None = None  # Unix time of the fault

    @property
    def address(self) -> tuple[str, int]:
        return self.app.address

    def census(self) -> dict[str, Any] | None:
        """The server's census (pid, start, workers), or None if it does not answer."""
        return self.app.census()

    def mark(self) -> float:
        self.at = time.time()
        return time.monotonic()


# --- the experiments ------------------------------------------------------------


def follow(watch: Watch, before: dict[str, Any], start: float, until_whole: bool) -> dict[str, Any]:
    """Watch the server's census after a fault, until the cell ends or, with
    ``until_whole``, until it is whole again; say what happened to it."""
    old = set(before.get("workers", []))
    lost: set[int] = set()
    new: set[int] = set()
    restarted = False
    seen: dict[str, Any] = {"answered_again_s": None, "whole_again_s": None, "workers_before": len(old)}
    while not watch.ending.wait(POLL_S):
        census = watch.census()
        if census is None:
            continue
        elapsed = round(time.monotonic() - start, 2)
        now = set(census["workers"])
        seen["answered_again_s"] = seen["answered_again_s"] or elapsed
        seen["workers_after"] = len(now)
        restarted |= census["started"] != before.get("started")
        lost |= old - now
        new |= now - old
        whole = restarted or watch.per_request or (len(now) >= len(old) and (new or not lost))
        if whole and seen["whole_again_s"] is None:
            seen["whole_again_s"] = elapsed
            if until_whole:
                break
    return seen | {"outcome": _outcome(seen, restarted, watch.per_request, bool(lost and new))}


def _outcome(seen: dict[str, Any], restarted: bool, per_request: bool, replaced: bool) -> str:
    if seen["answered_again_s"] is None:
        return "down"  # it never answered again within the cell
    if restarted:
        return "restarted"  # a new top process: something outside brought it back
    if replaced and not per_request:
        return "respawned"  # the same master replaced what was lost
    return "unaffected"


def crash(watch: Watch) -> dict[str, Any]:
    """SIGKILL the worker that serves /fault/crash, then watch the server
    until it is whole again or the cell ends."""
    before = watch.census() or {}
    start = watch.mark()
    answer = watch.app.crash()
    return {"answer": answer} | follow(watch, before, start, until_whole=True)


def probe(app: Server, ms: int) -> dict[str, Any]:
    """One ``/io`` request of ``ms``: its status or error, and how long it lasted."""
    # A workload request, not an instrument: patient enough to outlast any server timeout.
    outcome = app.request(SCENARIOS["io"].request(io_ms=ms), timeout=ms / 1000 + 20)
    return {"result": outcome.result, "seconds": outcome.seconds}


def _in_threads(calls: list[Callable[[], dict[str, Any]]]) -> Callable[[], list[dict[str, Any]]]:
    """Start each call in a thread; the returned function waits for their results."""
    results: list[dict[str, Any]] = [{} for _ in calls]

    def run(index: int) -> None:
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(calls))]
    for thread in threads:
        thread.start()

    def join() -> list[dict[str, Any]]:
        for thread in threads:
            thread.join()
        return results

    return join


def _accepting(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


def stop(watch: Watch) -> dict[str, Any]:
    """SIGTERM the server while PROBES requests of PROBE_MS are in flight:
    how many finish, and when it stops taking new connections."""
    join = _in_threads([lambda: probe(watch.app, PROBE_MS)] * PROBES)
    time.sleep(0.5)  # long enough to be in flight, well short of done
    start = watch.mark()
    answer = watch.terminate() if watch.terminate else watch.app.stop()
    delivered = round(time.monotonic() - start, 2)
    refused_after = None
    while time.monotonic() - start < 15:
        if not _accepting(watch.address):
            refused_after = round(time.monotonic() - start, 2)
            break
        time.sleep(0.05)
    probes = join()
    completed = sum(answer["result"] == "200" for answer in probes)
    return {
        "answer": answer,
        "signal": "direct" if watch.terminate else "/fault/stop",
        "delivered_after_s": delivered,
        "in_flight": PROBES,
        "completed": completed,
        "dropped": PROBES - completed,
        "probe_results": sorted(answer["result"] for answer in probes),
        "refusing_after_s": refused_after,
    }


def _slow_client(address: tuple[str, int], ending: threading.Event) -> dict[str, Any]:
    """Send the start of a request, then one header byte a second, until the
    cell ends or the server gives up on us."""
    start = time.monotonic()
    try:
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\nX-Slow: ")
            while not ending.wait(1.0):
                sock.sendall(b"x")
            return {"closed_by_server": False, "held_s": round(time.monotonic() - start, 1)}
    except OSError:
        return {"closed_by_server": True, "held_s": round(time.monotonic() - start, 1)}


def slow_clients(watch: Watch) -> dict[str, Any]:
    """SLOW_CLIENTS connections that never finish their request, beside the normal users."""
    watch.mark()
    clients = _in_threads([lambda: _slow_client(watch.address, watch.ending)] * SLOW_CLIENTS)()
    dropped = [client["held_s"] for client in clients if client["closed_by_server"]]
    return {
        "clients": SLOW_CLIENTS,
        "closed_by_server": len(dropped),
        "closed_after_s": statistics.median(dropped) if dropped else None,
    }


def timeout(watch: Watch) -> dict[str, Any]:
    """One request longer than the server's timeout: what the client gets,
    and whether the worker that served it survived."""
    before = watch.census() or {}
    start = watch.mark()
    join = _in_threads([lambda: probe(watch.app, watch.long_ms)])
    # A master replaces a killed worker a moment after the client hears of it:
    # watch until the cell ends, not just until the answer.
    seen = follow(watch, before, start, until_whole=False)
    request = join()[0]
    return {"long_ms": watch.long_ms, "result": request["result"], "seconds": request["seconds"]} | seen


def recycle(watch: Watch) -> dict[str, Any]:
    """Count the worker processes that come and go while the load runs."""
    first = watch.census() or {"workers": []}
    watch.mark()
    seen = set(first["workers"])
    while not watch.ending.wait(POLL_S):
        census = watch.census()
        if census is not None:
            seen |= set(census["workers"])
    return {"workers": len(first["workers"]), "recycled": len(seen) - len(first["workers"])}


#: How often the soak reads the server's /usage.
SOAK_POLL_S = 5.0


def soak(watch: Watch) -> dict[str, Any]:
    """The server's memory every SOAK_POLL_S while a long mixed load runs."""
    start = watch.mark()
    samples: list[list[float]] = []
    while True:
        usage = watch.app.usage() or {}
        if usage.get("memory_bytes") is not None:
            samples.append([round(time.monotonic() - start, 1), usage["memory_bytes"]])
        if watch.ending.wait(SOAK_POLL_S):
            break
    memory = [sample[1] for sample in samples]
    if not memory:
        return {"memory": []}
    # Medians of the first and last three readings, so one GC pause or a
    # burst of allocations at either end does not make the growth.
    first, last = statistics.median(memory[:3]), statistics.median(memory[-3:])
    return {
        "memory": samples,
        "memory_start_bytes": first,
        "memory_end_bytes": last,
        "memory_growth_bytes": last - first,
        "memory_peak_bytes": max(memory),
    }


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    question: str
    user_class: str  # the normal users' scenario
    after_s: Callable[[Settings], float]  # seconds of load after the fault
    inject: Callable[[Watch], dict[str, Any]]


FAULTS = {
    fault.name: fault
    for fault in [
        Fault(
            "crash",
            "Worker crash",
            "One worker process is killed (SIGKILL) under load: how many requests fail, and does the server recover?",
            SCENARIOS["io"].user_class,
            lambda _: 8.0,
            crash,
        ),
        Fault(
            "stop",
            "Graceful shutdown",
            f"SIGTERM under load with {PROBES} requests of {PROBE_MS} ms in flight: are they completed or dropped?",
            SCENARIOS["hello"].user_class,
            lambda _: 6.0,
            stop,
        ),
        Fault(
            "slow-clients",
            "Slow clients",
            f"{SLOW_CLIENTS} clients send their request one byte a second beside {USERS} normal users: "
            "how much normal throughput survives?",
            SCENARIOS["hello"].user_class,
            lambda _: 8.0,
            slow_clients,
        ),
        Fault(
            "timeout",
            "Request timeout",
            "One request outlasts the server's timeout (gunicorn --timeout, uWSGI harakiri): "
            "what does the client get, and what happens to the worker?",
            SCENARIOS["io"].user_class,
            lambda settings: settings.long_ms / 1000 + 4,
            timeout,
        ),
        Fault(
            "recycle",
            "Worker recycling",
            "Workers recycled after max-requests under load: are requests lost or connections reset?",
            SCENARIOS["hello"].user_class,
            lambda _: 10.0,
            recycle,
        ),
        Fault(
            "soak",
            "Soak",
            f"A long mixed load ({USERS} users of the mix scenario): does memory grow, do errors appear over time?",
            SCENARIOS["mix"].user_class,
            lambda settings: settings.soak_s,
            soak,
        ),
    ]
}

#: What ``--faults all`` runs: every fault, but not the long soak.
ALL = [name for name in FAULTS if name != "soak"]


def seconds(fault: Fault, settings: Settings) -> float:
    """The length of a fault cell's load."""
    return LEAD_S + fault.after_s(settings)

"""Fault experiments: one fault, injected into one server under load.

A fault cell runs Locust against the server like any other cell, but without
a warm-up reset, so that Locust's per-second history covers the seconds
before the fault and after it. ``LEAD_S`` seconds into the load a thread of
the runner injects the fault and watches what follows; the cell keeps both
what it saw and the timeline (successes and failures per second, relative to
the moment of the fault). docs/faults.md explains each experiment and its
results.

The faults reach a server the same way natively and in containers: through
the app's ``/_lab/fault/*`` endpoints (the runner has no Docker socket) and plain
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
from dataclasses import dataclass
from functools import partial
from typing import Any

from labbench import faultwatch, pinned
from labbench.faultwatch import Server, Watch, follow, in_threads
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


@dataclass(frozen=True)
class Settings:
    """What the runner's flags set for the experiments."""

    long_ms: int = defaults.LONG_MS  # --long-ms: the timeout experiment's request
    soak_s: float = defaults.SOAK_S  # --soak-s: the soak's length


# --- the experiments ------------------------------------------------------------


def crash(watch: Watch) -> dict[str, Any]:
    """SIGKILL the worker that serves /_lab/fault/crash, then watch the server
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


def _accepting(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


def stop(watch: Watch) -> dict[str, Any]:
    """SIGTERM the server while PROBES requests of PROBE_MS are in flight:
    how many finish, and when it stops taking new connections."""
    join = in_threads([lambda: probe(watch.app, PROBE_MS)] * PROBES)
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
    clients = in_threads([lambda: _slow_client(watch.address, watch.ending)] * SLOW_CLIENTS)()
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
    join = in_threads([lambda: probe(watch.app, watch.long_ms)])
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
    while not watch.ending.wait(faultwatch.POLL_S):
        census = watch.census()
        if census is not None:
            seen |= set(census["workers"])
    return {"workers": len(first["workers"]), "recycled": len(seen) - len(first["workers"])}


#: Connections the block experiment opens to find requests that share a worker,
#: and how many it keeps in flight beside the blocking request on its worker.
CONNECTIONS = 12
BESIDE = 3
#: How much longer than the blocking request those beside it last, so that
#: they are still in flight when the server's timeout fires.
BESIDE_EXTRA_MS = 2000


def _beside_ms(long_ms: int) -> int:
    return long_ms + BESIDE_EXTRA_MS


def _block_s(settings: Settings) -> float:
    return 2 * _beside_ms(settings.long_ms) / 1000 + 2  # a request beside may queue a round for its thread


def block(watch: Watch, via: str) -> dict[str, Any]:
    """A request that blocks its worker in C for ``long_ms``, past the server's timeout, beside waiting
    ones on its worker and the others. ``via`` (/io's): ``c`` lets a signal handler run, ``c-uninterrupted`` not."""
    before = watch.census() or {}
    blocker, beside, others = pinned.choose(pinned.open_pinned(watch.address, CONNECTIONS), BESIDE)
    waiting = [*beside, *others]
    patience = _block_s(Settings(long_ms=watch.long_ms)) + 20
    path = SCENARIOS["io"].request(io_ms=_beside_ms(watch.long_ms))
    join_waiting = in_threads([partial(pinned.send, each, path, patience) for each in waiting])
    time.sleep(0.5)  # long enough to be in flight
    start = watch.mark()
    blocking = SCENARIOS["io"].request(io_ms=watch.long_ms) + f"&via={via}"
    join_blocker = in_threads([partial(pinned.send, blocker, blocking, patience)])
    seen = follow(watch, before, start, until_whole=False)
    answers = join_blocker() + join_waiting()
    after = set((watch.census() or {}).get("workers", []))

    def alive(pid: int | None) -> bool | None:
        return None if pid is None or not after else pid in after

    roles = ["blocker", *["beside"] * len(beside), *["other"] * len(others)]
    requests = [
        {"role": role, "pid": each.pid, "worker_alive_after": alive(each.pid)} | answer
        for role, each, answer in zip(roles, [blocker, *waiting], answers, strict=True)
    ]
    sent = [request for request in requests if request["result"] != pinned.NOT_SENT]
    same, other = ([request for request in sent if request["role"] == role] for role in ("beside", "other"))
    return {
        "long_ms": watch.long_ms,
        "via": via,
        "pinned": blocker.pid is not None,
        "result": requests[0]["result"],
        "seconds": requests[0]["seconds"],
        "same_in_flight": len(same),
        "same_completed": sum(request["result"] == "200" for request in same),
        "other_in_flight": len(other),
        "other_completed": sum(request["result"] == "200" for request in other),
        "requests": requests,
    } | seen


#: How often the soak reads the server's /_lab/usage.
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
            "block",
            "A request that blocks its worker",
            "One request blocks its worker in C past the server's timeout while others wait on the same worker "
            "and on the others: which of them fail, and is the worker replaced?",
            SCENARIOS["io"].user_class,
            _block_s,
            partial(block, via="c"),
        ),
        Fault(
            "block-uninterrupted",
            "A request that blocks its worker and its signals",
            "The same, in a C call that lets no signal handler run until it returns, as many C libraries do: "
            "which requests fail now?",
            SCENARIOS["io"].user_class,
            _block_s,
            partial(block, via="c-uninterrupted"),
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

#: What ``--faults all`` runs: every fault, but not the long soak, nor the
#: two blocks, whose cells last twice ``--long-ms`` and mean most with short
#: server timeouts (docs/faults.md).
ALL = [name for name in FAULTS if name != "soak" and not name.startswith("block")]


def seconds(fault: Fault, settings: Settings) -> float:
    """The length of a fault cell's load."""
    return LEAD_S + fault.after_s(settings)

"""What a fault experiment watches: the server under test, the clock, and
what became of the server's workers after the fault (:func:`follow`).

:mod:`labbench.faults` defines the experiments on top of this; the runner
hands each one a :class:`Watch` over a :class:`Server`, in practice a
:class:`labbench.appclient.AppClient`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: How often the runner asks the server for its census while watching.
POLL_S = 0.25


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
    # mode), else through /_lab/fault/stop, which waits its turn like any request.
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


def in_threads(calls: list[Callable[[], dict[str, Any]]]) -> Callable[[], list[dict[str, Any]]]:
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

"""Requests on connections that stay with one worker process.

A server with several workers hands each new connection to whichever worker
accepts it, so a plain request cannot choose its worker. A keep-alive
connection, though, stays with the worker that accepted it: asking ``/_lab/whoami``
on it says which process will serve the next request sent on it. The block
experiment (:func:`labbench.faults.block`) uses this to put requests in
flight on the same worker as the one that blocks it.

A server that closes the connection after each answer (gunicorn's sync
workers) pins nothing: its connections are reported with no worker.
"""

from __future__ import annotations

import http.client
import json
import select
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from labcore import protocol

#: The result of a request whose pinned connection the server closed before it was sent.
NOT_SENT = "not-sent"
#: Seconds the census of one connection may take: under load it may queue.
CENSUS_TIMEOUT_S = 5.0
#: Seconds to wait before checking which connections the server closed after its answer.
SETTLE_S = 0.1

# What a request to a dying worker can raise: reset or timed-out sockets,
# a connection closed before the status line, an unparsable header.
_FAILURES = (OSError, http.client.HTTPException, ValueError)


@dataclass
class Pinned:
    """One open connection and the worker that serves it (None: not pinned)."""

    connection: http.client.HTTPConnection
    pid: int | None


def _census(connection: http.client.HTTPConnection) -> int | None:
    """The pid of the process that answers ``/_lab/whoami`` on ``connection``, if
    the connection stays open afterwards; None otherwise."""
    try:
        connection.request("GET", protocol.WHOAMI)
        reply = connection.getresponse()
        pid = json.loads(reply.read()).get("pid")
    except _FAILURES:
        connection.close()
        return None
    # http.client closes a connection the server will close; the next request
    # would go out on a new one, to any worker.
    return pid if isinstance(pid, int) and connection.sock is not None else None


def open_pinned(address: tuple[str, int], count: int) -> list[Pinned]:
    """``count`` connections to ``address``, each with the worker that serves it.

    All at once: a server closes an idle keep-alive connection after a
    couple of seconds (gunicorn's ``--keep-alive`` is 2 s), so the
    connections must be used soon after their census.
    """
    host, port = address
    connections = [http.client.HTTPConnection(host, port, timeout=CENSUS_TIMEOUT_S) for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        pids = list(pool.map(_census, connections))
    # Some servers close the connection right after the answer without
    # saying so (uWSGI's http-socket): a moment later it reads as closed.
    time.sleep(SETTLE_S)
    opened = []
    for connection, pid in zip(connections, pids, strict=True):
        if _closed_by_peer(connection):
            connection.close()  # a request on it opens a new connection, to any worker
            pid = None
        opened.append(Pinned(connection, pid))
    return opened


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """Whether the server has already closed this idle connection (it reads as ready, at EOF)."""
    if connection.sock is None:
        return False
    ready, _, _ = select.select([connection.sock], [], [], 0)
    return bool(ready)


def choose(opened: list[Pinned], beside: int) -> tuple[Pinned, list[Pinned], list[Pinned]]:
    """From ``opened``, a connection of the worker holding the most of them,
    up to ``beside`` more of that worker, and one of each other worker; the
    rest are closed. Where nothing is pinned, the first connection alone."""
    counts = Counter(each.pid for each in opened if each.pid is not None)
    victim = max(counts, key=lambda pid: counts[pid]) if counts else None
    mine = [each for each in opened if each.pid == victim and victim is not None] or opened[:1]
    others = list({each.pid: each for each in reversed(opened) if each.pid not in (None, victim)}.values())
    chosen = [*mine[: 1 + beside], *others]
    for each in opened:
        if each not in chosen:
            each.connection.close()
    return mine[0], mine[1 : 1 + beside], others


def send(pinned: Pinned, path: str, timeout: float) -> dict[str, Any]:
    """GET ``path`` on the pinned connection, then close it: the HTTP status or
    the error's name, how long it took, and the pid that answered (from the
    timeline header; None without an answer)."""
    start = time.monotonic()
    connection = pinned.connection
    answered_by = None
    if _closed_by_peer(connection):
        # Its keep-alive ran out before the request: not a failure of the
        # server under test, and a new connection could reach any worker.
        connection.close()
        return {"result": NOT_SENT, "seconds": 0.0, "answered_by": None}
    try:
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.timeout = timeout  # for a connection that is not open yet
        connection.request("GET", path, headers={protocol.TIMELINE_HEADER: "1"})
        reply = connection.getresponse()
        reply.read()
        result = str(reply.status)
        record = json.loads(reply.getheader(protocol.TIMELINE_HEADER) or "{}")
        answered_by = record.get("pid") if isinstance(record, dict) else None
    except _FAILURES as error:
        result = type(error).__name__
    finally:
        connection.close()
    return {"result": result, "seconds": round(time.monotonic() - start, 2), "answered_by": answered_by}

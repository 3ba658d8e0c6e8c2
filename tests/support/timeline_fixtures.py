"""A small, fixed ``timeline.json`` for the timeline tests: every number worked out by hand.

Three servers, each a burst of 8 requests of 500 ms (``io``) and of 100 ms
of CPU (``cpu``), all sent at t = 0 (``T0`` on the clock):

* ``gunicorn-sync`` (4 slots): 4 processes, one request each at a time, two
  waves: it ran 4 at once, as its label allows;
* ``gunicorn-gthread`` (4 × 2 = 8 slots): one worker took every connection,
  so its 2 threads served all 8 in 4 waves: 2 at once, against 8 promised;
* ``gevent-pywsgi`` (1000 slots): one process, a greenlet per request, all
  8 at once; its cpu burst ran one at a time (CPU work never yields).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from labbench.timelinedata import FILE, Timelines

T0 = 1_800_000_000.0
N = 8
IO_S = 0.5
CPU_S = 0.1
#: The network's share, each way: server start is sent + LAG, receive is end + LAG.
LAG = 0.001

SERVERS: dict[str, dict[str, Any]] = {
    "gunicorn-sync": {"model": "processes", "slots": 4, "slot_factors": [4], "description": "gunicorn, 4 sync"},
    "gunicorn-gthread": {
        "model": "processes+threads",
        "slots": 8,
        "slot_factors": [4, 2],
        "description": "gunicorn -k gthread, 4 × 2",
    },
    "gevent-pywsgi": {"model": "greenlets", "slots": 1000, "slot_factors": [1000], "description": "gevent"},
}


def _request(
    index: int, start: float, work: float, pid: int, thread: tuple[str, int], model: str, greenlet: str | None = None
) -> dict[str, Any]:
    return {
        "index": index,
        "sent": T0,
        "received": T0 + start + work + LAG,
        "result": "200",
        "error": None,
        "served": {
            "start": T0 + start,
            "end": T0 + start + work,
            "pid": pid,
            "thread": thread[0],
            "thread_id": thread[1],
            "greenlet": greenlet,
            "model": model,
            "in_flight": 1,
        },
    }


MAIN = ("MainThread", 1000)


def _bursts(scenario: str, work: float) -> list[dict[str, Any]]:
    kind = "cpu" if scenario == "cpu" else "io"
    path = f"/{scenario}?ms={round(work * 1000)}"
    head = {"scenario": scenario, "path": path, "kind": kind, "work_ms": round(work * 1000), "status": "ok"}
    head["error"] = None
    sync = [
        _request(i, LAG + (i // 4) * work, work, 100 + i % 4, MAIN, "processes") for i in range(N)
    ]  # fmt: skip
    gthread = [
        _request(
            i, LAG + (i // 2) * work, work, 200, (f"ThreadPoolExecutor-0_{i % 2}", 2000 + i % 2), "processes+threads"
        )
        for i in range(N)
    ]
    if kind == "io":
        gevent = [_request(i, LAG, work, 300, MAIN, "greenlets", f"Greenlet-{i:x}") for i in range(N)]
    else:
        gevent = [_request(i, LAG + i * work, work, 300, MAIN, "greenlets", f"Greenlet-{i:x}") for i in range(N)]
    return [
        {"server": "gunicorn-sync", **head, "cpus": 1.0, "requests": sync},
        {"server": "gunicorn-gthread", **head, "cpus": 1.0, "requests": gthread},
        {"server": "gevent-pywsgi", **head, "cpus": 1.0, "requests": gevent},
    ]


RUN: dict[str, Any] = {
    "schema_version": 1,
    "run": {
        "id": "2026-12-01T000000Z-timeline",
        "started_at": "2026-12-01T00:00:00+00:00",
        "finished_at": "2026-12-01T00:00:30+00:00",
        "mode": "native",
        "servers": list(SERVERS),
        "scenarios": ["io", "cpu"],
        "requests": N,
        "io_ms": round(IO_S * 1000),
        "cpu_ms": round(CPU_S * 1000),
        "timeout_s": 60.0,
        "machine": None,
    },
    "servers": SERVERS,
    "bursts": _bursts("io", IO_S) + _bursts("cpu", CPU_S),
}


def data() -> dict[str, Any]:
    """The run as plain JSON data, for a test to bend."""
    return copy.deepcopy(RUN)


def typed(document: dict[str, Any] | None = None) -> Timelines:
    return Timelines.from_json(json.dumps(data() if document is None else document))


def write_run(folder: Path, document: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILE).write_text(json.dumps(data() if document is None else document, indent=2))
    return folder

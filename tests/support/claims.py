"""What the claims ledger's two test files share: the numbers they record for
docs/claims.md, the kernel's listen queue, read from /proc, and busy loops
that say how many CPUs the machine's other work leaves free.

Both files merge their numbers into one test-artifacts/claims.json, claim by
claim, so that running one test keeps the others' numbers.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support import ARTIFACTS

PACKAGES = ("flask", "werkzeug", "gunicorn", "uwsgi", "gevent", "eventlet", "greenlet")
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column


class Notes:
    """Numbers measured by one test module, by claim."""

    def __init__(self) -> None:
        self.observed: dict[str, dict[str, Any]] = {}

    def note(self, claim: int, key: str, value: Any) -> None:
        self.observed.setdefault(f"claim {claim}", {})[key] = round(value, 3) if isinstance(value, float) else value

    def save(self, path: Path = ARTIFACTS / "claims.json") -> None:
        path.parent.mkdir(exist_ok=True)
        recorded = json.loads(path.read_text()) if path.exists() else {}
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        for claim, values in self.observed.items():
            recorded[claim] = {"measured_at": stamp, **values}
        recorded["machine"] = machine()
        path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    return {
        "cpu": models[0] if models else platform.processor(),
        "cpus": len(models) or os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: importlib.metadata.version(name) for name in PACKAGES},
        # Other work shares the machine: its load says how much.
        "load average at the end (1, 5, 15 min)": [round(load, 2) for load in os.getloadavg()],
    }


def listen_queue(port: int) -> int:
    """Connections the kernel has completed on the listening socket at ``port``
    that no accept() has taken yet (a listener's rx_queue in /proc/net/tcp).

    This queue, sized by listen()'s backlog, is where requests wait when a
    server has no free slot: the kernel keeps it, not the server.
    """
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                return int(queues.split(":")[1], 16)
    raise AssertionError(f"nothing listens on port {port}")


BUSY_LOOP = (
    "import sys, time\n"
    "end = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end: pass\n"
    "print(time.process_time())"
)


def busy_loops(cpus: set[int], seconds: float) -> list[subprocess.Popen[str]]:
    """One busy loop pinned to each of ``cpus`` for ``seconds``; each prints its CPU seconds."""
    return [
        subprocess.Popen(
            [sys.executable, "-c", BUSY_LOOP, str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda cpu=cpu: os.sched_setaffinity(0, {cpu}),
        )
        for cpu in sorted(cpus)
    ]


def free_cores(cpus: set[int]) -> float:
    """How many of ``cpus`` this machine's other work leaves free: the CPU
    seconds that busy loops pinned to each get in one second."""
    return sum(float(loop.communicate(timeout=30)[0]) for loop in busy_loops(cpus, 1))


PRIORITY = -15  # nice value: the kernel gives such a task ~28 times a default task's weight


def raise_priority(pid: int) -> bool:
    """Raise the process group of ``pid`` (every process and thread in it)
    above the machine's other work, so that a CPU burst gets the cores it is
    pinned to; False where this process may not (not root, no CAP_SYS_NICE).

    With autogroup scheduling (most desktop and VM kernels), the kernel first
    shares the CPUs among sessions and only then among a session's tasks by
    their nice value (sched(7), "The autogroup feature"); so a process in a
    session of its own also gets that session's nice, through
    /proc/<pid>/autogroup.
    """
    autogroup = Path(f"/proc/{pid}/autogroup")
    try:
        os.setpriority(os.PRIO_PGRP, os.getpgid(pid), PRIORITY)
        if autogroup.exists():
            autogroup.write_text(str(PRIORITY))
    except PermissionError:
        return False
    return True

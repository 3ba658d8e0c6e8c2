"""How much load can labbench's Locust give, next to a C load generator?

    .venv/bin/python -m labbench.headroom

Runs one server natively (default gunicorn-sync) pinned to the first CPU and
loads its ``/`` alternately with Locust, exactly as a labbench cell does, and
with ``wrk`` (Debian's package), both pinned to the second CPU with the same
number of connections. If labbench gets well below wrk, cells at that rate are
load-generator bound and need more Locust processes. docs/benchmarks.md
quotes a run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from labbench import locustrun, native
from labcore import defaults, matrix
from labcore.scenarios import SCENARIOS


def wrk(url: str, connections: int, seconds: float) -> float:
    """wrk's requests per second (its own warm-up is the preceding Locust run)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", url + "/"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="gunicorn-sync", choices=matrix.names())
    parser.add_argument("--users", type=int, default=32, help="Locust users = wrk connections")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        parser.error("needs two CPUs: one for the server, one for the load generator")
    hello = SCENARIOS["hello"]
    load = locustrun.Load(hello.user_class, args.users, 2, args.duration, 1, defaults.IO_MS, defaults.CPU_MS)
    locust_rps, wrk_rps, locust_cpu = [], [], []
    with native.serve(matrix.get(args.server), cpus={cpus[0]}) as url, tempfile.TemporaryDirectory() as tmp:
        os.sched_setaffinity(0, {cpus[1]})  # Locust and wrk inherit it
        for index in range(args.rounds):
            m = locustrun.measure(load, url, Path(tmp) / f"round{index}")
            locust_rps.append(m.rps)
            locust_cpu.append(m.loadgen_cpu)
            wrk_rps.append(wrk(url, args.users, args.duration))
    print(f"{args.server}, GET /, {args.users} connections, {args.rounds} rounds of {args.duration:g} s")
    print(f"locust req/s: {', '.join(f'{r:.0f}' for r in locust_rps)} (CPU {max(locust_cpu):.0%} at most)")
    print(f"wrk    req/s: {', '.join(f'{r:.0f}' for r in wrk_rps)}")
    print(f"ratio (medians): {statistics.median(locust_rps) / statistics.median(wrk_rps):.2f}")


if __name__ == "__main__":
    main()

"""A Locust worker for ``labbench run --workers N``, started again after every cell.

    python -m labbench.worker --master-host bench

Every cell of a run is a Locust master of its own, and a Locust worker quits
when its master does: this keeps one ``locust --worker`` running at a time,
each connecting to the next cell's master as soon as it listens, until
SIGTERM (``docker compose stop bench-worker``). compose.yaml's
``bench-worker`` service runs it; on another machine, run it from a checkout
with the lab's packages installed (docs/methodology.md, "Locust across
machines").
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from types import FrameType

from labbench import BenchError, locustrun

#: Locust's own default port for workers to reach the master.
MASTER_PORT = 5557
#: A pause between two workers, so a worker that fails at once cannot spin.
PAUSE_S = 1.0


def command(master_host: str, master_port: int) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(locustrun.locustfile()),
        "--worker", "--master-host", master_host, "--master-port", str(master_port),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labbench.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--master-host", required=True, help="where labbench's Locust master listens")
    parser.add_argument("--master-port", type=int, default=MASTER_PORT, help="its port (default: %(default)s)")
    parser.add_argument(
        "--once", action="store_true", help="serve one master and exit (default: again after every cell)"
    )
    args = parser.parse_args(argv)
    try:
        argv_worker = command(args.master_host, args.master_port)
    except BenchError as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
    stopping = False
    current: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if current is not None and current.poll() is None:
            current.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not stopping:
        current = subprocess.Popen(argv_worker, stdin=subprocess.DEVNULL)
        code = current.wait()
        if args.once:
            break
        print(f"labbench.worker: locust --worker exited with {code}; starting the next one", flush=True)
        time.sleep(PAUSE_S)
    return code


if __name__ == "__main__":
    sys.exit(main())

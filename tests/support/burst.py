"""Fire N identical requests at once and time them: the lab's basic physics probe."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass
class Burst:
    seconds: float
    bodies: list[Any]

    def rounds(self, ms: int) -> float:
        """How many back-to-back waves of ``ms`` the burst took."""
        return self.seconds / (ms / 1000)


def burst(url: str, n: int, timeout: float = 60) -> Burst:
    """GET ``url`` from ``n`` threads released together, each on its own connection."""
    ready = threading.Barrier(n)

    def one(_: int) -> Any:
        ready.wait()
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            assert reply.status == 200, f"{url} answered {reply.status}"
            return json.loads(reply.read())

    with ThreadPoolExecutor(n) as pool:
        started = time.monotonic()
        bodies = list(pool.map(one, range(n)))
        return Burst(time.monotonic() - started, bodies)

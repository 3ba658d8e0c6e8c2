"""The scenarios, read from the locustfile's User classes: their one definition.

Each concrete ``LabUser`` subclass in locustfiles/locustfile.py names its
scenario (``scenario``) and the kind of work it does (``kind``: ``baseline``,
``io``, ``cpu`` or ``mix``); reports use the kind for the ideal bound.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from dataclasses import dataclass

from labbench import BenchError
from labbench.locustrun import LOCUSTFILE

#: What a plain ``python -m labbench`` runs: one scenario per kind of work.
CORE = ["hello", "io", "upstream", "cpu"]


@dataclass(frozen=True)
class Scenario:
    name: str
    user_class: str
    kind: str
    path: str


# Importing Locust monkey-patches the whole process with gevent, so the
# locustfile is read in a child process of its own.
_READ = """
import json, locustfile
def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)
print(json.dumps([[c.scenario, c.__name__, c.kind, c.path]
                  for c in subclasses(locustfile.LabUser) if not c.__dict__.get("abstract")]))
"""


@functools.cache
def load() -> dict[str, Scenario]:
    """Every scenario the locustfile defines, by name."""
    result = subprocess.run(
        [sys.executable, "-c", _READ], cwd=LOCUSTFILE.parent, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise BenchError(f"cannot read the scenarios from {LOCUSTFILE}:\n{result.stderr[-2000:]}")
    return {name: Scenario(name, user_class, kind, path) for name, user_class, kind, path in json.loads(result.stdout)}


def work_ms(scenario: Scenario, io_ms: int, cpu_ms: int) -> int | None:
    """Sleep or CPU time per request, where the scenario has one."""
    return {"io": io_ms, "cpu": cpu_ms}.get(scenario.kind)

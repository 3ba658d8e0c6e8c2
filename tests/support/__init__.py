"""Helpers the tests share (fixtures stay in tests/conftest.py).

* :mod:`tests.support.docker`: the Compose stack, and skipping or failing without an engine;
* :mod:`tests.support.cli`: labbench's command line in a child process;
* :mod:`tests.support.bench_fixtures`: results.json documents to render and read;
* :mod:`tests.support.burst`: N concurrent requests, timed;
* :mod:`tests.support.claims`: the claims ledger's recorded numbers, and the kernel's listen queue;
* :mod:`tests.support.mdtables`: Markdown tables as data;
* :mod:`tests.support.inprocess`: the app served from the test process on loopback.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots and measurements for people to look at (not committed).
ARTIFACTS = ROOT / "test-artifacts"

"""labbench's command line, run in a child process as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def labbench(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """``python -m labbench ARGS``; ``env`` adds variables (knobs, LAB_COMPOSE_FILE) to this process's."""
    return subprocess.run(
        [sys.executable, "-m", "labbench", *args],
        env=os.environ | dict(env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_run(output: Path) -> Path:
    """The one run folder (a folder with results.json) a run wrote under ``output``."""
    runs = [path for path in output.iterdir() if (path / "results.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]

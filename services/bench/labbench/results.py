"""Reading and writing a run's results.json (docs/results-schema.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from labbench import BenchError

SCHEMA_VERSION = 1
# What identifies a cell; the measurements may be null, these may not be missing.
CELL_KEYS = ("server", "scenario", "users", "repetition", "status")
PLAN_KEYS = ("servers", "scenarios", "users", "duration_s", "warmup_s", "repetitions", "locust_processes", "seed")


def load_results(folder: Path) -> dict[str, Any]:
    """``folder/results.json``, checked far enough that a report can rely on its shape."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BenchError(f"{folder} is not a run folder: no such directory")
    path = folder / "results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{folder} holds no results.json: not a benchmark run") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise BenchError(f"{path} is not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None
    if not isinstance(data, dict):
        raise BenchError(f"{path} holds no results object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BenchError(f"{path} has schema_version {version!r}; this labbench reads version {SCHEMA_VERSION}")
    missing = [key for key in ("run", "servers", "scenarios") if not isinstance(data.get(key), dict)]
    if not isinstance(data.get("cells"), list):
        missing.append("cells")
    if missing:
        raise BenchError(f"{path} lacks {', '.join(missing)}")
    plan = data["run"].get("plan")
    absent = [key for key in PLAN_KEYS if not isinstance(plan, dict) or key not in plan]
    if absent:
        raise BenchError(f"{path}: run.plan lacks {', '.join(absent)}")
    for index, cell in enumerate(data["cells"]):
        absent = [key for key in CELL_KEYS if not isinstance(cell, dict) or key not in cell]
        if absent:
            raise BenchError(f"{path}: cells[{index}] lacks {', '.join(absent)}")
    return data


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    # A sibling, so os.replace stays on one filesystem; write_text honours the umask.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def save(folder: Path, results: dict[str, Any]) -> None:
    write_atomically(folder / "results.json", json.dumps(results, indent=2) + "\n")

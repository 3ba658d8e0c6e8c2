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

# The JSON types the readers rely on (docs/results-schema.md), so that a file
# edited by hand or cut short fails here, by name, not deep inside a report.
NUMBER = (int, float)
NAMES = {int: "a whole number", NUMBER: "a number", str: "a string", bool: "true or false", dict: "an object"}
PLAN_TYPES = {"duration_s": NUMBER, "warmup_s": NUMBER, "repetitions": int, "locust_processes": int, "seed": int}
PLAN_LISTS = {"servers": str, "scenarios": str, "users": int}
CELL_TYPES = {"server": str, "scenario": str, "users": int, "repetition": int, "status": str}
#: Measurements: null when not measured.
MEASUREMENT_TYPES = {
    "duration_s": NUMBER,
    "requests": int,
    "failures": int,
    "rps": NUMBER,
    "latency_ms": dict,
    "loadgen_cpu": NUMBER,
    "loadgen_bound": bool,
    "server_cpu_s": NUMBER,
    "server_memory_bytes": int,
    "server_memory_peak_bytes": int,
}
#: What the reports read from every ok cell.
OK_MEASUREMENTS = ("requests", "failures", "rps", "latency_ms")
LATENCIES = ("mean", "p50", "p95", "p99", "max")


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    # In Python true is an int; in the schema it is never a count.
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _plan_problems(plan: dict[str, Any]) -> list[str]:
    problems = [f"{key} is not {NAMES[kind]}" for key, kind in PLAN_TYPES.items() if not _is(plan[key], kind)]
    for key, kind in PLAN_LISTS.items():
        if not isinstance(plan[key], list) or not all(_is(item, kind) for item in plan[key]):
            problems.append(f"{key} is not a list of {NAMES[kind].removeprefix('a ')}s")
    return problems


def _cell_problems(cell: dict[str, Any]) -> list[str]:
    problems = [f"{key} is not {NAMES[kind]}" for key, kind in CELL_TYPES.items() if not _is(cell[key], kind)]
    for key, kind in MEASUREMENT_TYPES.items():
        value = cell.get(key)
        if value is None:
            if cell["status"] == "ok" and key in OK_MEASUREMENTS:
                problems.append(f"{key} is missing from an ok cell")
        elif not _is(value, kind):
            problems.append(f"{key} is not {NAMES[kind]}")
    latency = cell.get("latency_ms")
    if isinstance(latency, dict):
        wrong = [
            key for key in LATENCIES if key not in latency or not (latency[key] is None or _is(latency[key], NUMBER))
        ]
        if wrong:
            problems.append(f"latency_ms lacks a number or null for {', '.join(wrong)}")
    return problems


def load_results(folder: Path) -> dict[str, Any]:
    """``folder/results.json``, checked far enough that a report can rely on its shape."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BenchError(
            f"{folder} is not a run folder: {'not a directory' if folder.exists() else 'no such directory'}"
        )
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
    if problems := _plan_problems(plan):
        raise BenchError(f"{path}: in run.plan, {'; '.join(problems)}")
    for index, cell in enumerate(data["cells"]):
        absent = [key for key in CELL_KEYS if not isinstance(cell, dict) or key not in cell]
        if absent:
            raise BenchError(f"{path}: cells[{index}] lacks {', '.join(absent)}")
        if problems := _cell_problems(cell):
            raise BenchError(f"{path}: in cells[{index}], {'; '.join(problems)}")
    return data


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    # A sibling, so os.replace stays on one filesystem; write_text honours the umask.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise BenchError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def save(folder: Path, results: dict[str, Any]) -> None:
    write_atomically(folder / "results.json", json.dumps(results, indent=2) + "\n")

"""docs/results-schema.md and the typed results (labbench.results) describe the same file.

Each table of the schema doc lists the keys of one model, and the nested
objects' rows name every key of theirs; a field added to a model without a
line in the doc, or a line in the doc for a field that no longer exists,
fails here. A results.json that the runner writes must read back equal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from labbench import faults
from labbench.capacitymodels import Capacity, CapacitySettings, Step
from labbench.faultcells import OBSERVED
from labbench.results import (
    Cell,
    FaultCell,
    Latency,
    Limits,
    Machine,
    Plan,
    Results,
    Run,
    ScenarioInfo,
    ServerInfo,
)
from tests.support import ROOT
from tests.support.mdtables import md_tables

pytestmark = pytest.mark.unit

SCHEMA = ROOT / "docs" / "results-schema.md"
TABLES = md_tables(SCHEMA.read_text())

# Each table of the doc, by heading, and the model it describes.
SECTIONS: dict[str, type[BaseModel]] = {
    "Top level": Results,
    "`run`": Run,
    "`cells[]`": Cell,
    "`faults[]`": FaultCell,
    "`capacity[]`": Capacity,
    "`capacity[].curve[]`": Step,
}
# Objects described inside one row of a table: (heading, row key) -> model.
NESTED: dict[tuple[str, str], type[BaseModel]] = {
    ("`run`", "plan"): Plan,
    ("`run`", "limits"): Limits,
    ("`run`", "machine"): Machine,
    ("`cells[]`", "latency_ms"): Latency,
    ("Top level", "servers"): ServerInfo,
    ("Top level", "scenarios"): ScenarioInfo,
}


def _keys(cell: str) -> list[str]:
    """The backticked names in a table's first column: `server`, `scenario`, …"""
    return re.findall(r"`([a-z_][a-z0-9_]*)`", cell)


def _rows(heading: str) -> dict[str, dict[str, str]]:
    rows = {}
    for row in TABLES[heading]:
        for key in _keys(row["key"]):
            rows[key] = row
    return rows


@pytest.mark.parametrize("heading", list(SECTIONS))
def test_each_table_lists_exactly_its_models_fields(heading: str) -> None:
    documented = set(_rows(heading))
    fields = set(SECTIONS[heading].model_fields)
    assert documented == fields, (
        f"docs/results-schema.md, {heading}: undocumented {sorted(fields - documented)}, "
        f"documented but not in the model {sorted(documented - fields)}"
    )


@pytest.mark.parametrize(("heading", "key"), list(NESTED))
def test_nested_objects_name_every_field(heading: str, key: str) -> None:
    meaning = _rows(heading)[key]["meaning"]
    named = set(re.findall(r"`([a-z_][a-z0-9_]*)`", meaning))
    missing = set(NESTED[(heading, key)].model_fields) - named
    assert not missing, f"docs/results-schema.md, {heading} → {key} does not name {sorted(missing)}"


def _is_results(path: Path) -> bool:
    """A results.json document, told by its content rather than its name: the
    docs also commit timeline runs (their own schema, tests/test_timeline.py)
    and the raw numbers of the claims and concurrency tests."""
    document = json.loads(path.read_text())
    return isinstance(document, dict) and {"schema_version", "cells"} <= document.keys()


COMMITTED = sorted(path for path in (ROOT / "docs" / "images").glob("*.json") if _is_results(path))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: path.name)
def test_every_committed_run_reads_and_writes_back_as_it_was(path: Path) -> None:
    # Fault cells included: the docs' runs hold every experiment's observations.
    original = json.loads(path.read_text())
    written = json.loads(Results.from_json(path.read_text(), path.name).to_json())
    # A field newer than the file comes back with its default, and only so.
    for was, now in zip(original.get("cells", []), written.get("cells", []), strict=True):
        for name in now.keys() - was.keys():
            assert now.pop(name) == Cell.model_fields[name].default, f"{path.name}: cells[].{name}"
    for was_entry, now_entry in zip(original.get("capacity", []), written.get("capacity", []), strict=True):
        for was, now in zip(was_entry["curve"], now_entry["curve"], strict=True):
            for name in now.keys() - was.keys():
                assert now.pop(name) == Step.model_fields[name].default, f"{path.name}: capacity[].curve[].{name}"
    for key in ("cells", "faults", "capacity", "servers", "scenarios"):
        assert written.get(key, []) == original.get(key, []), f"{path.name}: {key} changed on the way through"


def test_the_plan_row_names_every_capacity_setting() -> None:
    meaning = _rows("`run`")["plan"]["meaning"]
    missing = set(CapacitySettings.model_fields) - set(re.findall(r"`([a-z_0-9]+)`", meaning))
    assert not missing, f"docs/results-schema.md, `run` → plan does not name {sorted(missing)}"


def test_the_fault_cells_know_every_experiment() -> None:
    assert set(OBSERVED) == set(faults.FAULTS)

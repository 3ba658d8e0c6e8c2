"""The code's shape, kept by tools: import-linter's contracts, no source roots
added by hand, and modules small enough to read in one sitting.

The contracts live in pyproject.toml ([tool.importlinter]); docs/architecture.md
draws them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
#: The lab's own code (tests and docs scripts aside).
CODE = [
    path
    for folder in ("services", "locustfiles")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if "build" not in path.parts and not any(part.endswith(".egg-info") for part in path.parts)
]
MAX_LINES = 400
#: Everything with Python in it, for the import-path check (this file names what it looks for).
ALL_PYTHON = CODE + [
    path
    for folder in ("docs", "tests")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if path != Path(__file__).resolve()
]


def test_every_import_linter_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # Every declared contract was checked, none skipped: "N kept, 0 broken."
    kept = re.search(r"Contracts: (\d+) kept, (\d+) broken", result.stdout)
    assert kept, result.stdout[-2000:]
    assert (int(kept[1]), int(kept[2])) == (len(CONFIG["contracts"]), 0)


@pytest.mark.parametrize("path", ALL_PYTHON, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_adds_a_source_root_by_hand(path: Path) -> None:
    # The lab's packages are installed (pip install, editable in the test
    # virtualenv): nothing needs sys.path or PYTHONPATH to find them.
    text = path.read_text()
    found = re.findall(r"sys\.path\s*(?:\.insert|\.append|\[[^\]]*\]\s*=)|PYTHONPATH", text)
    assert not found, f"{path.relative_to(ROOT)} edits the import path: {found}"


@pytest.mark.parametrize("path", CODE, ids=lambda path: str(path.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by concern"


def test_pytest_adds_no_source_root() -> None:
    pytest_config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "pythonpath" not in pytest_config

"""The code's shape, kept by tools: import-linter's contracts, no source roots
added by hand, and modules small enough to read in one sitting.

The contracts live in pyproject.toml ([tool.importlinter]); docs/architecture.md
draws them.
"""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

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


def _named(contract: dict) -> set[str]:
    """Every module a contract names (a layer's siblings with their container)."""
    names = set(contract.get("source_modules", [])) | set(contract.get("forbidden_modules", []))
    for container in contract.get("containers", [""]):
        for layer in contract.get("layers", []):
            names |= {f"{container}.{part.strip()}".lstrip(".") for part in re.split(r"[|:]", layer)}
    return names


def test_every_labbench_module_is_under_a_contract() -> None:
    # A module no contract names could import anything: a new one must take its place.
    import labbench

    named = set().union(*(_named(contract) for contract in CONFIG["contracts"]))
    modules = [info.name for info in pkgutil.walk_packages(labbench.__path__, "labbench.")]
    loose = [name for name in modules if not any(name == n or name.startswith(n + ".") for n in named)]
    assert not loose, f"modules under no import-linter contract (pyproject.toml): {loose}"


@pytest.mark.parametrize("path", ALL_PYTHON, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_adds_a_source_root_by_hand(path: Path) -> None:
    # The lab's packages are installed (pip install, editable in the test
    # virtualenv): nothing needs sys.path or PYTHONPATH to find them.
    text = path.read_text()
    found = re.findall(
        r"sys\.path\s*(?:\.insert|\.append|\.extend|\+=|\[[^\]]*\]\s*=)|site\.addsitedir|PYTHONPATH", text
    )
    assert not found, f"{path.relative_to(ROOT)} edits the import path: {found}"


@pytest.mark.parametrize("path", CODE, ids=lambda path: str(path.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by concern"


def test_pytest_adds_no_source_root() -> None:
    pytest_config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "pythonpath" not in pytest_config

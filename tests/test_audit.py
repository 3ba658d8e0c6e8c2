"""Known vulnerabilities in the lab's pinned packages: pip-audit on every lock file.

Each requirements file pins every package exactly, including what the direct
requirements pull in, so pip-audit can check it as written: ``--no-deps``
(resolve nothing) and ``--disable-pip`` (create no virtualenv, install
nothing). pip-audit does not follow ``-r`` includes in this mode, which is why
each file is audited on its own. ``--strict`` makes a package it could not
look up a failure instead of a silent skip.

The lookup needs PyPI's JSON API (pip-audit's default vulnerability service).
When it does not answer for a release that certainly exists, the audit test
skips, saying why; the offline check that every file is auditable still runs.
The same command by hand (docs/safety.md):

    pip-audit -r services/app/requirements.txt --no-deps --disable-pip --strict
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

LOCK_FILES = [
    "services/app/requirements.txt",
    "services/locust/requirements.txt",
    "services/bench/requirements.txt",
    "tests/requirements.txt",
]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")
AUDIT = [sys.executable, "-m", "pip_audit", "--no-deps", "--disable-pip", "--strict", "--progress-spinner", "off"]


def pins(path: Path) -> dict[str, str]:
    """The ``name==version`` lines of a requirements file (not its ``-r`` includes), by normalised name."""
    found = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line.strip()):
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def service_problem() -> str | None:
    """Why PyPI's vulnerability data cannot be had here, or None when it can.

    Asks for pip-audit's own pinned release, as pip-audit asks for each pin:
    that release exists, so anything but an answer with vulnerability data
    means the service is out of reach, not that a pin is wrong."""
    version = pins(ROOT / "tests/requirements.txt")["pip-audit"]
    url = f"https://pypi.org/pypi/pip-audit/{version}/json"
    try:
        with urllib.request.urlopen(url, timeout=15) as reply:
            data = json.load(reply)
    except urllib.error.HTTPError as error:
        return f"{url} answered {error.code}"
    except (OSError, ValueError) as error:
        return f"{url} did not answer: {error}"
    return None if "vulnerabilities" in data else f"{url} holds no vulnerability data"


@pytest.mark.parametrize("lock_file", LOCK_FILES)
def test_every_lock_file_is_auditable_as_written(lock_file: str) -> None:
    """Offline (a dry run): pip-audit reads every pin and needs nothing installed."""
    path = ROOT / lock_file
    result = subprocess.run(
        [*AUDIT, "--dry-run", "-r", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    audited = re.search(r"would have audited (\d+) packages", result.stderr)
    assert audited, result.stderr[-2000:]
    assert int(audited[1]) == len(pins(path)), f"{lock_file}: {audited[0]}, but it pins {len(pins(path))}"


@pytest.fixture(scope="module")
def vulnerability_service() -> None:
    if (problem := service_problem()) is not None:
        pytest.skip(f"no vulnerability data here: {problem}")


@pytest.mark.parametrize("lock_file", LOCK_FILES)
def test_no_pinned_package_has_a_known_vulnerability(vulnerability_service: None, lock_file: str) -> None:
    path = ROOT / lock_file
    result = subprocess.run(
        [*AUDIT, "--format", "json", "-r", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pip-audit exited {result.returncode} without a report:\n{result.stderr[-3000:]}")
    audited = {re.sub(r"[-_.]+", "-", dep["name"]).lower(): dep for dep in report["dependencies"]}
    assert audited.keys() == pins(path).keys(), f"{lock_file}: audited a different set of packages"
    skipped = {name: dep["skip_reason"] for name, dep in audited.items() if "skip_reason" in dep}
    assert not skipped, f"{lock_file}: not audited: {skipped}"
    found = [
        f"{name} {dep['version']}: {vuln['id']} (fixed in {', '.join(vuln['fix_versions']) or 'no release yet'})"
        for name, dep in audited.items()
        for vuln in dep.get("vulns", [])
    ]
    assert not found, f"{lock_file} pins packages with known vulnerabilities:\n" + "\n".join(found)
    assert result.returncode == 0, result.stderr[-3000:]

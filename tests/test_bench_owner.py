"""The bench container's entry point (labbench.owner): labbench runs as the results folder's owner.

Each case runs in a child process, which changes its user for good. Changing
user needs root: elsewhere these tests skip (the Docker test of
tests/test_bench_run.py covers the container itself).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root"),
]

# What the child reports after the switch: who it is, its capabilities, and
# whether it can write where labbench writes.
CHILD = r"""
import json, os, sys
from pathlib import Path
from labbench import owner
folder = Path(sys.argv[1])
owner.become_owner(folder)
(folder / "written").write_text("x")
print(json.dumps({"ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
                  "groups": os.getgroups(), "caps": owner.capabilities()}))
"""


def _become_owner_of(folder: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def folder() -> Iterator[Path]:
    # Not under pytest's tmp_path, whose parents only root may enter.
    path = Path(tempfile.mkdtemp(prefix="lab-owner-"))
    yield path
    shutil.rmtree(path)


@pytest.mark.parametrize("uid", [4242, 0])
def test_labbench_becomes_the_owner_with_no_capability_left(folder: Path, uid: int) -> None:
    os.chown(folder, uid, uid + 1)
    seen = _become_owner_of(folder)
    assert seen["ids"] == [uid, uid, uid + 1, uid + 1]
    assert seen["groups"] in ([], [uid + 1]), "root's supplementary groups must go"
    assert seen["caps"]["CapEff"] == seen["caps"]["CapPrm"] == seen["caps"]["CapInh"] == 0, seen
    assert (folder / "written").stat().st_uid == uid


def test_a_missing_results_folder_is_a_clear_error(tmp_path: Path) -> None:
    env = os.environ | {"LAB_RESULTS": str(tmp_path / "absent")}
    done = subprocess.run(
        [sys.executable, "-m", "labbench.owner", "--help"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"labbench: error: cannot run as the owner of {tmp_path / 'absent'}:")
    assert "Traceback" not in done.stderr

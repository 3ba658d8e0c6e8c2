"""The real Compose stack, as the Docker tests see it.

Docker tests use the engine that answers ``docker info``. Without one they
skip with the reason, unless ``LAB_REQUIRE_DOCKER=1`` (as in CI), where a
missing engine is a failure: end-to-end tests must never vanish silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from tests.support import ROOT

REQUIRE_DOCKER = os.environ.get("LAB_REQUIRE_DOCKER") == "1"


def docker_unavailable() -> str | None:
    """Why Docker tests cannot run here, or None when they can."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    for argv, what in (
        (["docker", "info"], "no Docker engine answers"),
        (["docker", "compose", "version"], "no Compose v2 plugin"),
    ):
        if subprocess.run(argv, capture_output=True, timeout=30).returncode != 0:
            return what
    return None


def require_docker() -> None:
    reason = docker_unavailable()
    if reason is None:
        return
    if REQUIRE_DOCKER:
        pytest.fail(f"LAB_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason} (set LAB_REQUIRE_DOCKER=1 to make this a failure)")


def compose(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``docker compose`` in the repo, failing with its output on error."""
    result = subprocess.run(["docker", "compose", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        pytest.fail(f"docker compose {' '.join(args)} exited {result.returncode}:\n{output}")
    return result


@dataclass
class Stack:
    """The running lab, as the Docker tests see it."""

    def exec_python(self, script: str, service: str = "locust") -> str:
        """Run ``script`` inside a container on the lab's network; return its stdout."""
        result = subprocess.run(
            ["docker", "compose", "exec", "-T", service, "python", "-"],
            cwd=ROOT,
            input=script,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(
                f"script in {service} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def container(self, service: str) -> dict:
        ids = compose("ps", "--quiet", service).stdout.split()
        assert ids, f"no running container for {service}"
        return json.loads(
            subprocess.run(["docker", "inspect", ids[0]], capture_output=True, text=True, check=True).stdout
        )[0]

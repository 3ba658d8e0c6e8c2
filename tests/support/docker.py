"""The real Compose stack, as the Docker tests see it.

Docker tests use the engine that answers ``docker info``. Without one they
skip with the reason, unless ``LAB_REQUIRE_DOCKER=1`` (as in CI), where a
missing engine is a failure: end-to-end tests must never vanish silently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest
import yaml

from tests.support import ROOT

REQUIRE_DOCKER = os.environ.get("LAB_REQUIRE_DOCKER") == "1"

#: The tests' own Compose project: `bash tests/run` never recreates, stops or
#: takes down the containers of a lab someone is using beside it.
PROJECT = "flask-serving-lab-tests"
#: ... and its own host ports: each service's default plus this.
PORT_OFFSET = 10000
_PORT_KNOB = re.compile(r"\$\{(LAB_\w+_PORT):-(\d+)\}")


def isolate() -> dict[str, str]:
    """Point Compose and the matrix at the test stack (this process and its children).

    Every port knob of compose.yaml moves by :data:`PORT_OFFSET`, whatever the
    environment says, so that a lab moved with the same knobs never collides."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    # Only the knobs of published ports (LAB_LISTEN_PORT is the one inside the container).
    published = " ".join(str(port) for service in services.values() for port in service.get("ports", []))
    settings = {"COMPOSE_PROJECT_NAME": PROJECT}
    settings |= {knob: str(int(default) + PORT_OFFSET) for knob, default in _PORT_KNOB.findall(published)}
    os.environ.update(settings)
    return settings


def locust_url() -> str:
    """Where the test stack's Locust web UI answers."""
    return f"http://127.0.0.1:{os.environ.get('LAB_LOCUST_PORT', '8089')}"


def default_port(port: int) -> int:
    """The port a user's lab publishes where the test stack publishes ``port``
    (one that :func:`isolate` did not move, such as a new server's, is its own)."""
    return port - PORT_OFFSET if port > PORT_OFFSET else port


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

"""Fixtures shared by the tests: native servers and the real Compose stack.

Docker tests use the engine that answers ``docker info``. Without one they
skip with the reason, unless ``LAB_REQUIRE_DOCKER=1`` (as in CI), where a
missing engine is a failure: end-to-end tests must never vanish silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from labbench import native
from labcore import matrix

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_DOCKER = os.environ.get("LAB_REQUIRE_DOCKER") == "1"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and measurements for people to look at
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here
# Chromium talks to nothing but the page under test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture(scope="session")
def lab_stack() -> Iterator[Stack]:
    """The whole lab built and up (every server healthy), taken down afterwards
    unless it was already running before the tests."""
    require_docker()
    was_running = bool(compose("ps", "--quiet").stdout.strip())
    compose("build")
    compose("up", "--detach", "--wait", "--wait-timeout", "300")
    try:
        yield Stack()
    finally:
        if not was_running:
            compose("down", "--timeout", "10", check=False)


@pytest.fixture(scope="session")
def upstream_url() -> Iterator[str]:
    """The lab's upstream service, run natively on loopback."""
    with native.serve(matrix.load(role="upstream")[0]) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session: Playwright's sync API
    allows one instance per thread. Requested before lab_stack by the tests
    that need both, so a machine without Chromium skips before building."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()

"""Fixtures shared by the tests: native servers, the real Compose stack, a browser.

Helpers that are not fixtures live in tests/support/. Every test has a kind
marker (unit, native or docker; see pyproject.toml), so the lanes select
exactly; a test without one stops the collection.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from labbench import native
from labcore import matrix
from tests.support.docker import Stack, compose, isolate, require_docker

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


KINDS = ("unit", "native", "docker")


def pytest_configure(config: pytest.Config) -> None:
    # Before any test module reads the matrix: its ports are the test stack's.
    isolate()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test says what it needs (pyproject.toml's markers), so that the
    lanes (`-m "not native and not docker"`, `-m docker`) are exact."""
    unmarked = [item.nodeid for item in items if not any(item.get_closest_marker(kind) for kind in KINDS)]
    if unmarked:
        raise pytest.UsageError(
            f"tests without a kind marker ({', '.join(KINDS)}): {', '.join(unmarked[:10])}"
            + (f" and {len(unmarked) - 10} more" if len(unmarked) > 10 else "")
        )


@pytest.fixture(scope="session")
def lab_stack(pytestconfig: pytest.Config) -> Iterator[Stack]:
    """The tests' own lab (project flask-serving-lab-tests) built and up, every
    server healthy; taken down afterwards unless it was already running."""
    require_docker()
    say = _announcer(pytestconfig)
    was_running = bool(compose("ps", "--quiet").stdout.strip())
    with say("1/2 building the images (docker compose build; minutes the first time)"):
        compose("build")
    with say("2/2 starting every service and waiting until each is healthy (up --wait)"):
        compose("up", "--detach", "--wait", "--wait-timeout", "300")
    try:
        yield Stack()
    finally:
        if not was_running:
            with say("taking the test stack down"):
                compose("down", "--timeout", "10", check=False)


def _announcer(config: pytest.Config) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    """Progress lines for the long Docker setup, on the terminal even while pytest captures output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    @contextlib.contextmanager
    def say(step: str) -> Iterator[None]:
        started = time.monotonic()
        if reporter is not None:
            reporter.write_line(f"[test stack] {step} ...")
        yield
        if reporter is not None:
            reporter.write_line(f"[test stack] {step.split(' (')[0]}: done in {time.monotonic() - started:.0f} s")

    return say


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

"""Locust's web UI in a real browser, against the real Compose stack.

A person's path through it: pick a server in the "Server under load" list and a
scenario in the class picker, start, watch requests come in, stop. The run
goes through the stack's master and worker, so it also proves the target
travels to the workers: the chosen server's container must be the one that
burned the CPU.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from labcore import matrix, protocol
from tests.support import ARTIFACTS
from tests.support.docker import locust_url

pytestmark = [pytest.mark.docker, pytest.mark.browser]

LOCUST_URL = locust_url()
SCREENSHOT = ARTIFACTS / "locust-ui.png"  # the running test
FORM_SCREENSHOT = ARTIFACTS / "locust-ui-form.png"  # the form, filled in

TARGET = "gunicorn-gevent"  # not the default, so a target that is ignored shows
SCENARIO = "Hello"
USERS = 5


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def _cpu_seconds() -> dict[str, float]:
    """CPU each server's container has used so far (the app's cgroup view)."""
    return {
        server.name: _get_json(f"http://127.0.0.1:{server.published_port}{protocol.USAGE}")["cpu_seconds"]
        for server in matrix.load()
    }


def _locust_stats() -> dict[str, Any]:
    return _get_json(f"{LOCUST_URL}/stats/requests")


def _wait_for_stats(page: Page, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """Poll the master's stats until ``predicate`` holds (they are cached for 2 s)."""
    stats = _locust_stats()
    for _ in range(60):
        if predicate(stats):
            return stats
        page.wait_for_timeout(500)
        stats = _locust_stats()
    raise AssertionError(f"Locust never reported {what}: {stats}")


def _open_start_form(page: Page) -> Locator:
    """The form shows by itself on a fresh master, in a dialog over the last
    run's statistics after one."""
    if _locust_stats()["state"] in ("spawning", "running"):
        # Someone else's run: stop it, or this test would edit it instead.
        _post(f"{LOCUST_URL}/stop")
    # Loaded once the master serves reset statistics (it caches them for
    # 2 s), the page can only ever show numbers from this test.
    _post(f"{LOCUST_URL}/stats/reset")
    _wait_for_stats(page, lambda stats: all(row["num_requests"] == 0 for row in stats["stats"]), "reset statistics")
    page.goto(LOCUST_URL)
    users_field = page.locator("input[name=userCount]")
    new_button = page.get_by_role("button", name="New", exact=True)
    expect(users_field.or_(new_button).first).to_be_visible()
    if not users_field.is_visible():
        new_button.click()
    expect(users_field).to_be_visible()
    return page.locator("form", has=users_field)


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10).close()


def _cell(page: Page, row: str, column: str) -> Locator:
    """One cell of the statistics table, by its row's name and its column's header."""
    # The class picker is a table too, and may still be in the page.
    table = page.locator("table", has=page.locator("th", has_text="# Requests"))
    expect(table).to_be_visible(timeout=15_000)
    headers = [" ".join(text.split()) for text in table.locator("th").all_inner_texts()]
    return table.locator("tr", has_text=row).locator("td").nth(headers.index(column))


def test_the_start_form_shows_the_two_choices_and_asks_for_nothing_else(
    browser: Browser, lab_stack: object, page: Page
) -> None:
    """What a newcomer sees first: the server and the scenario in plain sight,
    with a first run's defaults, and no notice about a Host to fill in."""
    form = _open_start_form(page)
    servers = page.locator("#lab-server-select")
    expect(servers).to_be_visible()
    offered = [value for value in servers.locator("option").evaluate_all("options => options.map(o => o.value)")]
    assert offered == [server.compose_url for server in matrix.load()]
    expect(servers).to_have_value(form.locator("input[name=host]").input_value())
    # Locust's notice for an empty Host (it must have nothing to warn about).
    expect(page.get_by_text("has no host attribute set")).to_have_count(0)
    expect(form.locator("input[name=userCount]")).to_have_value("32")
    picker = page.locator("table", has=page.locator("input[type=checkbox]"))
    expect(picker).to_be_visible()
    ticked = picker.locator("tbody tr", has=page.locator("input[type=checkbox]:checked"))
    expect(ticked).to_have_count(1)
    expect(ticked).to_contain_text("Io")


def test_start_and_stop_a_run_from_the_web_ui(browser: Browser, lab_stack: object, page: Page) -> None:
    form = _open_start_form(page)

    # The class picker (a table of checkboxes beside the form, not in it)
    # starts with one scenario ticked, once the lab's script has run: swap it
    # for the one of this test.
    picker = page.locator("table", has=page.locator("input[type=checkbox]"))
    expect(picker.locator("tbody input[type=checkbox]:checked")).to_have_count(1)
    for row in picker.locator("tbody tr").all():
        wanted = row.get_by_text(SCENARIO, exact=True).count() == 1
        row.locator("input[type=checkbox]").set_checked(wanted)
    expect(picker.locator("tbody input[type=checkbox]:checked")).to_have_count(1)
    form.locator("input[name=userCount]").fill(str(USERS))
    form.locator("input[name=spawnRate]").fill(str(USERS))
    # The server list writes the chosen server's address into the Host.
    page.locator("#lab-server-select").select_option(matrix.get(TARGET).compose_url)
    expect(form.locator("input[name=host]")).to_have_value(matrix.get(TARGET).compose_url)
    form.get_by_text("Advanced options").click()
    # A bound in case this test dies before it presses Stop.
    form.locator("input[name=runTime]").fill("60s")
    target = page.locator("#lab-server-select")

    ARTIFACTS.mkdir(exist_ok=True)
    target.scroll_into_view_if_needed()
    page.screenshot(path=FORM_SCREENSHOT)
    cpu_before = _cpu_seconds()
    form.get_by_role("button", name="Start", exact=True).click()

    # Workers report every 3 s and the UI polls every 2 s.
    expect(_cell(page, "Aggregated", "# Requests")).not_to_have_text("0", timeout=30_000)
    # Current RPS lags behind the count; wait for it so the screenshot shows a test in full swing.
    expect(_cell(page, "Aggregated", "Current RPS")).not_to_have_text("0", timeout=30_000)
    running = _wait_for_stats(page, lambda stats: stats["user_count"] == USERS, f"{USERS} users")
    # The header names the server under load (Locust shows the Host there).
    expect(page.locator("header")).to_contain_text(f"http://{TARGET}:")
    page.screenshot(path=SCREENSHOT)

    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_role("button", name="New", exact=True)).to_be_visible(timeout=15_000)
    stopped = _wait_for_stats(page, lambda stats: stats["state"] == "stopped", "the stopped state")
    cpu_after = _cpu_seconds()

    assert running["worker_count"] >= 1, "the run should have gone through the stack's workers"
    by_name = {row["name"]: row for row in stopped["stats"]}
    assert set(by_name) == {"/", "Aggregated"}, f"only the {SCENARIO} scenario should have run: {sorted(by_name)}"
    assert by_name["/"]["num_requests"] > 0
    assert by_name["/"]["num_failures"] == 0, stopped["errors"]

    # The load reached the chosen server and no other.
    used = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    others = max(seconds for name, seconds in used.items() if name != TARGET)
    assert used[TARGET] > 0.5, used
    assert used[TARGET] > 3 * others, used

"""The lab's start page for Locust's web UI (locustfiles/webui.py), served by a real master.

The master runs in a child process (importing Locust here would monkey-patch
this test process with gevent); these tests read the page it serves. The
browser test (tests/test_locust_ui.py) sees the same page rendered.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from labbench import native
from labcore import matrix, protocol
from tests.support import ROOT

pytestmark = pytest.mark.native

LOCUSTFILE = ROOT / "locustfiles" / "locustfile.py"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Locust master as compose.yaml starts it, its web UI on a free loopback port."""
    yield from _master(tmp_path_factory, {})


@pytest.fixture(scope="module")
def own_app_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same, with the scenarios file of an app of the user's own."""
    yield from _master(tmp_path_factory, {protocol.APP_DIR_ENV: str(ROOT / "tests" / "fixtures" / "ownapp")})


def _master(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[str]:
    port = native.free_port()
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--master", "--class-picker"]
    argv += ["--users", "32", "--spawn-rate", "32", "--web-host", "127.0.0.1", "--web-port", str(port)]
    argv += ["--master-bind-host", "127.0.0.1", "--master-bind-port", str(native.free_port())]
    process = subprocess.Popen(
        argv,
        cwd=tmp_path_factory.mktemp("master"),
        env=os.environ | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(url)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.communicate(timeout=10)[0] if process.poll() is not None else ""
                    pytest.fail(f"the master's web UI never answered:\n{output[-3000:]}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _template_args(page: str) -> dict:
    """What Locust hands its React page (``window.templateArgs = {...}``)."""
    found = re.search(r"window\.templateArgs = (\{.*\})\s*</script>", page, re.S)
    assert found, "Locust's own page is not in the lab's page"
    return json.loads(found[1])


def _lab_settings(page: str) -> dict:
    found = re.search(r"labForm\((\{.*\})\);\s*</script>", page, re.S)
    assert found, "the lab's additions are not in the page"
    return json.loads(found[1])


def test_the_page_has_a_host_so_locust_never_asks_for_one(master: str) -> None:
    status, page = _get(master)
    assert status == 200
    args = _template_args(page)
    assert args["host"] == matrix.get("gunicorn-sync").compose_url
    assert args["missing_host_warning"] is False
    assert args["num_users"] == 32 and args["spawn_rate"] == 32


def test_the_server_list_offers_every_server_with_its_address(master: str) -> None:
    lab = _lab_settings(_get(master)[1])
    servers = matrix.load()
    assert [(s["name"], s["url"]) for s in lab["servers"]] == [(s.name, s.compose_url) for s in servers]
    assert all(s["label"].startswith(f"{s['name']}: ") for s in lab["servers"])
    assert lab["chosen"] == "gunicorn-sync"
    assert lab["first_scenario"] == "Io"
    # The script that reads these settings is in the page, whole.
    assert "function labForm(lab)" in _get(master)[1]


def test_with_a_scenarios_file_the_page_ticks_the_app_s_first_scenario(own_app_master: str) -> None:
    page = _get(own_app_master)[1]
    assert _lab_settings(page)["first_scenario"] == "Home"
    classes = _template_args(page)["available_user_classes"]
    assert {"Home", "Add", "Token", "Missing", "AppMix", "Io"} <= set(classes), classes


def test_target_is_no_longer_a_second_choice_in_the_form(master: str) -> None:
    """The server list fills the Host; a Target field beside it could only contradict it."""
    args = _template_args(_get(master)[1])
    assert "target" not in args["extra_options"]
    assert {"io_ms", "cpu_ms", "warmup"} <= set(args["extra_options"])


def test_locust_s_other_pages_are_still_its_own(master: str) -> None:
    """The lab's loader stands in front of Locust's: every other template still resolves."""
    status, report = _get(f"{master}/stats/report")
    assert status == 200 and "labForm" not in report and "window.templateArgs" in report

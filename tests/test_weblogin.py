"""The Locust web UI's optional login (LAB_LOCUST_LOGIN, locustfiles/weblogin.py).

With ``LAB_LOCUST_LOGIN=user:password`` every page and API of the UI needs
the login (its form, or HTTP Basic credentials); without it, a UI published
beyond loopback does not start. Checked natively (Locust in a child process:
importing it here would monkey-patch pytest) and through Compose, where the
variable travels from the caller's environment to the master.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labbench import native
from tests.support import ROOT
from tests.support.docker import compose, require_docker

USER, PASSWORD = "lab", "correct horse battery staple"
LOCUSTFILE = ROOT / "locustfiles" / "locustfile.py"

# Runs wherever the UI is reachable (here, or inside the Locust container)
# with the UI's base URL, user and password as arguments; prints one JSON
# object with what each request got. Redirects are not followed: a refusal
# is a redirect to the login page.
PROBE = r"""
import base64, http.cookiejar, json, sys, urllib.error, urllib.parse, urllib.request
base, user, password = sys.argv[1:4]

class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

def ask(opener, path, data=None, auth=None):
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with opener.open(request, timeout=10) as reply:
            status, location, body = reply.status, reply.headers.get("Location"), reply.read()
    except urllib.error.HTTPError as error:
        status, location, body = error.code, error.headers.get("Location"), error.read()
    return {"status": status, "location": location, "body": body[:2000].decode("utf-8", "replace")}

anonymous = urllib.request.build_opener(Stay)
form = lambda u, p: urllib.parse.urlencode({"username": u, "password": p}).encode()
wrong = urllib.request.build_opener(Stay, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
right = urllib.request.build_opener(Stay, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
print(json.dumps({
    "index": ask(anonymous, "/"),
    "stats": ask(anonymous, "/stats/requests"),
    "swarm": ask(anonymous, "/swarm", data=b"user_count=1&spawn_rate=1&host=http://127.0.0.1:9"),
    "login_page": ask(anonymous, "/login"),
    "basic_wrong": ask(anonymous, "/stats/requests", auth=user + ":not-" + password),
    "basic_right": ask(anonymous, "/stats/requests", auth=user + ":" + password),
    "form_wrong": ask(wrong, "/login_submit", data=form(user, "not-" + password)),
    "after_form_wrong": ask(wrong, "/stats/requests"),
    "form_right": ask(right, "/login_submit", data=form(user, password)),
    "after_form_right": ask(right, "/stats/requests"),
}))
"""


def check_login(seen: dict[str, dict]) -> None:
    """What PROBE saw, against what a guarded UI must do."""
    for name in ("index", "stats", "swarm", "basic_wrong", "after_form_wrong"):
        assert seen[name]["status"] == 302, (name, seen[name])
        assert seen[name]["location"].startswith("/login"), (name, seen[name])
    assert seen["login_page"]["status"] == 200
    assert seen["form_wrong"]["status"] == 302 and seen["form_wrong"]["location"] == "/login"
    assert seen["form_right"]["status"] == 302 and seen["form_right"]["location"] == "/"
    for name in ("basic_right", "after_form_right"):
        assert seen[name]["status"] == 200, (name, seen[name])
        stats = json.loads(seen[name]["body"])
        # The refused POST /swarm started nothing.
        assert stats["state"] == "ready", (name, stats["state"])


# --- natively --------------------------------------------------------------------------


def start_locust(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """The lab's locustfile as a master with its web UI on 127.0.0.1:``port``."""
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--master", "--class-picker"]
    argv += ["--web-host", "127.0.0.1", "--web-port", str(port), "--master-bind-port", str(native.free_port())]
    with log.open("w") as out:
        return subprocess.Popen(
            argv, cwd=LOCUSTFILE.parent, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )


def wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    """Until the UI accepts connections; fails if Locust exits first."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)


def locust_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "LOCUST_"))}
    return env | extra


def probe(base: str, command: list[str]) -> dict[str, dict]:
    result = subprocess.run(
        [*command, "-", base, USER, PASSWORD], input=PROBE, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture
def guarded_ui(tmp_path: Path) -> Iterator[str]:
    """A native master with LAB_LOCUST_LOGIN set; yields its base URL."""
    port = native.free_port()
    log = tmp_path / "locust.log"
    process = start_locust(locust_env(LAB_LOCUST_LOGIN=f"{USER}:{PASSWORD}"), port, log)
    try:
        wait_until_listening(process, port, log)
        assert "Web UI login required (user lab)" in log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.native
def test_the_login_guards_every_page_and_lets_the_user_in(guarded_ui: str) -> None:
    check_login(probe(guarded_ui, [sys.executable]))


@pytest.mark.native
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAB_LOCUST_BIND_ADDRESS": "0.0.0.0"}, "the web UI would be published on 0.0.0.0 without a login"),
        ({"LAB_LOCUST_BIND_ADDRESS": "192.0.2.7"}, "the web UI would be published on 192.0.2.7 without a login"),
        ({"LAB_LOCUST_LOGIN": "no-colon"}, "LAB_LOCUST_LOGIN must be user:password"),
        ({"LAB_LOCUST_LOGIN": "user:"}, "LAB_LOCUST_LOGIN must be user:password"),
        ({"LOCUST_WEB_LOGIN": "true"}, "--web-login needs LAB_LOCUST_LOGIN"),
    ],
    ids=["exposed-all", "exposed-one", "no-colon", "no-password", "login-without-user"],
)
def test_an_unsafe_or_unusable_setting_stops_the_master(tmp_path: Path, env: dict[str, str], message: str) -> None:
    log = tmp_path / "locust.log"
    process = start_locust(locust_env(**env), native.free_port(), log)
    try:
        process.wait(timeout=60)
    finally:
        process.kill()
    output = log.read_text()
    assert process.returncode == 1, output[-2000:]
    assert f"locust: {message}" in output, output[-2000:]
    assert "Traceback" not in output


@pytest.mark.native
def test_a_loopback_address_needs_no_login(tmp_path: Path) -> None:
    log = tmp_path / "locust.log"
    process = start_locust(locust_env(LAB_LOCUST_BIND_ADDRESS="::1"), port := native.free_port(), log)
    try:
        wait_until_listening(process, port, log)
        seen = probe(f"http://127.0.0.1:{port}", [sys.executable])
        assert seen["stats"]["status"] == 200, seen["stats"]
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- through Compose -------------------------------------------------------------------

CONTAINER = "flask-serving-lab-weblogin-test"


@pytest.fixture(scope="module")
def locust_image() -> None:
    require_docker()
    compose("build", "locust")


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.docker
def test_compose_passes_the_login_to_the_master(locust_image: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """`LAB_LOCUST_LOGIN=... docker compose up` as a person would, but as a
    one-off master that publishes nothing; probed from inside its container.
    Its healthcheck, which compose.yaml's `up --wait` relies on, still passes."""
    monkeypatch.setenv("LAB_LOCUST_LOGIN", f"{USER}:{PASSWORD}")
    docker("rm", "-f", CONTAINER)
    compose("run", "--detach", "--no-deps", "--name", CONTAINER, "locust")
    try:
        deadline = time.monotonic() + 120
        while (health := docker("inspect", "--format", "{{.State.Health.Status}}", CONTAINER).stdout.strip()) != (
            "healthy"
        ):
            assert health in ("starting", "") and time.monotonic() < deadline, docker("logs", CONTAINER).stderr
            time.sleep(1)
        check_login(probe("http://127.0.0.1:8089", ["docker", "exec", "-i", CONTAINER, "python"]))
    finally:
        docker("rm", "-f", CONTAINER)


@pytest.mark.docker
def test_compose_refuses_to_expose_the_ui_without_a_login(locust_image: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """LAB_LOCUST_BIND_ADDRESS=0.0.0.0 alone: the master exits before serving. (A
    one-off `run` publishes no ports, so nothing is exposed meanwhile.)"""
    monkeypatch.setenv("LAB_LOCUST_BIND_ADDRESS", "0.0.0.0")
    monkeypatch.delenv("LAB_LOCUST_LOGIN", raising=False)
    result = compose("run", "--rm", "--no-deps", "locust", check=False, timeout=120)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "the web UI would be published on 0.0.0.0 without a login" in result.stdout + result.stderr


@pytest.mark.docker
@pytest.mark.parametrize(
    ("variable", "exposed"), [("LAB_BIND_ADDRESS", "servers"), ("LAB_LOCUST_BIND_ADDRESS", "ui")], ids=["servers", "ui"]
)
def test_the_ui_and_the_servers_are_exposed_separately(
    monkeypatch: pytest.MonkeyPatch, variable: str, exposed: str
) -> None:
    """Each variable moves its own ports off loopback and no others (docs/safety.md)."""
    require_docker()
    monkeypatch.delenv("LAB_BIND_ADDRESS", raising=False)
    monkeypatch.delenv("LAB_LOCUST_BIND_ADDRESS", raising=False)
    monkeypatch.setenv(variable, "0.0.0.0")
    services = json.loads(compose("config", "--format", "json").stdout)["services"]
    addresses = {
        name: {port.get("host_ip") for port in service.get("ports", [])}
        for name, service in services.items()
        if service.get("ports")
    }
    assert addresses.pop("locust") == {"0.0.0.0" if exposed == "ui" else "127.0.0.1"}
    assert addresses and all(ips == {"0.0.0.0" if exposed == "servers" else "127.0.0.1"} for ips in addresses.values())

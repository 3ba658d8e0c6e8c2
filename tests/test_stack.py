"""The real lab in Docker: every server up, healthy, equal and answering.

Needs a Docker engine (see conftest.lab_stack): skips without one, fails
without one when LAB_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import json
import time

import pytest

import matrix
from conftest import Stack, compose

pytestmark = pytest.mark.docker

SERVERS = matrix.load()

# Run inside a container on the lab's network, so requests go service to
# service exactly as Locust's do. Prints one JSON line per request.
PROBE = """
import json, sys, urllib.request, urllib.error
for name in {names!r}:
    for path, check in {checks!r}:
        url = f"http://{{name}}:8000{{path}}"
        try:
            with urllib.request.urlopen(url, timeout=30) as reply:
                status, body = reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode()
        except OSError as error:
            status, body = None, repr(error)
        print(json.dumps({{"server": name, "path": path, "status": status, "body": body}}))
"""

ENDPOINTS = [
    ("/", "Hello, World!"),
    ("/json", '{"age":30,"city":"New York","name":"John"}\n'),
    ("/json-dumps", '{"age":30,"city":"New York","name":"John"}\n'),
    ("/io?ms=50", '{"slept_ms":50}\n'),
    ("/upstream?ms=50", '{"upstream_ms":50}\n'),
    ("/async-io?ms=50", '{"slept_ms":50}\n'),
    ("/cpu?ms=5", None),
    ("/whoami", None),
    ("/usage", None),
    ("/io?ms=abc", None),
    ("/no-such-page", None),
]


@pytest.fixture(scope="module")
def answers(lab_stack: Stack) -> dict[tuple[str, str], dict]:
    """Every endpoint of every server, asked once over the Compose network."""
    script = PROBE.format(names=[s.name for s in SERVERS], checks=ENDPOINTS)
    lines = lab_stack.exec_python(script, service="upstream").splitlines()
    return {(a["server"], a["path"]): a for a in map(json.loads, lines)}


def answered(answer: dict) -> dict:
    assert answer["status"] == 200, f"{answer['server']}{answer['path']}: {answer['body'][:300]}"
    return json.loads(answer["body"])


def test_every_service_is_running_and_every_server_healthy(lab_stack: Stack) -> None:
    states = {s["Service"]: s for s in map(json.loads, compose("ps", "--format", "json").stdout.splitlines())}
    for server in SERVERS:
        assert states[server.name]["Health"] == "healthy", states.get(server.name)
    assert states["upstream"]["Health"] == "healthy"
    assert states["locust"]["State"] == "running"
    assert states["locust-worker"]["State"] == "running"


def test_every_endpoint_answers_on_every_server(answers: dict[tuple[str, str], dict]) -> None:
    assert len(answers) == len(SERVERS) * len(ENDPOINTS)
    for (server, path), answer in answers.items():
        where = f"{server}{path}"
        if path == "/io?ms=abc":
            assert answer["status"] == 400, where
            assert json.loads(answer["body"])["parameter"] == "ms", where
        elif path == "/no-such-page":
            assert answer["status"] == 404, where
            assert json.loads(answer["body"])["error"] == "Not Found", where
        else:
            assert answer["status"] == 200, f"{where}: {answer['body'][:300]}"
            expected = dict(ENDPOINTS)[path]
            if expected is not None:
                assert answer["body"] == expected, where


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_each_container_runs_the_model_its_label_claims(answers: dict, server: matrix.Server) -> None:
    assert answered(answers[server.name, "/whoami"])["model"] == server.model


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_usage_comes_from_the_container_cgroup(answers: dict, server: matrix.Server) -> None:
    usage = answered(answers[server.name, "/usage"])
    assert usage["source"].startswith("cgroup"), usage
    assert usage["cpu_seconds"] > 0 and usage["memory_bytes"] > 0, usage
    assert usage["cpu_limit"] is not None and usage["memory_limit_bytes"] is not None, usage


def test_every_server_gets_the_same_image_limits_and_hardening(lab_stack: Stack) -> None:
    seen = {}
    for server in SERVERS:
        info = lab_stack.container(server.name)
        host = info["HostConfig"]
        seen[server.name] = (info["Image"], host["NanoCpus"], host["Memory"])
        assert host["NanoCpus"] > 0 and host["Memory"] > 0, f"{server.name} has no CPU or memory limit"
        assert host["ReadonlyRootfs"], server.name
        assert host["CapDrop"] == ["ALL"], server.name
        assert "no-new-privileges:true" in host["SecurityOpt"], server.name
        assert host["Init"], server.name
        assert info["Config"]["User"] not in ("", "root", "0"), server.name
        bindings = host["PortBindings"]["8000/tcp"]
        assert [b["HostPort"] for b in bindings] == [str(server.published_port)], server.name
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings), f"{server.name} is published beyond loopback"
    assert len(set(seen.values())) == 1, f"servers differ in image or limits: {seen}"


def test_servers_stop_promptly_and_come_back(lab_stack: Stack) -> None:
    """SIGTERM reaches every server (init: true, --die-on-term): a stop takes
    well under Compose's 10 s grace period that a hung server would use up."""
    names = [s.name for s in SERVERS]
    started = time.monotonic()
    compose("stop", "--timeout", "10", *names)
    took = time.monotonic() - started
    compose("up", "--detach", "--wait", "--wait-timeout", "120", *names)
    assert took < 8, f"stopping the servers took {took:.1f}s: some ignored SIGTERM"

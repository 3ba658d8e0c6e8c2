"""The real lab in Docker: every server up, healthy, equal and answering.

Needs a Docker engine (see conftest.lab_stack): skips without one, fails
without one when LAB_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labcore import matrix, protocol
from tests.support.docker import Stack, compose

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
    ("/async-cpu?ms=5", None),
    ("/_lab/whoami", None),
    ("/_lab/usage", None),
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
    assert answered(answers[server.name, protocol.WHOAMI])["model"] == server.model


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_usage_comes_from_the_container_cgroup(answers: dict, server: matrix.Server) -> None:
    usage = answered(answers[server.name, protocol.USAGE])
    assert usage["source"].startswith("cgroup"), usage
    assert usage["cpu_seconds"] > 0 and usage["memory_bytes"] > 0, usage
    assert usage["cpu_limit"] is not None and usage["memory_limit_bytes"] is not None, usage


def test_every_server_gets_the_same_image_and_limits(lab_stack: Stack) -> None:
    seen = {}
    for server in SERVERS:
        info = lab_stack.container(server.name)
        host = info["HostConfig"]
        seen[server.name] = (info["Image"], host["NanoCpus"], host["Memory"])
        assert host["NanoCpus"] > 0 and host["Memory"] > 0, f"{server.name} has no CPU or memory limit"
        bindings = host["PortBindings"]["8000/tcp"]
        assert [b["HostPort"] for b in bindings] == [str(server.published_port)], server.name
    assert len(set(seen.values())) == 1, f"servers differ in image or limits: {seen}"


#: Every service of the lab: what `up` starts, and bench (profile bench), which `run` starts.
SERVICES = [*(s.name for s in SERVERS), "upstream", "locust", "locust-worker", "bench"]

#: Who owns the bench container's results folder in the hardening test.
BENCH_OWNER = 4242
# What the bench container's entry point does first.
BECOME_OWNER = "from pathlib import Path\nfrom labbench import owner\nowner.become_owner(Path('/lab/results'))\n"

# Run inside a container: what its processes may do, as the kernel sees it.
# (cgroup v2 paths first, then v1.)
INSIDE = r"""
import json, os
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
root = next(fields for fields in map(str.split, open("/proc/self/mountinfo")) if fields[4] == "/")
def first(*paths):
    for path in paths:
        try:
            return open(path).read().strip()
        except OSError:
            pass
print(json.dumps({
    "uid": os.getuid(),
    "cap_bounding": int(status["CapBnd"], 16),
    "cap_effective": int(status["CapEff"], 16),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "root_mount": root[5].split(","),
    "memory_limit": first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    "pids_limit": first("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"),
    "pid1": open("/proc/1/cmdline").read().split("\0")[0],
}))
"""


def docker(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"docker {' '.join(args[:2])}: {result.stderr[-2000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def bench_container(lab_stack: Stack) -> Iterator[str]:
    """A bench container as `docker compose run bench` makes one, idling so it
    can be inspected, its results folder owned by someone other than root."""
    name = "flask-serving-lab-bench-hardening"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    results = Path(tempfile.mkdtemp(prefix="lab-results-"))
    if os.geteuid() == 0:
        os.chown(results, BENCH_OWNER, BENCH_OWNER)
    compose("--profile", "bench", "build", "bench")
    compose(
        *("--profile", "bench", "run", "--detach", "--no-deps", "--name", name),
        *("--volume", f"{results}:/lab/results", "--entrypoint", "sleep", "bench", "600"),
    )
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
        shutil.rmtree(results)


@pytest.mark.parametrize("service", SERVICES)
def test_every_container_is_hardened_and_limited(
    lab_stack: Stack, request: pytest.FixtureRequest, service: str
) -> None:
    """What compose.yaml asks (x-hardened), as Docker applied it and as the
    processes inside live it: a user other than root, no capabilities at all
    (the bounding set, so not even a setuid binary gets one back),
    no-new-privileges, a read-only root and read-only mounts, init as PID 1,
    pids and memory limits, ports on loopback only."""
    container = request.getfixturevalue("bench_container") if service == "bench" else lab_stack.container(service)["Id"]
    info = json.loads(docker("inspect", container))[0]
    host = info["HostConfig"]
    assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"] and host["Init"], host
    assert "no-new-privileges:true" in host["SecurityOpt"], host["SecurityOpt"]
    assert host["Memory"] > 0, f"{service} has no memory limit"
    assert (host["PidsLimit"] or 0) > 0, f"{service} has no pids limit"
    for port, bindings in (host["PortBindings"] or {}).items():
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings), f"{service} publishes {port} beyond loopback"
    # No mount is writable but bench's results folder; the load generators
    # see the app's folder (LAB_APP_DIR, for its scenarios file) read-only.
    mounts = {mount["Destination"]: mount["RW"] for mount in info["Mounts"]}
    assert [path for path, writable in mounts.items() if writable] == (["/lab/results"] if service == "bench" else [])
    if service in ("locust", "locust-worker", "bench"):
        assert mounts.get(protocol.APP_MOUNT) is False, mounts
    script = INSIDE
    if service == "bench":
        # bench starts as root with two capabilities, only to become the
        # owner of the results folder (labbench.owner) before anything runs.
        assert info["Config"]["User"] == "0:0" and sorted(host["CapAdd"]) == ["CAP_SETGID", "CAP_SETUID"], host
        script = BECOME_OWNER + INSIDE
        bounding = 1 << 6 | 1 << 7  # CAP_SETGID, CAP_SETUID
    else:
        assert host["CapAdd"] is None, host["CapAdd"]
        assert info["Config"]["User"].split(":")[0] not in ("", "root", "0"), info["Config"]["User"]
        bounding = 0

    inside = json.loads(docker("exec", "-i", container, "python", "-", stdin=script))
    assert inside["uid"] != 0, inside
    if service == "bench" and os.geteuid() == 0:
        assert inside["uid"] == BENCH_OWNER, inside
    assert inside["cap_bounding"] == bounding and inside["cap_effective"] == 0, inside
    assert inside["no_new_privs"] == "1", inside
    assert "ro" in inside["root_mount"], inside
    assert inside["memory_limit"] == str(host["Memory"]), inside
    assert inside["pids_limit"] == str(host["PidsLimit"]), inside
    assert inside["pid1"].endswith("init"), inside


def test_servers_stop_promptly_and_come_back(lab_stack: Stack) -> None:
    """SIGTERM reaches every server (init: true, --die-on-term): a stop takes
    well under Compose's 10 s grace period that a hung server would use up."""
    names = [s.name for s in SERVERS]
    started = time.monotonic()
    compose("stop", "--timeout", "10", *names)
    took = time.monotonic() - started
    compose("up", "--detach", "--wait", "--wait-timeout", "120", *names)
    assert took < 8, f"stopping the servers took {took:.1f}s: some ignored SIGTERM"

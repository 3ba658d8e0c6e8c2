"""From the lab to production (docs/deploy.md): the optional nginx proxy, the
app behind it (ProxyFix) and the measurement docs/deploy.md shows.

* The proxy is no server of the default matrix, but labbench can name it,
  as the server behind it.
* Its nginx config buffers requests and responses and sets X-Forwarded-*
  itself; the app trusts those headers only with LAB_PROXY_FIX=1.
* In Docker, under its profile, it serves the app and keeps serving it while
  slow clients hold connections that stall gunicorn-sync when they reach it
  directly.
* docs/deploy.md's table is labbench's rendering of the committed run, and
  its commands parse.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from flask import Flask, request

from flasklab import create_app
from labbench import cli, native, options
from labbench.report.markdown import fault_sections
from labbench.results import Results
from labbench.targets import NativeTargets
from labcore import matrix, protocol
from tests.support import ROOT
from tests.support.docker import Stack, compose, default_port
from tests.support.mdtables import md_tables, sections_naming

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
PROXY = COMPOSE["services"]["proxy"]
NGINX_CONF = (ROOT / "services" / "proxy" / "nginx.conf.template").read_text()
DEPLOY_MD = ROOT / "docs" / "deploy.md"
#: The runs docs/deploy.md shows, each in a section that names it: their results.json as written.
PROXY_RUNS = sorted((ROOT / "docs" / "images").glob("*-proxy-*.json"))
#: The full run whose memory docs/deploy.md divides by the processes (docs/results.md's run).
FULL_RUN = ROOT / "docs" / "images" / "2026-12-01T102246Z-results.json"


# --- the app behind a proxy: ProxyFix -------------------------------------------------

#: What a client of the proxy sent, as the proxy tells the app.
FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "lab.example"}


def peer_app() -> Flask:
    """The lab's app with one more view: who the app thinks the client is."""
    app = create_app({"TESTING": True})
    app.add_url_rule(
        "/peer", "peer", lambda: {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}
    )
    return app


@pytest.mark.unit
def test_with_proxy_fix_the_app_sees_the_client_the_proxy_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(protocol.PROXY_FIX_ENV, "1")
    seen = peer_app().test_client().get("/peer", headers=FORWARDED).json
    assert seen == {"addr": "203.0.113.9", "scheme": "https", "host": "lab.example"}


@pytest.mark.unit
@pytest.mark.parametrize("value", [None, "", "0"])
def test_without_proxy_fix_forwarded_headers_are_ignored(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    """Off (the default), a client cannot claim another address or scheme."""
    if value is None:
        monkeypatch.delenv(protocol.PROXY_FIX_ENV, raising=False)
    else:
        monkeypatch.setenv(protocol.PROXY_FIX_ENV, value)
    seen = peer_app().test_client().get("/peer", headers=FORWARDED).json
    assert seen == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost"}


@pytest.mark.unit
@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_a_bad_proxy_fix_value_is_refused_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """Anything but 0 or 1 stops the app with the knob's name: a typo must not
    silently leave the proxy's headers ignored (or trusted)."""
    monkeypatch.setenv(protocol.PROXY_FIX_ENV, value)
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert stopped.value.code == 3
    assert capsys.readouterr().err == f"LAB_PROXY_FIX must be one of 0, 1, not {value!r}\n"


@pytest.mark.unit
def test_proxy_fix_trusts_one_hop_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that sends its own X-Forwarded-For through a proxy that appends
    to it is still seen as the address the proxy added, the last one."""
    monkeypatch.setenv(protocol.PROXY_FIX_ENV, "1")
    spoofed = FORWARDED | {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    assert peer_app().test_client().get("/peer", headers=spoofed).json["addr"] == "203.0.113.9"


@pytest.mark.unit
def test_every_server_gets_the_proxy_fix_knob_off_by_default() -> None:
    environment = COMPOSE["x-server"]["environment"]
    assert environment[protocol.PROXY_FIX_ENV] == "${LAB_PROXY_FIX:-0}"


# --- the proxy in compose.yaml and the matrix ----------------------------------------------


@pytest.mark.unit
def test_the_proxy_is_optional_and_no_server_of_the_matrix() -> None:
    assert PROXY["profiles"] == ["proxy"], "plain `docker compose up` leaves it out"
    assert "proxy" not in matrix.names(), "not in the default matrix, the Locust list or the native tests"
    assert matrix.addressable()[-1] == "proxy", "but a run may name it"


@pytest.mark.unit
def test_the_proxy_is_measured_as_the_server_behind_it(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy, sync = matrix.get("proxy"), matrix.get("gunicorn-sync")
    assert proxy.upstream == "gunicorn-sync"
    assert (proxy.model, proxy.slots, proxy.max_requests) == (sync.model, sync.slots, sync.max_requests)
    assert default_port(proxy.published_port) == 8080
    assert proxy.compose_url == "http://proxy:8000"
    monkeypatch.setenv("LAB_PROXY_UPSTREAM", "gunicorn-gthread")
    moved = matrix.get("proxy")
    assert (moved.upstream, moved.slots) == ("gunicorn-gthread", matrix.get("gunicorn-gthread").slots)
    assert "in front of gunicorn-gthread" in moved.description


@pytest.mark.unit
def test_a_proxy_in_front_of_no_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_PROXY_UPSTREAM", "nginx-itself")
    with pytest.raises(matrix.MatrixError, match="LAB_PROXY_UPSTREAM"):
        matrix.get("proxy")
    assert matrix.get("gunicorn-sync").name == "gunicorn-sync", "the servers are unaffected"


@pytest.mark.unit
def test_the_proxy_follows_the_upstream_knob_everywhere() -> None:
    """One knob names the server behind the proxy: nginx's config, Compose's
    start order, the label labbench reads, and the runner's copy of it."""
    knob = "${LAB_PROXY_UPSTREAM:-gunicorn-sync}"
    assert PROXY["environment"]["LAB_PROXY_UPSTREAM"] == knob
    assert PROXY["depends_on"] == [knob]
    assert PROXY["labels"]["lab.upstream"] == knob
    assert COMPOSE["services"]["bench"]["environment"]["LAB_PROXY_UPSTREAM"] == knob
    assert "http://${LAB_PROXY_UPSTREAM}:8000" in NGINX_CONF


@pytest.mark.unit
def test_the_proxy_is_hardened_limited_and_checked_like_the_others() -> None:
    for key, value in COMPOSE["x-hardened"].items():
        if key != "mem_limit":
            assert PROXY[key] == value, key
    assert PROXY["cpus"] == "${LAB_PROXY_CPUS:-1}" and PROXY["mem_limit"]
    assert PROXY["healthcheck"] == COMPOSE["x-server"]["healthcheck"], "healthy once the app answers through it"
    assert PROXY["stop_signal"] == "SIGQUIT", "nginx's graceful stop"


def nginx_directives() -> dict[str, list[str]]:
    """Each directive of the nginx config with its values (comments left out)."""
    found: dict[str, list[str]] = {}
    for line in NGINX_CONF.splitlines():
        line = line.split("#", 1)[0].strip().rstrip(";")
        if line and not line.endswith(("{", "}")):
            name, _, value = line.partition(" ")
            found.setdefault(name, []).append(value.strip())
    return found


@pytest.mark.unit
def test_nginx_buffers_requests_and_responses_and_sets_the_forwarded_headers() -> None:
    nginx = nginx_directives()
    assert nginx["listen"] == [str(matrix.CONTAINER_PORT)]
    assert nginx["proxy_request_buffering"] == ["on"] and nginx["proxy_buffering"] == ["on"]
    assert nginx["client_header_timeout"] and nginx["client_body_timeout"], "a slow client is cut off in the end"
    headers = dict(value.split(maxsplit=1) for value in nginx["proxy_set_header"])
    # The first hop: the client's address, never what the client claims.
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Forwarded-Proto"] == "$scheme" and headers["X-Forwarded-Host"] == "$http_host"
    # Resolved per request, so a server restarted by a fault is found at its new address.
    assert nginx["resolver"][0].startswith("127.0.0.11") and nginx["proxy_pass"] == ["$lab_upstream"]


@pytest.mark.unit
def test_labbench_can_name_the_proxy_and_lists_it_among_the_choices() -> None:
    plan = options.plan_from(cli.settings(["--faults", "slow-clients", "--servers", "gunicorn-sync,proxy"]))
    assert plan.servers == ["gunicorn-sync", "proxy"]
    assert options.plan_from(cli.settings([])).servers == matrix.names(), "not in the default run"
    with pytest.raises(SystemExit):
        cli.settings(["--servers", "nginx"])


@pytest.mark.unit
def test_natively_the_proxy_is_unavailable_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """No nginx is started on the host: the proxy's cells get a reason, the servers beside it run."""
    started = []

    @contextlib.contextmanager
    def serve(server: matrix.Server, **_: object) -> Iterator[str]:
        started.append(server.name)
        yield f"http://127.0.0.1:1/{server.name}"

    monkeypatch.setattr(native, "serve", serve)
    with NativeTargets([matrix.get("gunicorn-sync"), matrix.get("proxy")]) as targets:
        assert "Docker only" in targets.startup_errors["proxy"]
        assert "proxy" not in targets.urls and "gunicorn-sync" in targets.urls
    assert started == ["upstream", "gunicorn-sync"]


# --- docs/deploy.md -----------------------------------------------------------------------


def shown_in(run: Path) -> str:
    """The sections of docs/deploy.md (from one ### heading to the next) that name ``run``."""
    return sections_naming(DEPLOY_MD.read_text(), run.name, level=3)


@pytest.mark.unit
@pytest.mark.parametrize("run", PROXY_RUNS, ids=lambda path: path.name)
def test_deploy_md_tables_are_the_report_s(run: Path) -> None:
    """Each run's table is labbench's rendering of its committed results.json, not typed in."""
    rendered = md_tables("\n".join(fault_sections(Results.from_json(run.read_text(), run.name))))
    shown = md_tables(shown_in(run))
    assert rendered
    for heading, rows in rendered.items():
        assert shown.get(heading) == rows, f"docs/deploy.md's table {heading!r} differs from {run.name}'s"


@pytest.mark.unit
def test_deploy_md_shows_a_run_with_the_proxy_s_settings_of_today() -> None:
    """The slow-clients section shows a run made after the proxy's last change
    of settings (tcp_tw_reuse), and what it shows holds: the server alone
    starved every time, the proxy in front of it never did."""
    latest = json.loads(PROXY_RUNS[-1].read_text())
    assert PROXY_RUNS[-1].name in shown_in(PROXY_RUNS[-1]).split("### A connection per request")[0]
    kept = {(cell["server"], cell["repetition"]): cell["kept"] for cell in latest["faults"]}
    assert {server for server, _ in kept} == {"gunicorn-sync", "proxy"}
    assert all(value < 0.1 for (server, _), value in kept.items() if server == "gunicorn-sync")
    assert all(value > 0.5 for (server, _), value in kept.items() if server == "proxy")
    assert PROXY["sysctls"] == {"net.ipv4.tcp_tw_reuse": 1}


def processes(server: matrix.Server) -> int:
    """A master and its workers (the first factor of lab.slots) where the model has processes, else one."""
    factors = server.slot_factors
    return factors[0] + 1 if server.model.startswith("processes") and factors else 1


@pytest.mark.unit
def test_deploy_md_memory_per_process_is_the_full_run_s() -> None:
    """Each row: the server's largest memory peak in the committed full run,
    and that divided by the processes its labels give it."""
    peaks: dict[str, int] = {}
    for cell in json.loads(FULL_RUN.read_text())["cells"]:
        peaks[cell["server"]] = max(peaks.get(cell["server"], 0), cell["server_memory_peak_bytes"] or 0)
    rows = md_tables(DEPLOY_MD.read_text())["Memory per process"]
    assert len(rows) == len(matrix.names()) - 1, "every server but flask-dev-processes"
    for row in rows:
        server = matrix.get(row["Server"].strip("`"))
        peak = peaks[server.name] / 2**20
        count = processes(server)
        assert (row["Model"], int(row["Processes"])) == (server.model, count), row
        assert (row["Peak MiB"], row["MiB per process"]) == (f"{peak:.1f}", f"{peak / count:.1f}"), row


def shell_commands(text: str) -> list[list[str]]:
    """Every command of the ```sh blocks, as words (comments, variables and `&&` chains split off)."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S):
        for line in block.splitlines():
            for command in line.split("#", 1)[0].split("&&"):
                words = [word for word in shlex.split(command) if not re.match(r"[A-Z_]+=", word)]
                if words:
                    commands.append(words)
    return commands


@pytest.mark.unit
def test_deploy_md_commands_name_what_exists() -> None:
    """Each `docker compose` command names services and profiles of compose.yaml,
    and each labbench command line parses."""
    commands = shell_commands(DEPLOY_MD.read_text())
    assert commands
    services = COMPOSE["services"]
    profiles = {profile for service in services.values() for profile in service.get("profiles", [])}
    for words in commands:
        if words[:2] == ["docker", "compose"]:
            args = words[2:]
            while args and args[0] == "--profile":
                assert args[1] in profiles, words
                args = args[2:]
            assert args[0] in {"up", "run", "down", "logs", "stop", "build", "exec"}, words
            if args[0] in {"run", "exec"}:
                # The first word that is no flag is the service; the rest is its command.
                service = next(word for word in args[1:] if not word.startswith("-"))
                assert service in services, words
                if args[0] == "run" and service == "bench":
                    cli.settings(args[args.index(service) + 1 :])  # exits on a bad flag
            else:
                named = [word for word in args[1:] if not word.startswith("-") and not word.isdigit()]
                assert set(named) <= set(services), words
        elif words[0] in {".venv/bin/labbench", "labbench"}:
            cli.settings(words[1:])
        else:
            assert words[0] in {"curl", "export", "unset"}, f"a command the test does not know: {words}"


# --- in Docker --------------------------------------------------------------------------

#: Clients that stall gunicorn-sync's 4 workers twice over.
SLOW_CLIENTS = 8


@contextlib.contextmanager
def slow_clients(port: int) -> Iterator[None]:
    """SLOW_CLIENTS connections that send the start of a request and then
    nothing more while the block runs."""
    with contextlib.ExitStack() as stack:
        for _ in range(SLOW_CLIENTS):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\nX-Slow: ")
        time.sleep(1)  # long enough for every worker to take one and wait on it
        yield


def hello(port: int, timeout: float = 5) -> str:
    """What ``/`` answers on ``port``: its Server header and body, or the error."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as reply:
            return f"{reply.headers.get('Server', '')}: {reply.read().decode()}"
    except (OSError, urllib.error.URLError) as error:
        return repr(error)


@pytest.fixture(scope="module")
def proxy_up(lab_stack: Stack) -> Iterator[matrix.Server]:
    """The proxy under its profile, in front of the test stack's gunicorn-sync."""
    compose("--profile", "proxy", "up", "--detach", "--build", "--wait", "--wait-timeout", "120", "proxy")
    try:
        yield matrix.get("proxy")
    finally:
        compose("--profile", "proxy", "rm", "--stop", "--force", "proxy", check=False)


@pytest.mark.docker
def test_the_proxy_serves_the_app_through_nginx(proxy_up: matrix.Server) -> None:
    assert hello(proxy_up.published_port) == "nginx: Hello, World!"
    assert hello(matrix.get("gunicorn-sync").published_port) == "gunicorn: Hello, World!", "nginx is not the app"


@pytest.mark.docker
def test_slow_clients_stall_gunicorn_sync_but_not_the_proxy_in_front_of_it(proxy_up: matrix.Server) -> None:
    direct = matrix.get(proxy_up.upstream or "").published_port
    with slow_clients(proxy_up.published_port):
        # nginx holds the slow clients itself: every request still reaches a free worker.
        answers = [hello(proxy_up.published_port) for _ in range(20)]
        assert answers == ["nginx: Hello, World!"] * 20
    with slow_clients(direct):
        # The same clients straight at gunicorn-sync: each of its 4 workers waits on one.
        assert "timed out" in hello(direct, timeout=3)
    deadline = time.monotonic() + 30
    while hello(direct) != "gunicorn: Hello, World!" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert hello(direct) == "gunicorn: Hello, World!", "gunicorn-sync serves again once the slow clients are gone"

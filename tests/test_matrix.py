"""compose.yaml, the single source of the server matrix, stays coherent,
and the README tells the truth about it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from labcore import matrix, protocol
from tests.support import ROOT
from tests.support.docker import default_port

pytestmark = pytest.mark.unit

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVERS = matrix.load()
README = (ROOT / "README.md").read_text()
VARIABLE = re.compile(r"\$\{(LAB_[A-Z0-9_]+):-([^}]*)\}")

THE_TEN = [
    "flask-dev",
    "flask-dev-single",
    "flask-dev-processes",
    "gunicorn-sync",
    "gunicorn-gthread",
    "gunicorn-gevent",
    "gevent-pywsgi",
    "eventlet-wsgi",
    "uwsgi-threads",
    "uwsgi-gevent",
]


def test_the_ten_servers_the_docs_promise_are_there() -> None:
    names = [s.name for s in SERVERS]
    assert [name for name in names if name in THE_TEN] == THE_TEN


def test_ports_are_distinct() -> None:
    ports = [s.published_port for s in SERVERS]
    assert len(set(ports)) == len(ports)


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_slots_label_uses_the_commands_own_knobs(server: matrix.Server) -> None:
    """lab.slots repeats the command's variables; their defaults must agree."""
    in_command = dict(VARIABLE.findall(server.command))
    for name, default in VARIABLE.findall(server.slots_expression):
        assert in_command.get(name) == default, f"{server.name}: lab.slots has ${{{name}:-{default}}}"
    assert server.model in {"single", "threads", "processes", "processes+threads", "greenlets", "processes+greenlets"}


def test_bench_sees_every_knob_the_labels_use() -> None:
    """The runner reads lab.slots and lab.recycle inside its container: Compose
    must hand it each knob they use, with the same default."""
    environment = yaml.safe_load(matrix.compose_file().read_text())["services"]["bench"]["environment"]
    for server in SERVERS:
        for expression in (server.slots_expression, server.recycle_expression or ""):
            for name, default in VARIABLE.findall(expression):
                assert environment.get(name) == f"${{{name}:-{default}}}", f"bench lacks {name} (from {server.name})"


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_recycle_label_is_the_commands_max_requests(server: matrix.Server) -> None:
    """lab.recycle exactly where the command sets --max-requests, with its knob."""
    flag = re.search(r"--max-requests (\S+)", server.command)
    if flag is None:
        assert server.recycle_expression is None, f"{server.name} cannot recycle workers but has lab.recycle"
        assert server.max_requests is None
    else:
        assert server.recycle_expression == flag.group(1)
        assert server.max_requests is not None


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s.name)
def test_readme_lists_each_server_with_its_port(server: matrix.Server) -> None:
    assert re.search(
        rf"^\| `{re.escape(server.name)}` \| {default_port(server.published_port)} \| {re.escape(server.model)} \|",
        README,
        re.M,
    )


def test_readme_documents_every_knob() -> None:
    text = (ROOT / "compose.yaml").read_text()
    knobs = {name for name, _ in VARIABLE.findall(text)} - {"LAB_LISTEN_HOST", "LAB_LISTEN_PORT"}
    for name in knobs:
        default = dict(VARIABLE.findall(text))[name]
        assert f"| `{name}` | `{default}` |" in README, f"README's knob table lacks {name} (default {default})"


def test_every_server_shares_one_image_and_limits() -> None:
    services = COMPOSE["services"]
    images = {services[s.name]["image"] for s in SERVERS}
    assert images == {services["upstream"]["image"]}
    limits = {(services[s.name]["cpus"], services[s.name]["mem_limit"]) for s in SERVERS}
    assert len(limits) == 1


def test_every_dockerfile_takes_the_base_image_as_an_argument() -> None:
    for dockerfile in ROOT.glob("services/*/Dockerfile"):
        text = dockerfile.read_text()
        assert "ARG PYTHON_IMAGE=python:3.12-slim" in text, dockerfile
        assert "# syntax=" not in text, f"{dockerfile}: a syntax line makes BuildKit pull an image"


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert (
        matrix.interpolate("${SET:-d} ${EMPTY:-d} ${UNSET:-d} ${EMPTY-d} ${UNSET-d} $$ ${SET}", env) == "x d d  d $ x"
    )


def test_knobs_change_the_native_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_GUNICORN_SYNC_WORKERS", "7")
    server = matrix.get("gunicorn-sync")
    argv = server.argv("127.0.0.1", 9999)
    assert argv[argv.index("--workers") + 1] == "7"
    assert "127.0.0.1:9999" in argv
    assert server.slots == 7


def test_a_compose_file_without_servers_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "compose.yaml"
    empty.write_text("services:\n  web:\n    image: nginx\n")
    with pytest.raises(matrix.MatrixError, match=re.escape("defines no service labelled 'lab.role: server'")):
        matrix.load(empty)
    with pytest.raises(matrix.MatrixError, match="cannot read"):
        matrix.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("services: [unclosed")
    with pytest.raises(matrix.MatrixError, match="not valid YAML"):
        matrix.load(tmp_path / "bad.yaml")


def test_every_published_port_has_a_knob() -> None:
    """A user moves a taken port with its knob, and the tests' own stack moves
    every port the same way (tests/support/docker.py), so none may be fixed."""
    for name, service in COMPOSE["services"].items():
        for mapping in service.get("ports", []):
            knob = re.search(r":\$\{LAB_\w+_PORT:-\d+\}:\d+$", str(mapping))
            assert knob, f"{name} publishes {mapping} without a knob"


#: The containers that read the user's scenarios file (labcore.userscenarios): compose.yaml's load generators.
LOAD_GENERATORS = [
    name for name, spec in COMPOSE["services"].items() if spec.get("labels", {}).get("lab.role") == "load-generator"
]


def test_locust_and_bench_are_load_generators() -> None:
    assert {"locust", "bench"} <= set(LOAD_GENERATORS)


@pytest.mark.parametrize("service", LOAD_GENERATORS)
def test_the_load_generators_see_the_apps_folder_read_only_where_labcore_looks(service: str) -> None:
    """LAB_APP_DIR's folder (the app image's default when unset) mounted at
    protocol.APP_MOUNT, and LAB_APP_DIR pointing there only when it is set."""
    spec = COMPOSE["services"][service]
    default_app_dir = COMPOSE["x-app-build"]["args"]["APP_DIR"]
    mount = {"type": "bind", "source": f"./{default_app_dir}", "target": protocol.APP_MOUNT, "read_only": True}
    assert [{key: volume.get(key) for key in mount} for volume in spec["volumes"] if isinstance(volume, dict)] == [
        mount
    ]
    assert spec["environment"][protocol.APP_DIR_ENV] == f"${{{protocol.APP_DIR_ENV}:+{protocol.APP_MOUNT}}}"
    assert spec["environment"][protocol.APP_SCENARIOS_ENV] == f"${{{protocol.APP_SCENARIOS_ENV}-}}"

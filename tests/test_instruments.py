"""The lab's instruments around any app (flasklab.instruments) and the loading
of LAB_APP_MODULE (flasklab.appload): what every server serves."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask

from flasklab import appload, instruments, refusal
from flasklab.instruments import Instruments
from labcore import defaults, protocol, stackcheck
from serve import gunicorn_conf
from tests.support import ROOT

pytestmark = pytest.mark.unit


class Body:
    """A response iterable that records whether the server closed it."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed += 1


class PlainApp:
    """A WSGI app that is no Flask app, and remembers what reached it."""

    STATUS = "299 Odd But Fine"
    HEADERS: ClassVar = [("X-Twice", "1"), ("x-twice", "2"), ("Content-Type", "application/x-odd; charset=latin-1")]
    CHUNKS: ClassVar = [b"\x00\xff", b"", "caf\u00e9".encode("latin-1"), b"\r\n\r\nHTTP/1.1 200 OK"]

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.bodies: list[Body] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Body:
        self.seen.append(environ)
        start_response(self.STATUS, list(self.HEADERS), None)
        self.bodies.append(Body(list(self.CHUNKS)))
        return self.bodies[-1]


def call(app: Any, path: str, method: str = "GET") -> tuple[list[Any], Any, dict[str, Any]]:
    started: list[Any] = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.multithread": False, "wsgi.multiprocess": False}
    body = app(environ, lambda *args: started.append(args))
    return started, body, environ


@pytest.fixture()
def plain() -> PlainApp:
    return PlainApp()


def test_everything_else_passes_through_untouched(plain: PlainApp) -> None:
    wrapped = Instruments(plain, module="plain:app", environ={})
    for path in ("/", "/anything/at/all", "/_labx", "/_la", "/x/_lab/usage", ""):
        started, body, environ = call(wrapped, path, "PATCH")
        assert plain.seen[-1] is environ, "the app gets the server's own environ"
        assert started == [(PlainApp.STATUS, PlainApp.HEADERS, None)], "status and headers exactly as the app sent them"
        assert body is plain.bodies[-1], "the app's own iterable, so its close() and file wrappers stay the server's"
        assert b"".join(body) == b"".join(PlainApp.CHUNKS)
        body.close()
        assert body.closed == 1


def test_the_lab_prefix_never_reaches_the_app(plain: PlainApp) -> None:
    wrapped = Instruments(plain, module="plain:app", environ={})
    for path in (protocol.USAGE, protocol.WHOAMI, protocol.PACKAGES, protocol.PREFIX, protocol.PREFIX + "/nope"):
        call(wrapped, path)
    assert plain.seen == []


def test_the_instruments_answer_for_any_app(plain: PlainApp) -> None:
    client = appload.wrap(plain, "plain:app").test_client()
    who = client.get(protocol.WHOAMI).json
    assert who["app"] == {"module": "plain:app", "refused": None, "data": None}
    assert who["in_flight"] == 1 and who["model"] == "single" and who["server"]["pid"] > 0
    assert client.get(protocol.USAGE).json["cpu_seconds"] > 0
    assert "Flask" in client.get(protocol.PACKAGES).json
    reply = client.get("/")
    assert (reply.status, reply.data) == (PlainApp.STATUS, b"".join(PlainApp.CHUNKS))
    assert reply.headers.getlist("X-Twice") == ["1", "2"]
    reply.close()
    assert plain.bodies[-1].closed == 1, "close() reaches the app's iterable through the carrier"


def test_a_flask_app_keeps_its_own_object_and_answers() -> None:
    app = Flask("own")
    app.get("/")(lambda: "own")
    assert appload.wrap(app, "own:app") is app, "flask run needs the Flask object itself"
    client = app.test_client()
    assert client.get("/").data == b"own"
    assert client.get(protocol.WHOAMI).json["app"]["module"] == "own:app"


def test_in_flight_is_back_to_zero_after_an_app_raises() -> None:
    def boom(environ: Any, start_response: Any) -> Any:
        raise RuntimeError("boom")

    wrapped = Instruments(boom, module="boom:app", environ={})
    with pytest.raises(RuntimeError):
        call(wrapped, "/")
    _, body, _ = call(wrapped, protocol.WHOAMI)
    assert json.loads(b"".join(body))["in_flight"] == 1


def test_unknown_paths_and_wrong_methods_under_the_prefix(plain: PlainApp) -> None:
    client = appload.wrap(plain, "plain:app").test_client()
    missing = client.get(protocol.PREFIX + "/nope")
    assert missing.status_code == 404 and missing.json["path"] == protocol.PREFIX + "/nope"
    wrong = client.post(protocol.USAGE)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD"
    assert client.head(protocol.WHOAMI).data == b""


def test_fault_endpoints_only_when_enabled(plain: PlainApp) -> None:
    off = Instruments(plain, module="plain:app", environ={})
    started, _, _ = call(off, protocol.FAULT_CRASH, "POST")
    assert started[0][0].startswith("404"), "without LAB_FAULT_ENDPOINTS=1 no request can kill the server"
    on = Instruments(plain, module="plain:app", environ={protocol.FAULT_ENDPOINTS_ENV: "1"})
    started, _, _ = call(on, protocol.FAULT_CRASH, "GET")
    assert started[0][0].startswith("405"), "a GET never crashes anything"
    assert plain.seen == []


def test_the_data_folder_is_reported(plain: PlainApp) -> None:
    wrapped = Instruments(plain, module="plain:app", environ={protocol.APP_DATA_ENV: "/data"})
    _, body, _ = call(wrapped, protocol.WHOAMI)
    assert json.loads(b"".join(body))["app"]["data"] == "/data"


# --- loading LAB_APP_MODULE ----------------------------------------------------------


@pytest.fixture()
def ownapp() -> None:
    """tests/fixtures/ownapp, which tests/run installs into the test virtualenv."""
    # Missing is a failure, not a skip: bash tests/run installs it.
    importlib.import_module("ownapp")


def test_a_factory_with_arguments_and_a_name(ownapp: None) -> None:
    app = appload.load("ownapp:create_app('hi there')")
    assert isinstance(app, Flask) and b"hi there" in app.test_client().get("/").data
    assert appload.load("flasklab.wsgi:app") is not None
    assert callable(appload.load("ownapp:create_app"))


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        ("no_such_module_xyz:app", "no module named 'no_such_module_xyz': is the app in LAB_APP_DIR"),
        ("ownapp:nothing", "module 'ownapp' has no attribute 'nothing'"),
        ("ownapp", "module 'ownapp' has no 'app' or 'application'"),
        (
            "ownapp:broken_factory()",
            "the factory 'ownapp:broken_factory()' raised RuntimeError: no database configured",
        ),
        ("ownapp:__name__", "'ownapp:__name__' is a str, not a WSGI app"),
        ("ownapp:create_app(open('x'))", "the factory's arguments in"),
        ("own app:x", "LAB_APP_MODULE must be module:name or module:factory()"),
        ("ownapp:a.b", "LAB_APP_MODULE must be module:name or module:factory()"),
        ("ownapp:create_app(", "LAB_APP_MODULE must be module:name or module:factory()"),
        (":app", "LAB_APP_MODULE must be module:name or module:factory()"),
    ],
)
def test_an_app_that_cannot_load_is_one_clear_line(ownapp: None, spec: str, cause: str) -> None:
    with pytest.raises(appload.AppRefused) as refused:
        appload.load(spec)
    assert str(refused.value).startswith(cause)
    assert "\n" not in str(refused.value) and "Traceback" not in str(refused.value)


def test_an_import_error_inside_the_app_names_it_and_pip_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "needsold.py").write_text("import greenlet\nraise ImportError('greenlet 2 API wanted')\n")
    check = tmp_path / "pip-check"
    check.write_text("gevent 26.9.0 has requirement greenlet>=3.2.2, but you have greenlet 2.0.2.\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(stackcheck, "PIP_CHECK", check)
    with pytest.raises(appload.AppRefused) as refused:
        appload.load("needsold:app")
    assert str(refused.value) == (
        "importing 'needsold' raised ImportError: greenlet 2 API wanted; "
        "pip check: gevent 26.9.0 has requirement greenlet>=3.2.2, but you have greenlet 2.0.2."
    )


def test_a_refused_app_still_answers_the_lab(ownapp: None, capsys: pytest.CaptureFixture[str]) -> None:
    client = appload.serve("ownapp:broken_factory()").test_client()
    cause = "the factory 'ownapp:broken_factory()' raised RuntimeError: no database configured"
    who = client.get(protocol.WHOAMI)
    assert who.status_code == 200, "the healthcheck passes, so `up --wait` does"
    assert who.json["app"]["refused"] == cause
    elsewhere = client.get("/")
    assert elsewhere.status_code == 503 and elsewhere.json["message"].endswith(cause)
    assert elsewhere.json["message"].startswith(appload.program() + " cannot serve the app 'ownapp:broken_factory()'")
    logged = capsys.readouterr().err
    assert logged.count("\n") == 1 and cause in logged and "Traceback" not in logged


def test_the_default_is_the_labs_own_app() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    assert f"${{{protocol.APP_MODULE_ENV}:-{defaults.APP_MODULE}}}" in compose, "compose.yaml's default is labcore's"
    client = appload.serve("flasklab:create_app()").test_client()
    assert client.get("/").data == b"Hello, World!"
    assert client.get("/whoami").status_code == 404, "the instruments live under the prefix only"


# --- when a server's own stack cannot import beside the app ------------------------


def test_the_refusal_listens_where_the_server_would() -> None:
    assert refusal.address(["--host", "127.0.0.1", "--port", "8123", "--connections", "9"]) == ("127.0.0.1", 8123)
    assert refusal.address(["--bind", "0.0.0.0:8000", "--worker-class", "gevent", "x:app"]) == ("0.0.0.0", 8000)
    assert refusal.address([]) == ("0.0.0.0", 8000)


def test_gunicorn_config_spots_the_gevent_worker() -> None:
    assert gunicorn_conf.requested_worker_class(["gunicorn", "--worker-class", "gevent", "a:b"]) == "gevent"
    assert gunicorn_conf.requested_worker_class(["gunicorn", "-k", "gthread"]) == "gthread"
    assert gunicorn_conf.requested_worker_class(["gunicorn", "--worker-class=gevent"]) == "gevent"
    assert gunicorn_conf.requested_worker_class(["gunicorn", "a:b"]) is None


def test_a_stack_that_cannot_import_is_a_problem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(stackcheck, "PIP_CHECK", tmp_path / "absent")
    assert stackcheck.problem("gevent") is None, "gevent imports, and pip check found nothing"
    said = stackcheck.problem("no_such_stack_xyz", "xyz (a server)")
    assert (
        said
        == "xyz (a server) cannot be imported beside the app (ModuleNotFoundError: No module named 'no_such_stack_xyz')"
    )


def test_a_stack_pip_check_finds_short_of_a_requirement_is_a_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What the image records when an app pins greenlet<3: gevent imports, but is not what it was built for.
    check = tmp_path / "pip-check"
    check.write_text("gevent 26.9.0 has requirement greenlet>=3.2.2, but you have greenlet 2.0.2.\n")
    monkeypatch.setattr(stackcheck, "PIP_CHECK", check)
    assert stackcheck.problem("gevent") == (
        "gevent lacks what it requires beside the app's pins: "
        "gevent 26.9.0 has requirement greenlet>=3.2.2, but you have greenlet 2.0.2."
    )
    assert stackcheck.problem("json") is None, "another distribution's line is not this one's"


def test_instruments_json_is_compact(plain: PlainApp) -> None:
    started: list[Any] = []
    body = instruments.json_response(lambda *a: started.append(a), 200, {"b": 1, "a": [1]})
    assert body == [b'{"a":[1],"b":1}\n'] and ("Content-Length", "16") in started[0][1]


def test_labbench_skips_a_server_that_refused_the_app_with_the_cause(ownapp: None) -> None:
    import threading

    from werkzeug.serving import make_server

    from labbench.targets import REFUSED, Targets

    refused = make_server("127.0.0.1", 0, appload.serve("ownapp:broken_factory()"), threaded=True)
    serving = make_server("127.0.0.1", 0, appload.serve("ownapp:create_app()"), threaded=True)
    for server in (refused, serving):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        targets = Targets([])
        targets.urls = {name: f"http://127.0.0.1:{s.server_port}" for name, s in (("a", refused), ("b", serving))}
        targets.note_refusals()
    finally:
        refused.shutdown()
        serving.shutdown()
    assert targets.startup_errors == {
        "a": f"{REFUSED}: the factory 'ownapp:broken_factory()' raised RuntimeError: no database configured"
    }

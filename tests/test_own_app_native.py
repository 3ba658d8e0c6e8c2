"""Your own app on every server's real command, natively (docs/own-app.md).

The fixture (tests/fixtures/ownapp) is a project outside the lab's packages,
installed into the test virtualenv by tests/run, as a user installs theirs
natively. Then the servers that cannot import their own stack beside an
app: a stand-in ``gevent`` package in the server's working directory, which
Python finds before the installed one for ``python -m``, gunicorn and uWSGI,
and which fails to import, as gevent does when an app's pins downgrade greenlet.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from labbench import native
from labbench.appclient import AppClient
from labcore import matrix, protocol

pytestmark = pytest.mark.native

SERVERS = matrix.load()
MODULE = "ownapp:create_app()"
#: What the stand-in gevent raises on import.
BROKEN = "cannot import name 'getcurrent' from 'greenlet' (a stand-in for a conflict)"
#: The servers that import gevent themselves, before any app code.
GEVENT_SERVERS = {"gunicorn-gevent", "gevent-pywsgi", "uwsgi-gevent"}


def fetch(url: str, data: bytes | None = None) -> tuple[int, Message, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module", params=SERVERS, ids=[server.name for server in SERVERS])
def own(request: pytest.FixtureRequest, upstream_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("data")
    env = {protocol.APP_MODULE_ENV: MODULE, protocol.APP_DATA_ENV: str(data)}
    with native.serve(request.param, upstream_url=upstream_url, env=env) as url:
        yield url


def test_every_server_serves_your_app(own: str) -> None:
    status, headers, body = fetch(own + "/")
    assert (status, body) == (200, b"<html><body>Hello from ownapp</body></html>"), "the app, not the lab's"
    payload = bytes(range(256)) * 64
    status, headers, body = fetch(own + "/echo", payload)
    # Header names are case-insensitive: granian and uvicorn send them in lower case.
    assert (status, body, headers["X-Own"]) == (200, payload, "yes"), "bytes and headers through untouched"
    # Every worker reads and writes the same file: the count only grows.
    counts = [int(fetch(own + "/count")[2]) for _ in range(3)]
    assert counts[-1] >= 3, "state in LAB_APP_DATA outlives a request"


def test_the_instruments_answer_beside_your_app(own: str) -> None:
    client = AppClient(own)
    app = (client.whoami() or {})["app"]
    assert app["module"] == MODULE and app["refused"] is None and Path(app["data"]).is_dir()
    assert client.refused() is None
    assert (client.usage() or {})["cpu_seconds"] > 0
    assert client.census() is not None


@pytest.fixture(scope="module")
def broken_gevent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken-gevent")
    (folder / "gevent").mkdir()
    (folder / "gevent" / "__init__.py").write_text(f"raise ImportError({BROKEN!r})\n")
    return folder


@pytest.mark.parametrize("server", SERVERS, ids=[server.name for server in SERVERS])
def test_a_server_that_cannot_import_its_stack_says_so(
    server: matrix.Server, broken_gevent: Path, upstream_url: str
) -> None:
    env = {protocol.APP_MODULE_ENV: MODULE}
    with native.serve(server, upstream_url=upstream_url, env=env, cwd=broken_gevent) as url:
        cause = AppClient(url).refused()
        status, _, body = fetch(url + "/")
    if server.name in GEVENT_SERVERS:
        assert cause is not None and cause.startswith("gevent") and BROKEN in cause, cause
        assert status == 503 and BROKEN.encode() in body and b"Traceback" not in body
    else:
        assert cause is None and status == 200, "a server without gevent serves the app whatever gevent does"


@pytest.mark.parametrize("server", [matrix.get("gunicorn-sync"), matrix.get("uwsgi-threads")], ids=lambda s: s.name)
def test_a_factory_that_raises_is_refused_per_server(server: matrix.Server, upstream_url: str, tmp_path: Path) -> None:
    env = {protocol.APP_MODULE_ENV: "ownapp:broken_factory()"}
    log = tmp_path / "server.log"
    with log.open("w+") as out, native.serve(server, upstream_url=upstream_url, env=env, log=out) as url:
        cause = AppClient(url).refused()
        status, _, body = fetch(url + "/")
        out.seek(0)
        logged = out.read()
    assert cause == "the factory 'ownapp:broken_factory()' raised RuntimeError: no database configured"
    assert status == 503 and b"no database configured" in body
    assert "Traceback" not in logged and "cannot serve the app 'ownapp:broken_factory()'" in logged

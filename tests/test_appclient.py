"""labbench.appclient: the runner's one client for the app's instruments.

Reads go to the real app, served in this process on a loopback port; what a
dying or misbehaving server does (no answer, a cut connection, a body that is
not JSON) comes from tiny servers made for the purpose. The fault endpoints
are never called on the real app here: /_lab/fault/crash would kill this process.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from labbench.appclient import AppClient
from labbench.native import free_port
from labcore import protocol
from tests.support.inprocess import serve_app

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with serve_app() as url:
        yield url


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with ``reply`` (status, body), or cuts the connection
    when ``reply`` is None; notes each request as (method, path)."""

    seen: list[tuple[str, str]]
    reply: tuple[int, bytes] | None

    def handle_one(self) -> None:
        self.seen.append((self.command, self.path))
        if self.reply is None:
            # As a SIGKILLed worker does: the connection ends with no answer at all.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, body = self.reply
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = handle_one

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def tiny() -> Iterator[Callable[[tuple[int, bytes] | None], tuple[str, list[tuple[str, str]]]]]:
    """A factory: a loopback server that gives ``reply`` to everything; its URL and its request log."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(reply: tuple[int, bytes] | None) -> tuple[str, list[tuple[str, str]]]:
        seen: list[tuple[str, str]] = []
        handler = type("Handler", (Recorder,), {"seen": seen, "reply": reply})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def silent() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in held:
        connection.close()
    listener.close()


# --- against the app ----------------------------------------------------------------------


def test_usage_census_and_packages_from_the_app(app_url: str) -> None:
    client = AppClient(app_url)
    usage = client.usage()
    assert usage is not None and usage["cpu_seconds"] > 0 and "memory_limit_bytes" in usage
    census = client.census()
    assert census is not None and isinstance(census["pid"], int) and isinstance(census["workers"], list)
    assert (client.whoami() or {})["server"]["pid"] == census["pid"], "the census is /_lab/whoami's server"
    packages = client.packages()
    assert packages is not None and "Flask" in packages and all(isinstance(v, str) for v in packages.values())
    assert client.image_digest() is None, "outside the lab's images there is no digest"
    assert client.alive()


def test_reads_that_get_no_json_object_are_none(app_url: str) -> None:
    client = AppClient(app_url)
    assert client.get_json("/") is None, "Hello, World! is not JSON"
    assert client.get_json("/no-such-page") is None, "a 404"
    assert client.get_json("/json") == {"name": "John", "age": 30, "city": "New York"}


def test_a_workload_request_reports_its_status_and_time(app_url: str) -> None:
    outcome = AppClient(app_url).request("/io?ms=200")
    assert outcome.ok and outcome.result == "200" and 0.2 <= outcome.seconds < 5
    assert AppClient(app_url).request("/io?ms=abc").result == "400"


# --- paths and methods ------------------------------------------------------------------------


def test_each_instrument_asks_its_protocol_path(tiny) -> None:
    url, seen = tiny((200, b'{"server": {"pid": 1, "started": 0.0, "workers": []}}'))
    client = AppClient(url)
    client.usage()
    client.census()
    client.packages()
    assert client.crash() == "200"
    assert client.stop() == "200"
    assert seen == [
        ("GET", protocol.USAGE),
        ("GET", protocol.WHOAMI),
        ("GET", protocol.PACKAGES),
        ("POST", protocol.FAULT_CRASH),
        ("POST", protocol.FAULT_STOP),
    ]


def test_the_stop_answer_is_its_status(tiny) -> None:
    url, _ = tiny((202, b'{"stopping": 1}'))
    assert AppClient(url).stop() == "202"


def test_packages_must_be_names_and_versions(tiny) -> None:
    url, _ = tiny((200, json.dumps({"Flask": 3}).encode()))
    assert AppClient(url).packages() is None


# --- servers that are down or misbehave: None, or the error's name, never an exception ------------


def test_a_json_list_is_no_answer(tiny) -> None:
    url, _ = tiny((200, b"[1, 2, 3]"))
    client = AppClient(url)
    assert client.usage() is None and client.census() is None


def test_a_cut_connection_is_no_answer(tiny) -> None:
    url, _ = tiny(None)
    client = AppClient(url)
    assert client.usage() is None
    assert client.crash() == "RemoteDisconnected", "what /_lab/fault/crash gets: the worker dies mid-request"
    assert not client.alive()


def test_a_refused_connection_is_no_answer() -> None:
    client = AppClient(f"http://127.0.0.1:{free_port()}")
    assert client.usage() is None and client.census() is None and client.packages() is None
    assert not client.alive()
    assert client.stop() == "ConnectionRefusedError"


def test_a_server_that_never_answers_times_out(silent: str) -> None:
    client = AppClient(silent, timeout=0.5)
    start = time.monotonic()
    assert client.usage() is None
    assert client.request("/io?ms=1").result == "TimeoutError"
    assert time.monotonic() - start < 5, "each read gave up after its timeout"


def test_the_address_is_host_and_port() -> None:
    assert AppClient("http://gunicorn-sync:8000").address == ("gunicorn-sync", 8000)

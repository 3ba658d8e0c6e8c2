"""Malformed and half-written HTTP requests over raw sockets, to every real server.

Each server runs its real command from compose.yaml, natively on loopback
(no Docker) and, when an engine answers, in the Compose stack on its
published port. Every case sends bytes that a browser never would: broken
request lines and versions, oversized and invalid headers, contradictory
framing, NUL bytes, requests cut off or abandoned halfway.

The rule: a server refuses bad input with a 4xx or by closing the
connection, never with a 5xx or by keeping quiet, and then serves the next
good request. Where a server breaks the rule, the test asserts exactly what
it does instead (``DEVIATIONS``), so that a change shows up, and
docs/safety.md reports it. Every socket has a timeout: nothing here can hang.
"""

from __future__ import annotations

import re
import socket
import struct
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass

import pytest

from labbench import native
from labcore import matrix

SERVERS = matrix.load()

CONNECT_TIMEOUT = 5.0
#: How long a server may think about a bad request before it counts as silent.
READ_TIMEOUT = 3.0
#: A good request to a healthy server on loopback takes milliseconds.
GOOD_TIMEOUT = 2.0
#: How long the stalled-request tests watch a half-written request.
STALL_WATCH = 6.0


# --- the servers -----------------------------------------------------------


def parser_of(server: matrix.Server) -> str:
    """Whose HTTP parser reads the server's requests, from its command."""
    # `env NAME=value server ...` (granian's access-log switch) names the server after the assignments.
    words = server.command.split()
    while words and (words[0] == "env" or "=" in words[0]):
        words.pop(0)
    command = " ".join(words)
    if command.startswith("flask ") or "serve.devserver" in command:
        return "werkzeug"  # Werkzeug's dev server, on http.server
    for name in ("gunicorn", "uwsgi", "gevent_pywsgi", "eventlet_wsgi", "granian", "waitress"):
        if command.startswith(name) or f"serve.{name}" in command:
            return name.split("_")[0]
    if "serve.uvicorn_a2wsgi" in command:
        return "h11"  # uvicorn's parser when httptools is not installed, as here
    return "unknown"  # held to the strict rule until someone looks


@dataclass(frozen=True)
class Target:
    """A running server and where its socket is."""

    mode: str
    server: matrix.Server
    address: tuple[str, int]

    @property
    def parser(self) -> str:
        return parser_of(self.server)


TARGETS = [(mode, server) for mode in ("native", "docker") for server in SERVERS]


@pytest.fixture(
    scope="module",
    # Each parameter carries its kind (native or docker), so the lanes select exactly.
    params=[pytest.param(target, marks=getattr(pytest.mark, target[0])) for target in TARGETS],
    ids=[f"{mode}-{server.name}" for mode, server in TARGETS],
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    mode, server = request.param
    if mode == "docker":
        request.getfixturevalue("lab_stack")  # builds and starts the stack, or skips
        yield Target(mode, server, ("127.0.0.1", server.published_port))
        return
    with native.serve(server) as url:
        yield Target(mode, server, ("127.0.0.1", int(url.rsplit(":", 1)[1])))


# --- talking to them -------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What came back: ``kind`` is one of

    * ``status``: a well-formed HTTP/1.x status line (``code`` is its status);
    * ``bare``: bytes without a status line, as in an HTTP/0.9 reply (``code``
      from http.server's error page, or 200 for the app's own body);
    * ``echo``: a status line with some other version in it (``code`` its status);
    * ``closed``: the connection ended (EOF or reset) without a byte;
    * ``silent``: nothing within READ_TIMEOUT, the connection still open.
    """

    kind: str
    code: int | None
    head: bytes

    @property
    def label(self) -> str:
        return self.kind if self.code is None else f"{self.kind} {self.code}"


def classify(data: bytes, ended: bool) -> Reply:
    if not data:
        return Reply("closed" if ended else "silent", None, b"")
    first_line = data.split(b"\n", 1)[0]
    if status := re.match(rb"HTTP/1\.[01] (\d{3})\b", first_line):
        return Reply("status", int(status[1]), data[:200])
    if status := re.search(rb" (\d{3}) [A-Za-z]", first_line):
        return Reply("echo", int(status[1]), data[:200])
    # http.server's error page names the code in its body.
    error = re.search(rb"Error code: (\d{3})", data)
    code = int(error[1]) if error else 200 if b"Hello, World!" in data else None
    return Reply("bare", code, data[:200])


def read_reply(sock: socket.socket, timeout: float = READ_TIMEOUT) -> Reply:
    """Read until the reply's head is complete, the server closes, or ``timeout``."""
    data, ended = b"", False
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data and (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except OSError:  # reset: the server threw the connection away
            ended = True
            break
        if not chunk:
            ended = True
            break
        data += chunk
    return classify(data, ended)


def connect(target: Target) -> socket.socket:
    return socket.create_connection(target.address, timeout=CONNECT_TIMEOUT)


def send(sock: socket.socket, payload: bytes, piece: int = 0) -> None:
    """Send ``payload`` at once, or in pieces of ``piece`` bytes with a pause between them."""
    # The server may close before the payload ends; its reply is still read.
    with suppress(OSError):
        if not piece:
            sock.sendall(payload)
            return
        for start in range(0, len(payload), piece):
            sock.sendall(payload[start : start + piece])
            time.sleep(PIECE_PAUSE)


def exchange(target: Target, payload: bytes, *, end_input: bool = False, piece: int = 0) -> Reply:
    """Send ``payload`` on a fresh connection (then EOF if ``end_input``) and read the reply."""
    with connect(target) as sock:
        send(sock, payload, piece)
        if end_input:
            with suppress(OSError):  # already closed by the server
                sock.shutdown(socket.SHUT_WR)
        return read_reply(sock)


def good_request(target: Target, timeout: float = GOOD_TIMEOUT) -> str:
    """GET / on a new connection: "ok", or what went wrong."""
    host, port = target.address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=timeout) as reply:
            body = reply.read()
    except OSError as error:
        return repr(error)
    return "ok" if reply.status == 200 and body == b"Hello, World!" else f"{reply.status} {body[:80]!r}"


def assert_healthy(target: Target) -> None:
    """The server serves a good request, allowing a moment for a worker to come back."""
    outcome = good_request(target, timeout=5)
    for _ in range(10):
        if outcome == "ok":
            return
        time.sleep(0.5)
        outcome = good_request(target, timeout=5)
    pytest.fail(f"{target.server.name} ({target.mode}) no longer serves GET /: {outcome}")


# --- the cases -------------------------------------------------------------------

HOST = b"Host: lab\r\n"
#: Long heads go in pieces of a TCP window's size, far apart enough for each to be its own read.
LONG_HEAD_PIECE = 16384
PIECE_PAUSE = 0.05


def request(line: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    return line + b"\r\n" + HOST + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


@dataclass(frozen=True)
class Case:
    name: str
    payload: bytes
    #: "malformed": the head is invalid, so a conforming server refuses it (4xx or close);
    #: "body": the head is valid and only the body is wrong, which the app never reads,
    #: so serving it is right too; "lenient": old or loose, but not broken.
    kind: str = "malformed"
    #: Send EOF after the payload, as a client that gives up writing does.
    end_input: bool = False
    #: Send the payload in pieces of this many bytes (0: at once). A long head
    #: crosses a real network in many segments, so the server reads it in
    #: several reads: h11 refuses a head still incomplete after 16 KiB, but
    #: serves the same head when one read brings it whole, which on loopback
    #: or Docker's proxy happens only sometimes.
    piece: int = 0


CASES = [
    # The request line.
    Case("crlf-only", b"\r\n\r\n", end_input=True),
    Case("garbage-line", b"GARBAGE\r\n\r\n"),
    Case("method-only", b"GET\r\n\r\n"),
    Case("extra-token", request(b"GET / HTTP/1.1 extra")),
    # An HTTPS client on the plain port: it sends its hello, waits for the
    # server's, and gives up. (Without the EOF every server waits for a line end.)
    Case(
        "tls-client-hello", bytes.fromhex("160301") + struct.pack(">H", 200) + b"\x01" + b"\x00" * 199, end_input=True
    ),
    Case("nul-in-path", request(b"GET /\x00 HTTP/1.1")),
    Case("uri-64k", request(b"GET /" + b"a" * 65536 + b" HTTP/1.1"), piece=LONG_HEAD_PIECE),
    # The version.
    Case("version-9.9", request(b"GET / HTTP/9.9")),
    Case("version-2.0", request(b"GET / HTTP/2.0")),
    Case("version-1.x", request(b"GET / HTTP/1.x")),
    Case("version-foo", request(b"GET / FOO/1.1")),
    Case("version-lowercase", request(b"GET / http/1.1")),
    Case("version-0.9-token", request(b"GET / HTTP/0.9")),
    # Headers.
    Case("header-line-64k", request(b"GET / HTTP/1.1", b"X-Big: " + b"a" * 65536), piece=LONG_HEAD_PIECE),
    Case("headers-1000", request(b"GET / HTTP/1.1", *[b"X-H%d: v" % i for i in range(1000)])),
    Case("nul-in-header-value", request(b"GET / HTTP/1.1", b"X-A: a\x00b")),
    Case("nul-in-header-name", request(b"GET / HTTP/1.1", b"X\x00A: b")),
    Case("header-without-colon", request(b"GET / HTTP/1.1", b"NoColonHere")),
    Case("space-before-colon", request(b"GET / HTTP/1.1", b"X-A : b")),
    Case("obsolete-line-folding", request(b"GET / HTTP/1.1", b"X-A: b", b" c")),
    # Framing in the head. GETs the app answers, so what is checked is the server's parser.
    Case("content-length-letters", request(b"GET / HTTP/1.1", b"Content-Length: abc")),
    Case("content-length-negative", request(b"GET / HTTP/1.1", b"Content-Length: -1")),
    Case("content-length-twice", request(b"GET / HTTP/1.1", b"Content-Length: 1", b"Content-Length: 2", body=b"ab")),
    Case(
        "content-length-and-chunked",
        request(b"GET / HTTP/1.1", b"Content-Length: 4", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    ),
    Case("transfer-encoding-unknown", request(b"GET / HTTP/1.1", b"Transfer-Encoding: gzip, foo")),
    # Cut off: the client stops writing halfway and waits for an answer.
    Case("cut-in-request-line", b"GET / HT", end_input=True),
    Case("cut-in-headers", b"GET / HTTP/1.1\r\n" + HOST + b"X-A: b", end_input=True),
    # Bodies the app never reads.
    Case("content-length-huge", request(b"GET / HTTP/1.1", b"Content-Length: 99999999999999999999999"), kind="body"),
    Case(
        "chunk-size-not-hex",
        request(b"GET / HTTP/1.1", b"Transfer-Encoding: chunked", body=b"zz\r\nab\r\n0\r\n\r\n"),
        kind="body",
    ),
    Case("cut-in-body", request(b"GET / HTTP/1.1", b"Content-Length: 100", body=b"abc"), kind="body", end_input=True),
    # Old or loose, but not broken.
    Case("http-0.9", b"GET /\r\n\r\n", kind="lenient"),
    Case("bare-lf", b"GET / HTTP/1.1\nHost: lab\n\n", kind="lenient"),
    Case("absolute-uri", request(b"GET http://elsewhere.example/ HTTP/1.1"), kind="lenient"),
    Case("no-host", b"GET / HTTP/1.1\r\n\r\n", kind="lenient"),
]

REFUSED = r"status 4\d\d|closed"
# http.server, under Werkzeug's dev server and eventlet, answers a request
# line it cannot parse in HTTP/0.9 style: its error page without a status line.
REFUSED_BARE = r"status 4\d\d|bare 4\d\d|closed"
ANSWERED = r"(status|bare|echo) [1-4]\d\d|closed"

#: Invalid heads that a server passes to the app, which serves them: the
#: findings of these tests, reported in docs/safety.md. gunicorn refuses them all.
SERVED_ANYWAY: dict[str, set[str]] = {
    "version-0.9-token": {"gevent", "eventlet", "waitress", "h11"},
    # Any HTTP/x.y is read as a version the server speaks: Waitress answers in HTTP/1.0.
    "version-9.9": {"waitress", "h11"},
    "version-2.0": {"waitress", "h11"},
    # No limit below 64 KiB on a header line (Waitress: 256 KiB for the whole head).
    "header-line-64k": {"granian", "waitress"},
    "headers-1000": {"waitress", "h11"},
    "nul-in-header-value": {"werkzeug", "gevent", "eventlet", "uwsgi"},
    "nul-in-header-name": {"werkzeug", "gevent", "eventlet", "uwsgi"},
    "header-without-colon": {"werkzeug", "gevent", "eventlet"},
    "space-before-colon": {"werkzeug", "gevent", "eventlet", "uwsgi"},
    "obsolete-line-folding": {"werkzeug", "gevent", "eventlet", "uwsgi", "waitress", "h11"},
    "content-length-letters": {"werkzeug", "uwsgi"},
    "content-length-negative": {"werkzeug", "uwsgi"},
    "content-length-twice": {"werkzeug", "gevent", "eventlet", "uwsgi"},
    "content-length-and-chunked": {"werkzeug", "gevent", "uwsgi", "granian", "waitress", "h11"},
    "transfer-encoding-unknown": {"werkzeug", "gevent", "eventlet", "uwsgi"},
    # EOF taken for the end of the head.
    "cut-in-headers": {"werkzeug", "gevent", "eventlet"},
}
#: Any other reply outside the rule, exactly: (parser, case) -> reply.
DEVIATIONS: dict[tuple[str, str], str] = {
    # Unsupported versions: http.server answers 505 (a 5xx), as its error page alone.
    ("werkzeug", "version-9.9"): "bare 505",
    ("werkzeug", "version-2.0"): "bare 505",
    ("eventlet", "version-9.9"): "bare 505",
    ("eventlet", "version-2.0"): "bare 505",
    # ... and a request that says HTTP/0.9 the HTTP/0.9 way: the body alone.
    ("werkzeug", "version-0.9-token"): "bare 200",
    # uWSGI serves any protocol token and echoes it in its status line.
    ("uwsgi", "extra-token"): "echo 200",
    ("uwsgi", "version-9.9"): "echo 200",
    ("uwsgi", "version-2.0"): "echo 200",
    ("uwsgi", "version-1.x"): "echo 200",
    ("uwsgi", "version-foo"): "echo 200",
    ("uwsgi", "version-lowercase"): "echo 200",
    ("uwsgi", "version-0.9-token"): "echo 200",
    # uWSGI waits for CRLF CRLF: a head ended by bare LFs never ends.
    ("uwsgi", "bare-lf"): "silent",
    # gunicorn: an unknown transfer coding is 501 Not Implemented (a 5xx, as RFC 9112 §6.1 asks).
    ("gunicorn", "transfer-encoding-unknown"): "status 501",
    ("waitress", "transfer-encoding-unknown"): "status 501",
    # Waitress, like uWSGI, waits for CRLF CRLF.
    ("waitress", "bare-lf"): "silent",
}


def expected(parser: str, case: Case) -> str:
    """A regular expression for the reply ``parser`` gives to ``case``."""
    if (parser, case.name) in DEVIATIONS:
        return re.escape(DEVIATIONS[parser, case.name])
    if parser in SERVED_ANYWAY.get(case.name, ()):
        return "status 200"
    if case.kind != "malformed":
        return ANSWERED
    return REFUSED_BARE if parser in ("werkzeug", "eventlet") else REFUSED


@pytest.mark.unit
def test_every_server_has_a_known_parser() -> None:
    """The findings are per parser: a server whose command the lookup cannot
    read would be held to the strict rule and fail for the wrong reason."""
    assert {server.name: parser_of(server) for server in matrix.load() if parser_of(server) == "unknown"} == {}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_request_is_refused_and_the_server_carries_on(target: Target, case: Case) -> None:
    reply = exchange(target, case.payload, end_input=case.end_input, piece=case.piece)
    where = f"{target.server.name} ({target.mode}, {target.parser}) to {case.name}"
    assert re.fullmatch(expected(target.parser, case), reply.label), f"{where}: {reply.label} {reply.head[:120]!r}"
    assert_healthy(target)


# --- clients that give up ------------------------------------------------------------


def abandon(target: Target, payload: bytes, *, reset: bool) -> None:
    """Send ``payload`` and go away without reading: a FIN, or a RST if ``reset``."""
    with connect(target) as sock:
        send(sock, payload)
        if reset:
            # SO_LINGER 0: close() sends a reset instead of a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


ABANDONED = {
    "connect-only": b"",
    "in-request-line": b"GET / HT",
    "in-headers": b"GET / HTTP/1.1\r\n" + HOST,
    "in-body": request(b"POST / HTTP/1.1", b"Content-Length: 100", body=b"abc"),
    # The server is still working on it when the client leaves.
    "before-the-reply": request(b"GET /io?ms=300 HTTP/1.1"),
}


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("where", list(ABANDONED))
def test_abandoned_request_leaves_the_server_healthy(target: Target, where: str, reset: bool) -> None:
    abandon(target, ABANDONED[where], reset=reset)
    if where == "before-the-reply":
        time.sleep(0.5)  # let the server write its reply to the dead connection
    assert_healthy(target)


# --- half-written requests that stay open --------------------------------------------------

STALL = b"GET / HTTP/1.1\r\n" + HOST  # the head, never finished
#: Servers that close a half-written request within STALL_WATCH, and why.
CLOSES_STALLED = {
    "gunicorn-gevent": "async workers read the request head under --keep-alive (2 s)",
    "uwsgi-threads": "uWSGI's --socket-timeout (4 s) ends a read that waits",
}
#: Most stalled connections the exhaustion test opens.
MAX_STALLED = 16
#: Bounded servers that read request heads outside their slots (an event
#: loop, or a runtime of their own), so stalled heads hold no thread.
READS_HEADS_OUTSIDE_SLOTS = {
    "granian": "its Rust runtime reads heads; a blocking thread gets only a whole request",
    "waitress": "its main thread's loop reads and buffers heads; a thread gets only a whole request",
}
#: Bounded servers whose workers accept more connections than they have
#: threads and queue them: which worker a stalled connection, or the good
#: request, lands on is up to the kernel, so whether the good request waits
#: behind stalled ones is chance. Only their recovery is asserted.
QUEUES_BEYOND_SLOTS = {
    "gunicorn-gthread": "each worker accepts up to --worker-connections and queues them for its 2 threads",
}


def stalled_connections(target: Target, n: int, stack: ExitStack) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        sock = stack.enter_context(connect(target))
        sock.sendall(STALL)
        socks.append(sock)
    time.sleep(0.5)  # every one accepted and read before the good request comes
    return socks


def test_one_stalled_request_blocks_only_a_single_threaded_server(target: Target) -> None:
    """A client that never finishes its request head. Only a server with one
    slot stops serving others meanwhile; the rest hold it open or drop it."""
    with ExitStack() as stack:
        (sock,) = stalled_connections(target, 1, stack)
        started = time.monotonic()
        meanwhile = good_request(target)
        if target.server.slots == 1:
            assert meanwhile != "ok", f"{target.server.name} served others beside a stalled request"
        else:
            assert meanwhile == "ok", f"{target.server.name} blocked by one stalled request: {meanwhile}"
        reply = read_reply(sock, timeout=STALL_WATCH - (time.monotonic() - started))
    name = target.server.name
    if name in CLOSES_STALLED:
        assert reply.label == "closed", f"{name}: {CLOSES_STALLED[name]}, but: {reply.label}"
    else:
        assert reply.label == "silent", f"{name} gave up on a stalled request within {STALL_WATCH}s: {reply.label}"
    assert_healthy(target)


def test_stalled_requests_exhaust_exactly_the_bounded_servers(target: Target) -> None:
    """As many half-written requests as the server has slots (lab.slots, at
    most MAX_STALLED): a server that gives each connection a thread or process
    while it reads the head is then out of service; the rest are not."""
    slots = target.server.slots
    n = min(slots or MAX_STALLED, MAX_STALLED)
    bounded = slots is not None and slots <= MAX_STALLED and target.server.name not in READS_HEADS_OUTSIDE_SLOTS
    with ExitStack() as stack:
        stalled_connections(target, n, stack)
        meanwhile = good_request(target)
    if target.server.name not in QUEUES_BEYOND_SLOTS:  # for those, served or not is chance
        if bounded:
            assert meanwhile != "ok", f"{target.server.name} served a request beside {n} stalled ones"
        else:
            assert meanwhile == "ok", f"{target.server.name} blocked by {n} stalled requests: {meanwhile}"
    assert_healthy(target)  # and recovers as soon as they go


#: Servers whose only limit on a half-written request is a worker timeout, with
#: that knob set to 3 s here (30 s by default) and what the client then gets.
TIMEOUT_ENDS_STALL = {
    # The arbiter kills the sync worker stuck reading the head; the dying
    # worker answers 500 (not 408), and a new worker takes its place.
    "gunicorn-sync": ("LAB_GUNICORN_TIMEOUT", "status 500"),
    # uWSGI's harakiri ends the connection, and only it: the worker lives on.
    "uwsgi-gevent": ("LAB_UWSGI_HARAKIRI", "closed"),
}


@pytest.mark.native
@pytest.mark.parametrize("name", list(TIMEOUT_ENDS_STALL))
def test_a_worker_timeout_ends_a_stalled_request(name: str) -> None:
    knob, outcome = TIMEOUT_ENDS_STALL[name]
    server = matrix.get(name)
    with native.serve(server, env={knob: "3"}) as url:
        target = Target("native", server, ("127.0.0.1", int(url.rsplit(":", 1)[1])))
        with connect(target) as sock:
            sock.sendall(STALL)
            started = time.monotonic()
            reply = read_reply(sock, timeout=15)
            took = time.monotonic() - started
        assert reply.label == outcome, reply.head
        assert 2 < took < 8, f"{name} ended the stalled request after {took:.1f}s, not after its 3 s timeout"
        assert_healthy(target)

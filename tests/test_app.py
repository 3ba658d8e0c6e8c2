"""Every endpoint and every bad input, through Flask's test client."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flasklab import MAX_MS, appload, create_app, usage, views
from labcore import defaults, protocol
from labcore.scenarios import SCENARIOS
from tests.support.inprocess import serve_app

pytestmark = pytest.mark.unit

PERSON = {"name": "John", "age": 30, "city": "New York"}
MS_ENDPOINTS = ["/io", "/upstream", "/cpu", "/async-io", "/async-cpu"]
MIXED_PARAMETERS = ["io_ms", "cpu_ms"]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The app itself on a loopback port, standing in for the upstream service."""
    with serve_app() as url:
        yield url


@pytest.fixture()
def app(upstream: str) -> Flask:
    # Inside the lab's instruments, as every server serves it.
    return appload.wrap(create_app({"TESTING": True, "UPSTREAM_URL": upstream}), defaults.APP_MODULE)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_hello(client: FlaskClient) -> None:
    reply = client.get("/")
    assert reply.status_code == 200
    assert reply.data == b"Hello, World!"
    assert reply.mimetype == "text/plain"


def test_json_and_json_dumps_send_the_same_bytes(client: FlaskClient) -> None:
    by_jsonify = client.get("/json")
    by_dumps = client.get("/json-dumps")
    assert by_jsonify.json == PERSON
    assert by_jsonify.data == by_dumps.data
    assert by_jsonify.headers["Content-Type"] == by_dumps.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("name", [name for name, scenario in SCENARIOS.items() if not scenario.mix])
def test_every_scenario_request_gets_an_answer_its_check_accepts(client: FlaskClient, name: str) -> None:
    # The app and the load generator agree on the paths and the answers
    # (labcore.scenarios): what Locust sends, the app serves and Locust accepts.
    scenario = SCENARIOS[name]
    reply = client.get(scenario.request(io_ms=5, cpu_ms=5))
    assert reply.status_code == 200
    body = reply.get_data(as_text=True)
    assert scenario.check(body, io_ms=5, cpu_ms=5) is None
    # ...and the check is no rubber stamp: another body, or other work, fails it.
    assert scenario.check('{"other": 1}', io_ms=5, cpu_ms=5) is not None
    if scenario.work_ms(io_ms=5, cpu_ms=5) is not None:
        assert scenario.check(body, io_ms=6, cpu_ms=6) is not None


@pytest.mark.parametrize(
    ("path", "key"), [("/io", "slept_ms"), ("/async-io", "slept_ms"), ("/upstream", "upstream_ms")]
)
def test_waiting_endpoints_wait_as_asked(client: FlaskClient, path: str, key: str) -> None:
    reply = client.get(f"{path}?ms=20")
    assert reply.status_code == 200
    assert reply.json == {key: 20}


def test_io_defaults_to_100_ms(client: FlaskClient) -> None:
    assert client.get("/io").json == {"slept_ms": 100}


def test_io_via_c_sleeps_in_libc_not_through_time_sleep(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # What gevent and eventlet patch is time.sleep; via=c must never reach it.
    def patched(_: float) -> None:
        raise AssertionError("time.sleep was called")

    monkeypatch.setattr(views.time, "sleep", patched)
    started = time.monotonic()
    reply = client.get("/io?ms=50&via=c")
    assert reply.status_code == 200
    assert reply.json == {"slept_ms": 50}
    assert time.monotonic() - started >= 0.05
    assert client.get("/io?ms=1&via=python").status_code == 500  # the stand-in is in place


def test_sleep_in_c_sleeps_its_whole_time_through_a_signal() -> None:
    caught: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda number, _frame: caught.append(number))
    # Aimed at this thread, so that nanosleep itself is interrupted (EINTR).
    timer = threading.Timer(0.02, signal.pthread_kill, (threading.get_ident(), signal.SIGUSR1))
    try:
        timer.start()
        started = time.monotonic()
        views._sleep_in_c(100)
        took = time.monotonic() - started
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
    assert caught == [signal.SIGUSR1]
    assert took >= 0.1


def test_sleep_in_c_uninterrupted_runs_a_python_handler_only_after_it_returns(client: FlaskClient) -> None:
    """What a C library that resumes its wait after a signal does to a Python
    handler (gunicorn's SIGABRT on a worker timeout): it waits for the call."""
    handled: list[float] = []
    previous = signal.signal(signal.SIGUSR1, lambda _number, _frame: handled.append(time.monotonic()))
    timer = threading.Timer(0.02, signal.pthread_kill, (threading.get_ident(), signal.SIGUSR1))
    try:
        timer.start()
        started = time.monotonic()
        assert client.get("/io?ms=200&via=c-uninterrupted").json == {"slept_ms": 200}
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
    assert len(handled) == 1
    assert handled[0] - started >= 0.2, "the handler ran during the sleep, not after it"
    assert signal.SIGUSR1 not in signal.pthread_sigmask(signal.SIG_BLOCK, []), "the mask is restored"


@pytest.mark.parametrize("via", ["C", "ctypes", "", "python ", "c\x00", "x" * 100])
def test_bad_via_is_a_400_naming_the_parameter_before_any_sleep(client: FlaskClient, via: str) -> None:
    started = time.monotonic()
    reply = client.get("/io", query_string={"ms": "2000", "via": via})
    assert time.monotonic() - started < 1
    assert reply.status_code == 400
    assert reply.is_json
    assert reply.json["parameter"] == "via"
    assert "python, c" in reply.json["message"]


def test_io_via_python_is_the_default(client: FlaskClient) -> None:
    assert client.get("/io?ms=1&via=python").json == client.get("/io?ms=1").json == {"slept_ms": 1}


@pytest.mark.parametrize("path", ["/cpu", "/async-cpu"])
def test_cpu_burns_the_cpu_time_asked_for(client: FlaskClient, path: str) -> None:
    reply = client.get(f"{path}?ms=30")
    assert reply.status_code == 200
    body = reply.json
    assert body["ms"] == 30
    assert 30 <= body["cpu_ms"] < 200
    assert body["rounds"] > 0


def test_cpu_defaults_to_10_ms(client: FlaskClient) -> None:
    assert client.get("/cpu").json["ms"] == 10


def test_upstream_down_is_a_502_with_json(upstream: str) -> None:
    client = create_app({"TESTING": True, "UPSTREAM_URL": "http://127.0.0.1:9"}).test_client()
    reply = client.get("/upstream?ms=1")
    assert reply.status_code == 502
    assert "upstream unreachable" in reply.json["message"]


def test_whoami_describes_this_process(client: FlaskClient) -> None:
    import os

    body = client.get(protocol.WHOAMI).json
    assert body["pid"] == os.getpid()
    assert body["in_flight"] == 1  # this request
    assert body["model"] == "single"  # the test client is neither threaded nor forking
    assert body["monkey_patched_by"] is None
    assert {"software", "thread", "thread_id", "greenlet", "hostname"} <= body.keys()


def test_in_flight_is_back_to_zero_after_errors(client: FlaskClient) -> None:
    client.get("/io?ms=abc")
    client.get("/nowhere")
    assert client.get(protocol.WHOAMI).json["in_flight"] == 1


def test_usage_outside_a_container_sums_the_process_group(client: FlaskClient) -> None:
    body = client.get(protocol.USAGE).json
    assert body["source"] == "process group"
    assert body["cpu_seconds"] > 0
    assert body["memory_peak_bytes"] >= body["memory_bytes"] > 10 * 2**20
    assert body["processes"] >= 1


def test_usage_reads_cgroup_v2(tmp_path) -> None:
    (tmp_path / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    (tmp_path / "memory.current").write_text("1048576\n")
    (tmp_path / "memory.peak").write_text("2097152\n")
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    (tmp_path / "memory.max").write_text("max\n")
    assert usage.cgroup_usage(tmp_path) == {
        "source": "cgroup v2",
        "cpu_seconds": 2.5,
        "memory_bytes": 1048576,
        "memory_peak_bytes": 2097152,
        "cpu_limit": 1.5,
        "memory_limit_bytes": None,
    }


def test_usage_reads_cgroup_v1(tmp_path) -> None:
    (tmp_path / "cpuacct").mkdir()
    (tmp_path / "cpuacct" / "cpuacct.usage").write_text("1500000000\n")
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.usage_in_bytes").write_text("4096\n")
    (tmp_path / "memory" / "memory.max_usage_in_bytes").write_text("8192\n")
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("536870912\n")
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usage.cgroup_usage(tmp_path) == {
        "source": "cgroup v1",
        "cpu_seconds": 1.5,
        "memory_bytes": 4096,
        "memory_peak_bytes": 8192,
        "cpu_limit": None,
        "memory_limit_bytes": 536870912,
    }


def test_packages_lists_the_servers_with_versions(client: FlaskClient) -> None:
    found = {name.lower(): version for name, version in client.get(protocol.PACKAGES).json.items()}
    assert found["flask"] == "3.1.3"
    assert {"gunicorn", "gevent", "eventlet", "uwsgi"} <= found.keys()


def test_usage_without_a_cgroup_is_none(tmp_path) -> None:
    assert usage.cgroup_usage(tmp_path) is None


BAD_MS = ["abc", "-1", str(MAX_MS + 1), "1.5", " 5", "+5", "5_0", "\u0665", "", "1e3", "9" * 40]


@pytest.mark.parametrize("path", MS_ENDPOINTS)
@pytest.mark.parametrize("ms", BAD_MS)
def test_bad_ms_is_a_400_naming_the_parameter(client: FlaskClient, path: str, ms: str) -> None:
    reply = client.get(path, query_string={"ms": ms})
    assert reply.status_code == 400
    assert reply.is_json
    assert reply.json["parameter"] == "ms"
    assert "ms" in reply.json["message"]
    assert "Traceback" not in reply.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/io", "/cpu"])
def test_ms_at_the_cap_is_accepted_by_validation(app: Flask, path: str) -> None:
    # The cap itself is valid; a lowered cap keeps the test fast.
    app.config["MAX_MS"] = 5
    client = app.test_client()
    assert client.get(f"{path}?ms=5").status_code == 200
    assert client.get(f"{path}?ms=6").status_code == 400


def test_mixed_waits_then_burns_what_it_is_asked_and_echoes_both(client: FlaskClient) -> None:
    started, cpu_started = time.monotonic(), time.thread_time()
    reply = client.get("/mixed?io_ms=40&cpu_ms=30")
    wall, cpu = time.monotonic() - started, time.thread_time() - cpu_started
    assert reply.status_code == 200
    body = reply.json
    assert (body["io_ms"], body["cpu_ms"]) == (40, 30)
    assert 30 <= body["cpu_used_ms"] < 200
    # Both parts happened: the wall clock holds the wait and the CPU work,
    # the thread's CPU clock only the work.
    assert wall >= 0.07
    assert 0.03 <= cpu < 0.2
    assert body["rounds"] > 0


def test_mixed_with_no_work_answers_at_once(client: FlaskClient) -> None:
    started = time.monotonic()
    assert client.get("/mixed?io_ms=0&cpu_ms=0").json["rounds"] == 0
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("parameter", MIXED_PARAMETERS)
@pytest.mark.parametrize("ms", BAD_MS)
def test_bad_mixed_work_is_a_400_naming_the_parameter(client: FlaskClient, parameter: str, ms: str) -> None:
    started = time.monotonic()
    reply = client.get("/mixed", query_string={"io_ms": "2000", "cpu_ms": "1"} | {parameter: ms})
    assert time.monotonic() - started < 1, "it worked before refusing"
    assert reply.status_code == 400
    assert reply.is_json
    assert reply.json["parameter"] == parameter
    assert "Traceback" not in reply.get_data(as_text=True)


def test_mixed_work_is_bounded_by_the_cap_in_all(app: Flask) -> None:
    app.config["MAX_MS"] = 6
    client = app.test_client()
    assert client.get("/mixed?io_ms=3&cpu_ms=3").status_code == 200
    assert client.get("/mixed?io_ms=6&cpu_ms=0").status_code == 200
    for query in ("io_ms=7&cpu_ms=0", "io_ms=0&cpu_ms=7", "io_ms=4&cpu_ms=3"):
        reply = client.get(f"/mixed?{query}")
        assert reply.status_code == 400, query
        assert reply.json["parameter"] in MIXED_PARAMETERS


def test_unknown_path_is_a_404_with_json(client: FlaskClient) -> None:
    reply = client.get("/no/such/page")
    assert reply.status_code == 404
    assert reply.json["error"] == "Not Found"
    assert reply.json["path"] == "/no/such/page"


def test_wrong_method_is_a_405_with_json_and_allow(client: FlaskClient) -> None:
    reply = client.post("/io")
    assert reply.status_code == 405
    assert reply.is_json
    assert "GET" in reply.headers["Allow"]


def test_an_unexpected_error_is_a_json_500_without_traceback(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    reply = app.test_client().get("/boom")
    assert reply.status_code == 500
    assert reply.json["error"] == "Internal Server Error"
    text = reply.get_data(as_text=True)
    assert "secret detail" not in text
    assert "Traceback" not in text


def test_errors_are_valid_json_documents(client: FlaskClient) -> None:
    json.loads(client.get("/io?ms=x").get_data(as_text=True))

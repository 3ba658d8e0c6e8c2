"""The fault experiments (labbench --faults, docs/faults.md): the arithmetic
on fixed inputs, then each experiment against real servers.

Native runs use short server timeouts (LAB_GUNICORN_TIMEOUT, LAB_UWSGI_HARAKIRI)
and recycling (LAB_MAX_REQUESTS), so that every experiment takes seconds. The
assertions are about what each server must do by construction (a master
respawns, a dev server does not), never about how fast.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from labbench import cli, faults, faulttimeline, faultwatch, native, options, pinned
from labbench.appclient import AppClient, Outcome
from labbench.report.html import render_html
from labbench.report.markdown import fault_sections
from labbench.report.tables import FAULT_COLUMNS
from labbench.results import Results
from labbench.stats import summarize
from labcore import matrix
from tests.support import ROOT
from tests.support.cli import labbench, only_run
from tests.support.docker import compose
from tests.support.mdtables import md_tables, sections_naming

KNOBS = {"LAB_GUNICORN_TIMEOUT": "2", "LAB_UWSGI_HARAKIRI": "2"}
LONG_MS = "4000"  # twice the timeouts above
# Recycling runs on its own, as docs/faults.md says: on during the other
# experiments, it would replace workers for reasons of its own.
RECYCLING = {"LAB_MAX_REQUESTS": "200"}
FIRST = [name for name in faults.ALL if name != "recycle"]


# --- on fixed inputs ------------------------------------------------------------


@pytest.mark.unit
def test_timeline_counts_each_second_relative_to_the_fault(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    rows = [(100, 0, 0), (101, 50, 0), (102, 100, 0), (103, 120, 15), (104, 165, 60)]
    history.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Total Request Count,Total Failure Count\n"
        + "".join(f"{t},8,,Aggregated,0,{r},{f}\n" for t, r, f in rows)
        + "100,8,GET,/io,0,0,0\n"
    )
    points = faulttimeline.timeline(history, fault_at=102.5)
    # Locust counts a failed request among its requests too; the per-endpoint row is ignored.
    assert points == [[-1.5, 50, 0], [-0.5, 50, 0], [0.5, 5, 15], [1.5, 0, 45]]


@pytest.mark.unit
def test_summary_compares_the_seconds_after_with_those_before() -> None:
    points = [[-3.0, 99, 0], [-2.0, 100, 0], [-1.0, 100, 0], [0.0, 100, 0], [1.0, 0, 40], [2.0, 5, 3], [3.0, 50, 0]]
    result = faulttimeline.summary(points)
    assert result["ok_per_s_before"] == 100  # (-3, 0]: the first second of load is left out
    assert result["ok_per_s_after"] == pytest.approx(27.5)  # from the second second on
    assert result["kept"] == pytest.approx(0.275)
    assert result["outage_s"] == 2  # 0 and 5 are below 10 % of 100
    assert result["failures_after"] == 43


class Scripted(faultwatch.Watch):
    """A watch whose censuses come from a script; the cell ends when it runs out."""

    def __init__(self, censuses: list[dict[str, Any] | None], per_request: bool = False) -> None:
        super().__init__(AppClient("http://server"), 1000, per_request=per_request)
        self.script = censuses

    def census(self) -> dict[str, Any] | None:
        if not self.script:
            self.ending.set()
            return None
        return self.script.pop(0)


BEFORE = {"pid": 1, "started": 10.0, "workers": [2, 3]}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("script", "per_request", "outcome"),
    [
        ([None, None], False, "down"),
        ([{"started": 10.0, "workers": [2]}, {"started": 10.0, "workers": [2, 4]}], False, "respawned"),
        ([None, {"started": 20.0, "workers": [8, 9]}], False, "restarted"),
        ([{"started": 10.0, "workers": [2, 3]}], False, "unaffected"),
        ([{"started": 10.0, "workers": [7]}], True, "unaffected"),  # a process per request: they always change
    ],
)
def test_follow_names_what_happened_to_the_server(
    script: list[dict[str, Any] | None], per_request: bool, outcome: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faultwatch, "POLL_S", 0.001)
    seen = faultwatch.follow(Scripted(script, per_request), BEFORE, time.monotonic(), until_whole=True)
    assert seen["outcome"] == outcome
    assert (seen["whole_again_s"] is None) == (outcome == "down")


class Unanswering:
    """A server that gives every request the same answer and has no census:
    enough to run each injection's own code without a real server."""

    url = "http://server"
    address = ("server.invalid", 80)

    def __init__(self, answer: str) -> None:
        self.answer, self.asked = answer, []

    def request(self, path: str, method: str = "GET", timeout: float | None = None) -> Outcome:
        self.asked.append((method, path))
        return Outcome(self.answer, 0.5)

    def census(self) -> None:
        return None

    def usage(self) -> None:
        return None

    def crash(self) -> str:
        self.asked.append(("POST", "crash"))
        return "RemoteDisconnected"

    def stop(self) -> str:
        self.asked.append(("POST", "stop"))
        return "202"


@pytest.mark.unit
def test_the_injections_report_what_they_saw_without_a_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faultwatch, "POLL_S", 0.001)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)

    def watch(app: Unanswering) -> faultwatch.Watch:
        watched = faultwatch.Watch(app, 4000)
        watched.ending.set()  # the cell is over: nothing to wait for
        return watched

    app = Unanswering("500")
    assert faults.timeout(watch(app)) == {
        "long_ms": 4000, "result": "500", "seconds": 0.5,
        "answered_again_s": None, "whole_again_s": None, "workers_before": 0, "outcome": "down",
    }  # fmt: skip
    assert app.asked == [("GET", "/io?ms=4000")]
    assert faults.crash(watch(app))["answer"] == "RemoteDisconnected"
    stopped = faults.stop(watch(Unanswering("RemoteDisconnected")))
    assert stopped["signal"] == "/fault/stop" and stopped["answer"] == "202"
    assert stopped["completed"] == 0 and stopped["probe_results"] == ["RemoteDisconnected"] * faults.PROBES
    assert faults.soak(watch(app)) == {"memory": []}
    assert faults.recycle(watch(app)) == {"workers": 0, "recycled": 0}


@pytest.mark.unit
def test_every_fault_has_its_report_columns() -> None:
    assert set(FAULT_COLUMNS) == set(faults.FAULTS)


@pytest.mark.unit
def test_fault_flags() -> None:
    def plan(*argv: str) -> Any:
        return options.plan_from(cli.settings(list(argv)))

    every = plan("--faults", "all")
    assert every.faults == faults.ALL and "soak" not in every.faults
    assert every.scenarios == [] and every.repetitions == 1, "a fault run measures nothing else unless asked"
    assert plan("--faults", "all,soak,crash").faults == [*faults.ALL, "soak"]
    mixed = plan("--faults", "crash", "--scenarios", "hello")
    assert mixed.scenarios == ["hello"] and mixed.faults == ["crash"]
    assert plan("--faults", "crash", "--repetitions", "2").repetitions == 2, "unless asked"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--faults", "explode"], "--faults"), (["--long-ms", "500"], "--long-ms"), (["--soak-s", "x"], "--soak-s")],
)
def test_bad_fault_flags_are_named(argv: list[str], named: str, tmp_path: Path) -> None:
    result = labbench(*argv, "--output", str(tmp_path), timeout=60)
    assert result.returncode == 2
    assert named in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir()), "nothing written"


# --- against real servers ---------------------------------------------------------


def fault_run(output: Path, servers: str, *flags: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """A native fault run with ``env`` (the servers' knobs) in the runner's environment."""
    result = labbench("--native", "--servers", servers, "--output", str(output), *flags, env=env, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = only_run(output)
    results = json.loads((folder / "results.json").read_text())
    markdown, html = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    for name in {cell["fault"] for cell in results["faults"]}:
        assert f"Fault: {faults.FAULTS[name].title}" in markdown
        assert f'id="fault-{name}"' in html
    return results


@pytest.fixture(scope="module")
def native_faults(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """Every fault against gunicorn's sync workers and the threaded dev server."""
    servers = "gunicorn-sync,flask-dev"
    first = fault_run(
        tmp_path_factory.mktemp("f"), servers, "--faults", ",".join(FIRST), "--long-ms", LONG_MS, env=KNOBS
    )
    recycling = fault_run(tmp_path_factory.mktemp("r"), servers, "--faults", "recycle", env=RECYCLING)
    found = first["faults"] + recycling["faults"]
    cells = {(cell["server"], cell["fault"]): cell for cell in found}
    assert len(cells) == len(found) == 2 * len(faults.ALL), "every experiment exactly once"
    return cells


def observed(cell: dict[str, Any]) -> dict[str, Any]:
    assert cell["status"] == "ok", cell
    return cell["observed"]


@pytest.mark.native
def test_crash_gunicorn_respawns_the_worker_the_dev_server_stays_down(native_faults) -> None:
    gunicorn = observed(native_faults["gunicorn-sync", "crash"])
    assert gunicorn["outcome"] == "respawned", gunicorn
    assert gunicorn["whole_again_s"] is not None and gunicorn["workers_after"] == gunicorn["workers_before"] == 4
    dev = native_faults["flask-dev", "crash"]
    assert observed(dev)["outcome"] == "down", dev["observed"]
    assert dev["kept"] == 0 and dev["failures_after"] > 0
    assert dev["back_after_s"] is not None, "the runner starts it again for the next cell"


@pytest.mark.native
def test_stop_gunicorn_finishes_in_flight_requests_the_dev_server_drops_them(native_faults) -> None:
    gunicorn = observed(native_faults["gunicorn-sync", "stop"])
    assert gunicorn["completed"] == gunicorn["in_flight"] == faults.PROBES, gunicorn
    dev = observed(native_faults["flask-dev", "stop"])
    # SIGTERM's default action ends the process at once: nothing in flight can finish.
    assert dev["completed"] == 0, dev


@pytest.mark.native
def test_stop_gevent_pywsgi_finishes_in_flight_requests(tmp_path: Path) -> None:
    """The launcher gives requests in flight its grace period, not gevent's
    1-second stop_timeout, which used to kill all four (docs/faults.md)."""
    cell = fault_run(tmp_path, "gevent-pywsgi", "--faults", "stop")["faults"][0]
    seen = observed(cell)
    assert seen["completed"] == seen["in_flight"] == faults.PROBES, seen


@pytest.mark.native
def test_slow_clients_starve_sync_workers_but_not_a_thread_per_request(native_faults) -> None:
    gunicorn = native_faults["gunicorn-sync", "slow-clients"]
    dev = native_faults["flask-dev", "slow-clients"]
    for cell in (gunicorn, dev):
        observed(cell)  # both ran
    # 8 slow clients hold all 4 sync workers; the dev server gives them 8 more threads.
    assert gunicorn["kept"] < 0.5, gunicorn
    assert dev["kept"] > 0.5, dev


@pytest.mark.native
def test_timeout_kills_gunicorns_sync_worker_but_not_the_dev_servers_request(native_faults) -> None:
    gunicorn = observed(native_faults["gunicorn-sync", "timeout"])
    assert gunicorn["result"] != "200" and gunicorn["seconds"] < int(LONG_MS) / 1000, gunicorn
    assert gunicorn["outcome"] == "respawned", gunicorn
    dev = observed(native_faults["flask-dev", "timeout"])
    assert dev["result"] == "200" and dev["seconds"] >= int(LONG_MS) / 1000, dev


@pytest.mark.native
def test_recycle_replaces_gunicorn_workers_and_does_not_apply_to_the_dev_server(native_faults) -> None:
    gunicorn = native_faults["gunicorn-sync", "recycle"]
    assert observed(gunicorn)["recycled"] >= 1, gunicorn
    # Sync workers close every connection after its response: recycling loses nothing.
    assert gunicorn["failures_after"] == 0, gunicorn
    dev = native_faults["flask-dev", "recycle"]
    assert dev["status"] == "not-applicable" and "max-requests" in dev["error"]


@pytest.mark.docker
def test_faults_through_compose(lab_stack: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same experiments in containers: a crashed or stopped dev server now
    comes back through Compose's restart policy, and the report says so."""
    servers = ["gunicorn-sync", "flask-dev"]
    compose("--profile", "bench", "build", "bench")
    found = []
    try:
        for knobs, names in [(KNOBS, FIRST), (RECYCLING, ["recycle"])]:
            for key, value in knobs.items():
                monkeypatch.setenv(key, value)
            compose("up", "-d", "--wait", *servers)  # recreated with these knobs
            output = tmp_path / names[0]
            output.mkdir()
            flags = ["--faults", ",".join(names), "--long-ms", LONG_MS, "--servers", ",".join(servers)]
            compose("run", "--rm", "--volume", f"{output}:/lab/results", "bench", *flags, timeout=900)
            results = json.loads((only_run(output) / "results.json").read_text())
            assert results["run"]["mode"] == "docker"
            found += results["faults"]
            for key in knobs:
                monkeypatch.delenv(key)
    finally:
        for key in {**KNOBS, **RECYCLING}:
            monkeypatch.delenv(key, raising=False)
        compose("up", "-d", "--wait", *servers)  # back to the lab's defaults
    cells = {(cell["server"], cell["fault"]): cell for cell in found}
    assert len(cells) == len(found) == 2 * len(faults.ALL)
    assert observed(cells["gunicorn-sync", "crash"])["outcome"] == "respawned"
    dev_crash = observed(cells["flask-dev", "crash"])
    assert dev_crash["outcome"] == "restarted", dev_crash  # by Docker, not by the server
    stop = observed(cells["gunicorn-sync", "stop"])
    assert stop["completed"] == stop["in_flight"], stop
    assert observed(cells["flask-dev", "stop"])["completed"] == 0
    assert cells["gunicorn-sync", "slow-clients"]["kept"] < 0.5 < cells["flask-dev", "slow-clients"]["kept"]
    assert observed(cells["gunicorn-sync", "timeout"])["result"] != "200"
    assert observed(cells["flask-dev", "timeout"])["result"] == "200"
    assert observed(cells["gunicorn-sync", "recycle"])["recycled"] >= 1, "LAB_MAX_REQUESTS reached the runner"
    for server in servers:
        assert cells[server, "stop"]["back_after_s"] is not None, f"{server} came back after its stop"


# --- a request that blocks its worker past gunicorn's --timeout --------------------


class Connection:
    """A stand-in for an open connection: records whether it was closed."""

    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.mark.unit
def test_the_block_puts_its_requests_on_the_busiest_worker_and_one_on_each_other() -> None:
    opened = [pinned.Pinned(Connection(), pid) for pid in [7, 9, 9, None, 8, 9, 9, 9, 7]]  # type: ignore[arg-type]
    blocker, beside, others = pinned.choose(opened, beside=3)
    assert blocker is opened[1] and beside == [opened[2], opened[5], opened[6]]
    assert sorted(each.pid for each in others) == [7, 8]
    used = {id(each) for each in [blocker, *beside, *others]}
    assert all(each.connection.closed != (id(each) in used) for each in opened), "the rest are closed"
    # A server that closes every connection after its answer pins nothing: the blocking request goes alone.
    unpinned = [pinned.Pinned(Connection(), None) for _ in range(3)]  # type: ignore[arg-type]
    assert pinned.choose(unpinned, beside=3) == (unpinned[0], [], [])


BLOCK_KNOBS = {"LAB_GUNICORN_TIMEOUT": "2"}
BLOCK_MS = "5000"  # more than the timeout above, with room for the arbiter's once-a-second check


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """Both block experiments against gunicorn's gevent and gthread workers, with a 2 s timeout."""
    output = tmp_path_factory.mktemp("b")
    flags = ["--faults", "block,block-uninterrupted", "--long-ms", BLOCK_MS]
    found = fault_run(output, "gunicorn-gevent,gunicorn-gthread", *flags, env=BLOCK_KNOBS)["faults"]
    return {(cell["server"], cell["fault"]): observed(cell) for cell in found}


def _pinned_and_replaced(seen: dict[str, Any]) -> None:
    """The experiment did what it says: requests beside the blocking one, on its
    worker (the answers name that worker), and the timeout replaced that worker."""
    assert seen["pinned"] and seen["same_in_flight"] >= 1 and seen["other_in_flight"] >= 1, seen
    worker = seen["requests"][0]["pid"]
    for request in seen["requests"]:
        if request["answered_by"] is not None:
            assert request["answered_by"] == request["pid"], f"not served on its pinned worker: {request}"
    assert seen["result"] != "200" and seen["seconds"] < int(BLOCK_MS) / 1000, "the timeout cut it off"
    assert seen["outcome"] == "respawned" and seen["requests"][0]["worker_alive_after"] is False, worker
    assert seen["other_completed"] == seen["other_in_flight"], "the other workers were not concerned"


@pytest.mark.native
def test_a_block_the_signal_handler_cannot_interrupt_kills_every_request_on_the_gevent_worker(blocks) -> None:
    """The heartbeat of a gevent worker runs in its hub: blocked past --timeout,
    the worker gets SIGABRT, cannot act on it, and a second later SIGKILL ends
    it with every connection it holds."""
    seen = blocks["gunicorn-gevent", "block-uninterrupted"]
    _pinned_and_replaced(seen)
    assert seen["same_completed"] == 0, f"requests on the killed worker survived: {seen['requests']}"


@pytest.mark.native
def test_a_block_the_signal_handler_interrupts_lets_the_gevent_worker_drain(blocks) -> None:
    """gunicorn 27's gevent worker turns the SIGABRT into the end of the blocking
    request alone, then finishes what else it holds before it exits."""
    seen = blocks["gunicorn-gevent", "block"]
    _pinned_and_replaced(seen)
    assert seen["same_completed"] == seen["same_in_flight"], seen["requests"]


@pytest.mark.native
@pytest.mark.parametrize("fault", ["block", "block-uninterrupted"])
def test_a_block_in_a_gthread_worker_is_no_timeout(blocks, fault: str) -> None:
    """gthread's heartbeat runs in its main thread, which a request in another thread does not block."""
    seen = blocks["gunicorn-gthread", fault]
    assert seen["result"] == "200" and seen["outcome"] == "unaffected", seen
    assert seen["same_completed"] == seen["same_in_flight"] >= 1, seen["requests"]


@pytest.mark.native
def test_preload_imports_the_app_before_the_gevent_worker_patches(tmp_path: Path) -> None:
    """With --preload the master imports the app (Flask, urllib3, ssl) before
    it forks; each gevent worker monkey-patches afterwards, and gevent says
    what it could not patch (docs/models.md, gunicorn-gevent)."""
    logs = {}
    for name, env in [("plain", {}), ("preload", {"GUNICORN_CMD_ARGS": "--preload"})]:
        with (tmp_path / name).open("w+") as log:
            with native.serve(matrix.get("gunicorn-gevent"), env=env, log=log) as url:
                assert AppClient(url).whoami()["monkey_patched_by"] == "gevent"
            log.seek(0)
            logs[name] = log.read()
    assert "MonkeyPatchWarning" not in logs["plain"], logs["plain"][-2000:]
    warning = logs["preload"][logs["preload"].find("MonkeyPatchWarning") :]
    assert "MonkeyPatchWarning" in logs["preload"] and "ssl" in warning, logs["preload"][-2000:]


#: The short soak's bound: what a leak of a few KiB per request would pass in 60 s.
SOAK_GROWTH_BOUND = 32 * 2**20


@pytest.mark.native
def test_short_soak_has_no_errors_and_no_memory_growth(tmp_path: Path) -> None:
    results = fault_run(tmp_path, "gunicorn-gthread,gevent-pywsgi", "--faults", "soak", "--soak-s", "60")
    assert len(results["faults"]) == 2
    for cell in results["faults"]:
        seen = observed(cell)
        assert sum(point[2] for point in cell["timeline"]) == 0, f"{cell['server']}: failed requests"
        assert len(seen["memory"]) >= 10, seen
        assert seen["memory_growth_bytes"] < SOAK_GROWTH_BOUND, seen


@pytest.mark.unit
def test_report_sections_render_from_fixed_cells() -> None:
    cell = {"fault": "crash", "repetition": 1, "users": faults.USERS, "started_at": "2026-11-22T01:00:00Z"}
    results = Results.model_validate({
        "run": {
            "id": "r", "started_at": "2026-11-22T01:00:00Z", "mode": "native",
            "plan": {
                "servers": ["a", "b"], "scenarios": [], "users": [], "duration_s": 0.0, "warmup_s": 0.0,
                "repetitions": 1, "locust_processes": 1, "seed": 1, "faults": ["crash"],
            },
        },
        "faults": [
            cell | {"server": "b", "order": 1, "status": "server-unavailable", "error": "no answer", "raw": "raw/b"},
            cell | {
                "server": "a", "order": 2, "status": "ok", "error": None, "raw": "raw/a",
                "observed": {
                    "answer": "RemoteDisconnected", "outcome": "respawned", "answered_again_s": 0.3,
                    "whole_again_s": 1.2, "workers_before": 4, "workers_after": 4,
                },
                "timeline": [[-1.0, 10, 0], [0.0, 10, 0], [1.0, 5, 2], [2.0, 10, 0]],
                "ok_per_s_before": 10.0, "kept": 1.0, "outage_s": 0, "failures_after": 2,
            },
        ],
    })  # fmt: skip
    markdown = "\n".join(fault_sections(results))
    assert "| a | respawned by its master | 0.3 s | 1.2 s | 0 s | 2 | 100% |" in markdown
    assert "| b | server-unavailable: no answer |" in markdown
    page = render_html(results, summarize(results))
    sections = re.findall(r'<section id="fault-[^"]*">.*?</section>', page, flags=re.S)
    assert len(sections) == 1
    assert sections[0].count("<svg") == 1 and "server-unavailable: no answer" in sections[0]


# --- docs/faults.md ------------------------------------------------------------------

FAULTS_MD = ROOT / "docs" / "faults.md"
#: The runs docs/faults.md shows: byte-for-byte copies of their results.json.
SHOWN_RUNS = sorted(FAULTS_MD.parent.glob("images/*-faults-*.json"))


@pytest.mark.unit
def test_faults_md_shows_every_experiment_from_a_committed_run() -> None:
    shown = {cell["fault"] for run in SHOWN_RUNS for cell in json.loads(run.read_text())["faults"]}
    assert shown == set(faults.FAULTS), "every experiment has results in the docs"


def shown_in(run: Path) -> str:
    """The part of docs/faults.md that shows ``run``: its sections that name the file."""
    return sections_naming(FAULTS_MD.read_text(), run.name, level=2)


@pytest.mark.unit
@pytest.mark.parametrize("run", SHOWN_RUNS, ids=lambda path: path.name)
def test_faults_md_tables_are_the_report_s(run: Path) -> None:
    """The tables are labbench's own rendering of the committed run, not typed in."""
    rendered = md_tables("\n".join(fault_sections(Results.from_json(run.read_text(), run.name))))
    assert rendered, "the run has fault tables"
    shown = md_tables(shown_in(run))
    for heading, rows in rendered.items():
        assert shown.get(heading) == rows, f"docs/faults.md's table {heading!r} differs from {run.name}'s"


# --- uWSGI's harakiri: per worker, not per request (docs/faults.md) -------------------


def _long_request(url: str, seconds: float) -> float:
    """How long a request of ``seconds`` lasted, answered or cut off (the timeout experiment's probe)."""
    return faults.probe(AppClient(url), int(seconds * 1000))["seconds"]


@pytest.mark.native
@pytest.mark.parametrize("name", ["uwsgi-threads", "uwsgi-gevent"])
def test_harakiri_cuts_off_a_lone_request_but_not_one_among_others(name: str) -> None:
    with native.serve(matrix.get(name), env={"LAB_UWSGI_HARAKIRI": "2"}) as url:
        assert _long_request(url, 5) < 4, "alone, the 5 s request is cut off at about 2 s"
        # The same request while other requests keep ending on the same worker:
        # each end clears the worker's one deadline (uWSGI 2.0).
        stop = threading.Event()

        def others() -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(f"{url}/io?ms=100", timeout=10).read()

        background = [threading.Thread(target=others, daemon=True) for _ in range(16)]
        for thread in background:
            thread.start()
        try:
            assert _long_request(url, 5) >= 4.9, "among others, it runs to the end"
        finally:
            stop.set()
            for thread in background:
                thread.join(15)

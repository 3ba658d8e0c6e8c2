"""The benchmark runner end to end: real servers, real Locust, real reports.

Native runs need no Docker; the Compose run needs an engine (see conftest).
The option table and the config file are tests/test_bench_cli.py's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labbench import BenchError, native, runner
from labbench.bottleneck import CLASSES
from labbench.results import Results
from labbench.targets import NativeTargets
from labcore import matrix
from tests.support.cli import labbench, only_run
from tests.support.docker import compose


def check_report(folder: Path, servers: list[str], scenarios: list[str], users: list[int], repetitions: int) -> None:
    """results.json holds every requested cell exactly once, all verified, and
    both reports exist and name every server."""
    text = (folder / "results.json").read_text()
    Results.from_json(text)  # what every reader accepts, whole
    results = json.loads(text)
    keys = [(c["server"], c["scenario"], c["users"], c["repetition"]) for c in results["cells"]]
    wanted = {(s, sc, u, r) for s in servers for sc in scenarios for u in users for r in range(1, repetitions + 1)}
    assert sorted(keys) == sorted(wanted), "every cell exactly once"
    assert results["run"]["finished_at"]
    for cell in results["cells"]:
        assert cell["status"] == "ok", cell
        assert cell["requests"] > 0 and cell["failures"] == 0, cell
        assert (folder / f"{cell['raw']}_stats.csv").is_file()
        assert cell["server_cpu_s"] is not None and cell["server_cpu_s"] > 0, cell
        assert cell["bottleneck"] in CLASSES and 0 <= cell["host_cpu_busy"] <= 1, cell
    html = (folder / "report.html").read_text()
    markdown = (folder / "report.md").read_text()
    for server in servers:
        assert server in html and server in markdown


@pytest.mark.native
def test_quick_native_run_writes_a_complete_report(tmp_path: Path) -> None:
    # No subcommand: a bare `labbench --quick` is `labbench run --quick`.
    result = labbench("--quick", "--native", "--output", str(tmp_path), "--seed", "7")
    assert result.returncode == 0, result.stderr[-3000:]
    check_report(only_run(tmp_path), matrix.names(), ["hello", "io"], [16], 1)
    # The front page of the results folder is rewritten after the run and links its report.
    assert f'href="{only_run(tmp_path).name}/report.html"' in (tmp_path / "index.html").read_text()


@pytest.mark.native
def test_native_cells_name_the_bottleneck_their_physics_sets(tmp_path: Path) -> None:
    """10 ms of CPU per request on a one-request-at-a-time server pinned to one
    CPU uses up that CPU (server-cpu); 16 users of 100 ms sleeps on gunicorn's
    4 sync workers keep all 4 slots busy while its CPU idles (slots)."""
    servers, scenarios = ["flask-dev-single", "gunicorn-sync"], ["cpu", "io"]
    flags = ["--servers", ",".join(servers), "--scenarios", ",".join(scenarios), "--users", "16"]
    result = labbench("--quick", "--native", "--output", str(tmp_path), "--seed", "7", *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    check_report(only_run(tmp_path), servers, scenarios, [16], 1)
    cells = {
        (c.server, c.scenario): c for c in Results.from_json((only_run(tmp_path) / "results.json").read_text()).cells
    }
    cpu, io = cells[("flask-dev-single", "cpu")], cells[("gunicorn-sync", "io")]
    # Other processes on a shared machine can take part of the server's CPU;
    # then the machine, all busy, is named instead, as the rules say.
    assert cpu.bottleneck == "server-cpu" or (cpu.bottleneck == "machine" and (cpu.host_cpu_busy or 0) >= 0.95), cpu
    assert io.bottleneck == "slots", io
    assert io.server_cpu_s is not None and io.duration_s and io.server_cpu_s / io.duration_s < 0.9, io


@pytest.mark.native
def test_interrupted_run_resumes_to_every_cell_exactly_once(tmp_path: Path) -> None:
    servers, scenarios = ["gunicorn-sync", "gevent-pywsgi"], ["hello"]
    argv = [sys.executable, "-m", "labbench", "--native", "--output", str(tmp_path)]
    argv += ["--servers", ",".join(servers), "--scenarios", ",".join(scenarios)]
    argv += ["--users", "4", "--duration", "2", "--warmup", "0", "--repetitions", "2"]
    runner = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt once two of the four cells are on disk, as Ctrl-C would.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        files = list(tmp_path.glob("*/results.json"))
        if files and len(json.loads(files[0].read_text())["cells"]) >= 2:
            break
        time.sleep(0.2)
    runner.send_signal(signal.SIGINT)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 130, stderr[-2000:]
    assert "--resume" in stderr
    folder = only_run(tmp_path)
    interrupted = json.loads((folder / "results.json").read_text())
    assert 2 <= len(interrupted["cells"]) < 4
    assert interrupted["run"]["finished_at"] is None

    resumed = labbench("run", "--resume", str(folder))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    check_report(folder, servers, scenarios, [4], 2)
    # The finished cells were kept, not run again.
    final = json.loads((folder / "results.json").read_text())
    assert final["cells"][:2] == interrupted["cells"][:2]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--servers", "nginx"], r"--servers: .*unknown nginx; choose from flask-dev"),
        (["--scenarios", "hello,fly"], r"--scenarios: .*unknown fly"),
        (["--users", "0"], r"--users: .*at least 1"),
        (["--users", "ten"], r"--users: .*whole numbers"),
        (["--duration", "-3"], r"--duration: .*at least 1"),
        (["--repetitions", "1.5"], r"--repetitions: .*expected a number"),
        (["--bogus"], r"unrecognized arguments: --bogus"),
    ],
)
@pytest.mark.parametrize("command", [[], ["run"]], ids=["bare", "run"])
def test_bad_flags_name_the_flag(args: list[str], message: str, command: list[str]) -> None:
    result = labbench(*command, *args, timeout=60)
    assert result.returncode == 2
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.unit
def test_bad_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bench.yaml"
    config.write_text("users: [8, 32]\nflavour: vanilla\n")
    result = labbench("--config", str(config), timeout=60)
    assert result.returncode == 2
    assert "unknown option 'flavour'" in result.stderr


@pytest.mark.unit
@pytest.mark.parametrize("command", ["report", "--resume", "compare"])
def test_missing_or_corrupt_run_folders_are_clear_errors(tmp_path: Path, command: str) -> None:
    def run_on(folder: Path) -> subprocess.CompletedProcess[str]:
        # compare takes two folders; give it the same one twice.
        return labbench(command, str(folder), *([str(folder)] if command == "compare" else []), timeout=60)

    missing = run_on(tmp_path / "nowhere")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "nowhere" in missing.stderr
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "results.json").write_text('{"schema_version": 1, "cells": [')
    result = run_on(corrupt)
    assert result.returncode == 2, result.stderr
    assert "not valid JSON" in result.stderr and "Traceback" not in result.stderr
    assert (corrupt / "results.json").read_text() == '{"schema_version": 1, "cells": ['
    assert sorted(p.name for p in corrupt.iterdir()) == ["results.json"], "nothing written beside it"


@pytest.mark.docker
def test_quick_run_through_compose(lab_stack: object, tmp_path: Path) -> None:
    """`docker compose run --rm bench --quick`, as README says it, with no ids
    given, on two servers to keep CI short: the report is yours."""
    servers = ["gunicorn-sync", "gevent-pywsgi"]
    compose("--profile", "bench", "build", "bench")
    volume = f"{tmp_path}:/lab/results"
    compose("run", "--rm", "--volume", volume, "bench", "--quick", "--servers", ",".join(servers), timeout=600)
    folder = only_run(tmp_path)
    check_report(folder, servers, ["hello", "io"], [16], 1)
    assert {path.stat().st_uid for path in [folder, *folder.iterdir()]} == {os.getuid()}
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["mode"] == "docker"
    assert results["run"]["limits"]["identical"] and results["run"]["limits"]["cpus"] == "1"
    # What stands for the image ids: each image's digest of its packages and code.
    images = results["run"]["images"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", images[name] or "") for name in ("app", "bench")), images
    assert images["app"] != images["bench"]


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_results_folder_of_any_user_gets_that_user_s_report(lab_stack: object) -> None:
    """A user whose uid is neither root nor the image's: the same plain command works for them."""
    folder = Path(tempfile.mkdtemp(prefix="lab-results-"))  # beside, not under, root's pytest folders
    try:
        os.chown(folder, 4242, 4343)
        compose("--profile", "bench", "build", "bench")
        flags = ["--quick", "--servers", "gunicorn-sync", "--scenarios", "hello"]
        compose("run", "--rm", "--volume", f"{folder}:/lab/results", "bench", *flags, timeout=600)
        run = only_run(folder)
        written = [run, *run.rglob("*"), folder / "index.html"]
        assert {(path.stat().st_uid, path.stat().st_gid) for path in written} == {(4242, 4343)}
        assert (run / "report.html").is_file()
    finally:
        shutil.rmtree(folder)


# --- native mode's CPUs -----------------------------------------------------------------------


@contextmanager
def pretend_serve(server: matrix.Server, **kwargs: object) -> Iterator[str]:
    """native.serve without a process: these tests are about this process's CPUs."""
    yield f"http://127.0.0.1:1/{server.name}"


@pytest.mark.unit
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="native mode pins nothing on one CPU")
@pytest.mark.parametrize("ending", ["normally", "with an exception"])
def test_native_mode_gives_the_cpus_back(monkeypatch: pytest.MonkeyPatch, ending: str) -> None:
    monkeypatch.setattr(native, "serve", pretend_serve)
    before = os.sched_getaffinity(0)
    servers = [matrix.get("gunicorn-sync"), matrix.get("flask-dev")]
    expected = pytest.raises(KeyboardInterrupt) if ending != "normally" else contextlib.nullcontext()
    with expected, NativeTargets(servers) as targets:
        assert targets.server_cpus == {min(before)}
        assert os.sched_getaffinity(0) == before - {min(before)}, "Locust keeps off the servers' CPU"
        if ending != "normally":
            raise KeyboardInterrupt  # as Ctrl-C in the middle of a run
    assert os.sched_getaffinity(0) == before


@pytest.mark.unit
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="native mode pins nothing on one CPU")
def test_native_mode_that_fails_to_start_leaves_the_cpus_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def failing(server: matrix.Server, **kwargs: object) -> Iterator[str]:
        raise native.ServerFailed(f"{server.name} did not answer")
        yield ""

    monkeypatch.setattr(native, "serve", failing)
    before = os.sched_getaffinity(0)
    with pytest.raises(BenchError, match="upstream service"), NativeTargets([matrix.get("gunicorn-sync")]):
        pass
    assert os.sched_getaffinity(0) == before


@pytest.mark.unit
def test_a_results_folder_of_another_user_names_the_command_that_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a user whose uid is not the container's sees in Docker: the mount belongs to them.
    owner = tmp_path.stat()
    monkeypatch.setattr(runner.os, "getuid", lambda: owner.st_uid + 1)

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(BenchError) as refused:
        runner.new_run_folder(tmp_path)
    message = str(refused.value)
    assert message.startswith(f"--output: cannot create {tmp_path}/")
    assert f"LAB_UID={owner.st_uid} LAB_GID={owner.st_gid} docker compose run --rm bench" in message
    # The folder's own user gets no such advice: the cause is elsewhere.
    monkeypatch.setattr(runner.os, "getuid", lambda: owner.st_uid)
    with pytest.raises(BenchError) as refused:
        runner.new_run_folder(tmp_path)
    assert "LAB_UID" not in str(refused.value)


@pytest.mark.unit
def test_native_mode_elsewhere_than_linux_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(BenchError, match="--native runs the servers on Linux only, not on darwin"):
        NativeTargets(matrix.load()[:1]).__enter__()

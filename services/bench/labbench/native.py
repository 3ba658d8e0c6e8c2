"""Run a server's real command from compose.yaml on loopback, without Docker.

    with native.serve(matrix.get("gunicorn-sync")) as url:
        urllib.request.urlopen(url + "/")

Each server starts in a session of its own, so that stopping it reaches every
worker it forked and the app's /_lab/usage endpoint can sum its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from labbench.appclient import AppClient
from labcore import matrix, protocol


class ServerFailed(RuntimeError):
    """The server exited or never answered; the message carries its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(server: matrix.Server, upstream_url: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ) | extra
    # The server's command (gunicorn, uwsgi, flask, python) comes from this
    # interpreter's environment, as it would from the image's.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix  # uWSGI finds the virtualenv's packages through it
    env["LAB_USAGE_SOURCE"] = "process"
    if upstream_url:
        env["LAB_UPSTREAM_URL"] = upstream_url
    return env


def serves_own_app(env: Mapping[str, str]) -> bool:
    """Whether servers started with ``env`` serve the user's app (LAB_APP_MODULE), not the lab's."""
    return bool(env.get(protocol.APP_MODULE_ENV))


def _stop(process: subprocess.Popen, grace: float) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with suppress(ProcessLookupError):
        # Whatever is left of the group: workers that ignored SIGTERM.
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def serve(
    server: matrix.Server,
    *,
    upstream_url: str | None = None,
    startup_timeout: float = 30,
    grace: float = 10,
    cpus: set[int] | None = None,
    env: dict[str, str] | None = None,
    log: IO[str] | None = None,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Start ``server`` on a free loopback port; yield its base URL; stop it.

    ``cpus`` pins the server (and every worker it forks) to those CPUs, the
    native stand-in for a container's CPU limit. ``env`` adds environment
    variables (the LAB_* knobs, read by the command and the app). ``log``, a
    file opened for reading and writing, receives the server's output;
    without one it goes to a temporary file, shown if the server fails.
    ``cwd`` is the server's working directory (default: this process's).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    extra = env or {}
    argv = server.argv("127.0.0.1", port, dict(os.environ) | extra)
    own_app = serves_own_app(dict(os.environ) | extra)
    with contextlib.ExitStack() as stack:
        if log is None:
            log = stack.enter_context(tempfile.TemporaryFile("w+"))
        process = subprocess.Popen(
            argv,
            env=_environment(server, upstream_url, extra),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while not (AppClient(url).responds() if own_app else AppClient(url).alive()):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    state = f"exited with {process.returncode}" if process.poll() is not None else "did not answer"
                    raise ServerFailed(f"{server.name} ({' '.join(argv)}) {state}:\n{log.read()[-3000:]}")
                time.sleep(0.1)
            yield url
        finally:
            _stop(process, grace)

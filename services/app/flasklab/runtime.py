"""What is serving this request: the server, its concurrency model, and load.

``/_lab/whoami`` (:mod:`flasklab.instruments`) reports what the running process actually is, detected at run
time rather than read from configuration, so a misconfigured server (say,
uWSGI in gevent mode without monkey patching) shows up as what it really is.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")

_lock = threading.Lock()
_in_flight = 0


def enter() -> None:
    """A request reached this process (the instruments count every one, for any app)."""
    global _in_flight
    with _lock:
        _in_flight += 1


def leave() -> None:
    """The app returned that request's response."""
    global _in_flight
    with _lock:
        _in_flight -= 1


def in_flight() -> int:
    """Requests this process is serving right now, this one included."""
    return _in_flight


def patched_by() -> str | None:
    """The library that monkey-patched this process's sockets, if any."""
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            return "gevent"
    if "eventlet" in sys.modules:
        from eventlet import patcher

        if patcher.is_monkey_patched("socket"):
            return "eventlet"
    return None


def call_in_os_thread(function: Callable[..., T], *args: Any) -> T:
    """Call ``function`` in a real OS thread and wait for it cooperatively.

    Only for monkey-patched processes: there every greenlet shares one OS
    thread, and asyncio allows one running event loop per OS thread.
    """
    if patched_by() == "gevent":
        import gevent

        return gevent.get_hub().threadpool.apply(function, args)
    from eventlet import tpool

    return tpool.execute(function, *args)


def spawn_greenlet(function: Callable[[], Any]) -> None:
    """Run ``function`` in a new greenlet of this monkey-patched process's hub."""
    if patched_by() == "gevent":
        import gevent

        gevent.spawn(function)
        return
    import eventlet

    eventlet.spawn(function)


def server_software(environ: dict[str, Any]) -> str:
    """The server's name: uWSGI does not set SERVER_SOFTWARE, so ask it."""
    if "uwsgi" in sys.modules:
        import uwsgi  # type: ignore[import-not-found]

        return f"uWSGI/{uwsgi.version.decode()}"
    if "SERVER_SOFTWARE" not in environ and patched_by() == "eventlet":
        import eventlet

        return f"eventlet.wsgi/{eventlet.__version__}"
    return str(environ.get("SERVER_SOFTWARE", "unknown"))


def greenlet_name() -> str | None:
    if "greenlet" not in sys.modules:
        return None
    import greenlet

    current = greenlet.getcurrent()
    return f"{type(current).__name__}-{id(current):x}"


def model(environ: dict[str, Any]) -> str:
    """The concurrency model in the vocabulary of compose.yaml's lab.model label."""
    if patched_by():
        unit = "greenlets"
    elif environ.get("wsgi.multithread"):
        unit = "threads"
    else:
        unit = "single"
    if environ.get("wsgi.multiprocess") or one_of_several_workers():
        return "processes" if unit == "single" else f"processes+{unit}"
    return unit


_several: dict[int, bool] = {}


def one_of_several_workers() -> bool:
    """Whether this process is one of several workers under a master.

    Granian sets ``wsgi.multiprocess`` to false whatever its ``--workers``;
    the process tree tells. (A master that forks one worker, as gunicorn
    with ``--workers 1``, runs one process of requests: not several.)
    Worked out once per process: a server's worker count is its config.
    """
    pid = os.getpid()
    if pid not in _several:
        root = server_root()
        me = psutil.Process().cmdline()
        # Siblings that run what this process runs: workers, not a pipe's other end.
        twins = [child for child in _worker_children(root) if _cmdline(child) == me]
        _several[pid] = root.pid != pid and len(twins) > 1
    return _several[pid]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _worker_children(root: psutil.Process) -> list[psutil.Process]:
    """The master's live children that run the server (not helpers such as
    multiprocessing's resource tracker)."""
    workers = []
    for child in root.children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                workers.append(child)
        except psutil.Error:
            continue
    return workers


def server_root() -> psutil.Process:
    """The server's top process: the master that forked this worker, or this
    process when nothing forked it.

    A server's workers share its process group (the native launcher, tini in
    a container and a shell's job control each give a server a group of its
    own), so walking up stops at the last ancestor in this group: never the
    container's init, a shell or whatever started the server.
    """
    group = os.getpgid(0)
    process = psutil.Process()
    while (parent := process.parent()) is not None and parent.pid != 1:
        try:
            if os.getpgid(parent.pid) != group:
                break
        except ProcessLookupError:
            break
        process = parent
    return process


def census() -> dict[str, Any]:
    """The server as a whole: its top process, when that started, and the
    worker processes it has now. Fault experiments compare two censuses: new
    worker pids under the same top process mean a master respawned them; a
    new start time means the whole server was restarted from outside."""
    root = server_root()
    # A killed worker lingers as a zombie until its master reaps it: it is
    # gone, whatever the process table still says.
    workers = sorted(child.pid for child in _worker_children(root))
    return {"pid": root.pid, "started": root.create_time(), "workers": workers}


#: Written by the image's Dockerfile; absent when the app runs outside it.
IMAGE_DIGEST = Path("/etc/lab-image-digest")


def image_digest() -> str | None:
    """The digest of the image's packages and code, if this runs in the lab's image."""
    try:
        return IMAGE_DIGEST.read_text().strip() or None
    except OSError:
        return None


def describe(environ: dict[str, Any]) -> dict[str, Any]:
    thread = threading.current_thread()
    return {
        "hostname": socket.gethostname(),
        "software": server_software(environ),
        "model": model(environ),
        "monkey_patched_by": patched_by(),
        "multithread": bool(environ.get("wsgi.multithread")),
        "multiprocess": bool(environ.get("wsgi.multiprocess")),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "thread": thread.name,
        "thread_id": threading.get_ident(),
        "greenlet": greenlet_name(),
        "in_flight": in_flight(),
        "server": census(),
        "image_digest": image_digest(),
    }

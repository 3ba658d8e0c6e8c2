"""How ``async def`` views run where gevent or eventlet has monkey-patched the process.

Flask hands every coroutine view to ``Flask.async_to_sync``, whose default is
asgiref's ``AsyncToSync``: from a thread with no running event loop, it
submits ``asyncio.run`` to a new one-thread ``ThreadPoolExecutor`` (asgiref
3.13.0, ``asgiref/sync.py``, ``AsyncToSync.__call__``: "Make our own event
loop - in a new thread - and run inside that") and waits for it. Monkey
patching turns that new thread into a greenlet on the hub's own OS thread,
and asyncio allows one running loop per OS thread, so while one async view
awaits, the next one finds a running loop and fails (a 500).

The lab's two working recipes, chosen with ``LAB_ASYNC_RECIPE`` (labcore's
``ASYNC_RECIPES``) and compared in docs/models.md:

``greenlet``  Flask's own recipe (Flask's docs, "Async with Gevent"): one
              asyncio loop per process, running forever in a greenlet of its
              own; each view is a task on it. Views wait side by side, with
              no cap; a view that computes blocks the whole process, and a
              sync view can no longer call ``asyncio.run()``.
``thread``    each view gets a new loop in a real OS thread from the hub's
              pool (gevent: 10 threads, eventlet: 20), and the greenlet waits
              for it cooperatively: the pool's size caps views at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Callable, Coroutine
from typing import Any

from flasklab import runtime

CoroutineFunction = Callable[..., Coroutine[Any, Any, Any]]

# One loop per process: a server that loads the app before forking its
# workers (uWSGI) must not hand each worker its master's loop.
_loops: dict[int, asyncio.AbstractEventLoop] = {}


def in_os_thread(func: CoroutineFunction) -> Callable[..., Any]:
    """The ``thread`` recipe: a new loop per call, in a thread of the hub's pool."""

    def run(*args: Any, **kwargs: Any) -> Any:
        # The request context lives in context variables: carry them over.
        context = contextvars.copy_context()
        return runtime.call_in_os_thread(context.run, asyncio.run, func(*args, **kwargs))

    return run


def in_loop_greenlet(func: CoroutineFunction) -> Callable[..., Any]:
    """The ``greenlet`` recipe: a task on the process's one loop, run by a greenlet."""

    def run(*args: Any, **kwargs: Any) -> Any:
        # call_soon_threadsafe captures the caller's context variables, and
        # the task starts in that copy: `request` stays bound in the view.
        future = asyncio.run_coroutine_threadsafe(func(*args, **kwargs), _process_loop())
        # A concurrent.futures wait: patched threading makes it cooperative.
        return future.result()

    return run


def _process_loop() -> asyncio.AbstractEventLoop:
    pid = os.getpid()
    if pid not in _loops:
        loop = asyncio.new_event_loop()
        runtime.spawn_greenlet(loop.run_forever)
        _loops[pid] = loop
    return _loops[pid]

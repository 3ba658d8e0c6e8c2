"""Flask Serving Lab: one small Flask app that every server in the lab imports.

The app is deliberately tiny and identical everywhere, so that what a load test
measures is the server and its concurrency model, not the app. Each endpoint
stands for one kind of workload (see ``views.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from flasklab import coroutines, errors, runtime, timeline, views
from labcore import defaults, protocol
from labcore.defaults import MAX_MS

__all__ = ["MAX_MS", "create_app"]


class LabFlask(Flask):
    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        """Run ``async def`` views so that they work under every server.

        Flask's default, asgiref's AsyncToSync, runs each coroutine in a new
        event loop in a new thread (a one-thread ThreadPoolExecutor) while
        the calling thread waits. Under gevent or eventlet that new thread is
        a greenlet on the hub's OS thread, and asyncio allows one running
        loop per OS thread, so a second concurrent async view fails. There
        the app's ``ASYNC_RECIPE`` runs it instead (see ``coroutines.py``
        and docs/models.md). The check is per call: uWSGI may monkey-patch
        its workers after the app is created.
        """
        recipe = self.config["ASYNC_RECIPE"]
        if runtime.patched_by() is None or recipe == "asgiref":
            return super().async_to_sync(func)
        if recipe == "thread":
            return coroutines.in_os_thread(func)
        return coroutines.in_loop_greenlet(func)


def _choice(variable: str, choices: tuple[str, ...], default: str) -> str:
    """A knob's value from the environment; unset or empty is ``default``,
    as Compose's ``:-`` has it."""
    value = os.environ.get(variable) or default
    if value not in choices:
        # The server's log shows this line, not a traceback. Exit status 3
        # is gunicorn's "worker failed to boot": its master stops instead of
        # respawning the worker forever.
        print(f"{variable} must be one of {', '.join(choices)}, not {value[:40]!r}", file=sys.stderr)
        raise SystemExit(3)
    return value


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the defaults (tests use it)."""
    app = LabFlask(__name__)
    app.config.update(
        MAX_MS=MAX_MS,
        # Where /upstream sends its request: the lab's `upstream` service in
        # Compose, a loopback port in native mode.
        UPSTREAM_URL=os.environ.get("LAB_UPSTREAM_URL", "http://upstream:8000"),
        # How async def views run in a monkey-patched process (coroutines.py).
        ASYNC_RECIPE=_choice(protocol.ASYNC_RECIPE_ENV, defaults.ASYNC_RECIPES, defaults.ASYNC_RECIPE),
        # Behind one proxy (compose.yaml's `proxy`), take the client's address,
        # scheme and host from its X-Forwarded-* headers. Off by default: with
        # it on, any client that reaches the server directly can claim any
        # address or scheme in those headers (docs/deploy.md).
        PROXY_FIX=_choice(protocol.PROXY_FIX_ENV, ("0", "1"), "0") == "1",
    )
    if config:
        app.config.update(config)

    timeline.init_app(app)
    errors.init_app(app)
    app.register_blueprint(views.bp)
    if app.config["PROXY_FIX"]:
        # One hop: the last value of each header, the one our proxy set.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    return app

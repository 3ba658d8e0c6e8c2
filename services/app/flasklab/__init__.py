"""Flask Serving Lab: one small Flask app that every server in the lab imports.

The app is deliberately tiny and identical everywhere, so that what a load test
measures is the server and its concurrency model, not the app. Each endpoint
stands for one kind of workload (see ``views.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from flasklab import errors, faults, runtime, timeline, views
from labcore import protocol
from labcore.defaults import MAX_MS

__all__ = ["MAX_MS", "create_app"]


class LabFlask(Flask):
    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        """Run ``async def`` views so that they work under every server.

        Flask's default (asgiref's AsyncToSync) runs each coroutine in a new
        event loop on the calling thread. Under gevent or eventlet every
        greenlet shares one OS thread, and asyncio allows one running loop per
        OS thread, so a second concurrent async view fails. There the
        coroutine runs in a real thread from the hub's pool instead, while
        the greenlet waits cooperatively: the pool's size then caps how many
        async views run at once (see docs/models.md).
        """
        if runtime.patched_by() is None:
            return super().async_to_sync(func)

        def run(*args: Any, **kwargs: Any) -> Any:
            # The request context lives in context variables: carry them over.
            context = contextvars.copy_context()
            return runtime.call_in_os_thread(context.run, asyncio.run, func(*args, **kwargs))

        return run


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the defaults (tests use it)."""
    app = LabFlask(__name__)
    app.config.update(
        MAX_MS=MAX_MS,
        # Where /upstream sends its request: the lab's `upstream` service in
        # Compose, a loopback port in native mode.
        UPSTREAM_URL=os.environ.get("LAB_UPSTREAM_URL", "http://upstream:8000"),
        # "cgroup" inside a container (the whole container is the server);
        # "process" natively (the server's process group).
        USAGE_SOURCE=os.environ.get("LAB_USAGE_SOURCE", "process"),
        # /fault/* lets a request kill or stop its own server: only where the
        # lab turns it on (compose.yaml, the native launcher), never by default.
        FAULT_ENDPOINTS=os.environ.get(protocol.FAULT_ENDPOINTS_ENV) == "1",
        # Behind one proxy (compose.yaml's `proxy`), take the client's address,
        # scheme and host from its X-Forwarded-* headers. Off by default: with
        # it on, any client that reaches the server directly can claim any
        # address or scheme in those headers (docs/deploy.md).
        PROXY_FIX=os.environ.get(protocol.PROXY_FIX_ENV) == "1",
    )
    if config:
        app.config.update(config)

    runtime.init_app(app)
    timeline.init_app(app)
    errors.init_app(app)
    app.register_blueprint(views.bp)
    if app.config["FAULT_ENDPOINTS"]:
        app.register_blueprint(faults.bp)
    if app.config["PROXY_FIX"]:
        # One hop: the last value of each header, the one our proxy set.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    return app

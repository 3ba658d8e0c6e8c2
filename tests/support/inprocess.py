"""The lab's app served from this test process, on a loopback port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from werkzeug.serving import make_server

from flasklab import appload, create_app
from labcore import defaults

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


@contextmanager
def serve_app() -> Iterator[str]:
    """The app, inside the lab's instruments as every server serves it, under
    Werkzeug's threaded server in a thread of this process; yields its URL."""
    with serve_wsgi(appload.wrap(create_app(), defaults.APP_MODULE)) as url:
        yield url


@contextmanager
def serve_wsgi(app: WSGIApplication) -> Iterator[str]:
    """Any WSGI app as it is, under Werkzeug's threaded server in a thread of this process; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()

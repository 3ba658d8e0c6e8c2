"""What a server runs when its own stack cannot start beside the app.

An app's pins win in the image (docs/own-app.md): an app that pins
``greenlet<3`` leaves gevent and eventlet unable to import. What needs them
first calls :func:`main` instead of crashing (the gevent and eventlet
launchers, gunicorn's config for its gevent worker, and :func:`uwsgi_stack`
for uWSGI's gevent loop), so that Compose does not restart the server
forever and ``up --wait`` still succeeds: this process serves, on the
server's own address with Werkzeug's threaded server, the lab's
instruments, ``/_lab/whoami`` with the cause, and a 503 naming it everywhere else.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn

from werkzeug.serving import make_server

from flasklab import appload
from labcore import defaults, protocol, stackcheck


def address(argv: list[str]) -> tuple[str, int]:
    """The host and port a server's command line asks for: ``--host``/``--port`` or gunicorn's ``--bind``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--bind", "-b")
    args, _ = parser.parse_known_args(argv)
    if args.bind:
        host, _, port = args.bind.rpartition(":")
        return host or "0.0.0.0", int(port)
    return args.host, args.port


def main(cause: str) -> NoReturn:
    """Serve the refusal, for ``cause``, on this server's address until stopped; never returns."""
    spec = os.environ.get(protocol.APP_MODULE_ENV) or defaults.APP_MODULE
    app = appload.refuse(spec, cause)
    # Stop at once on SIGTERM, as a server would (uWSGI's own handler waits
    # for a master loop that never comes).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if "uwsgi" in sys.modules:
        import uwsgi  # type: ignore[import-not-found]

        # uWSGI's master has bound the address already: serve on its socket.
        server = make_server("0.0.0.0", 0, app, threaded=True, fd=uwsgi.sockets[0])
    else:
        host, port = address(sys.argv[1:])
        server = make_server(host, port, app, threaded=True)
    server.serve_forever()
    raise SystemExit(0)


def uwsgi_stack() -> None:
    """Under uWSGI with ``--gevent``, whose workers import gevent only after
    the master has loaded the app: check it here, in the master, where the
    refusal can still take over (each worker would die and be respawned)."""
    if "uwsgi" not in sys.modules:
        return
    import uwsgi

    if not uwsgi.opt.get("gevent"):
        return
    if (cause := stackcheck.problem("gevent", "gevent (uWSGI's gevent loop)")) is not None:
        main(cause)

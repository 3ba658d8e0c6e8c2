"""gevent's own WSGI server: one process, a greenlet per connection.

python -m serve.gevent_pywsgi --host 0.0.0.0 --port 8000
"""

from labcore import stackcheck

if (cause := stackcheck.problem("gevent")) is not None:
    # The app's pins broke gevent (an app that pins greenlet<3): say so and
    # keep answering the lab, rather than crash and restart forever.
    from flasklab import refusal

    refusal.main(cause)

from gevent import monkey

# First, before anything imports socket, time or threading.
monkey.patch_all()

import argparse  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from flasklab.wsgi import ACCESS_LOG, app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--connections", type=int, default=1000, help="greenlets (connections) served at once")
    parser.add_argument(
        "--no-access-log",
        action="store_true",
        help="never log a request, whatever LAB_ACCESS_LOG says (the upstream service uses this)",
    )
    parser.add_argument("--nagle", action="store_true", help="leave Nagle's algorithm on, as pywsgi ships (see below)")
    parser.add_argument(
        "--grace", type=float, default=8.0, help="seconds requests in flight get to finish after SIGTERM (8)"
    )
    args = parser.parse_args()
    # pywsgi's default, "default", is a line per request on stderr; None: no access log.
    log = "default" if ACCESS_LOG and not args.no_access_log else None
    server = WSGIServer((args.host, args.port), app, spawn=Pool(args.connections), log=log)
    server.init_socket()
    if not args.nagle:
        # pywsgi sends headers and body separately and leaves Nagle's
        # algorithm on, so on a keep-alive connection each response waits for
        # the client's delayed ACK: about 40 ms on Linux. gunicorn sets
        # TCP_NODELAY on its listener; so does this launcher (accepted
        # connections inherit it). docs/concurrency.md shows the difference.
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # On SIGTERM, stop accepting and give requests in flight the grace period
    # (under Compose's 10 s stop_grace_period). Both calls matter: the handler's
    # stop ends serve_forever, whose own stop would otherwise kill every
    # handler after stop_timeout's default of 1 s, whatever the handler asked.
    server.stop_timeout = args.grace
    gevent.signal_handler(signal.SIGTERM, server.stop)
    server.serve_forever(stop_timeout=args.grace)


if __name__ == "__main__":
    main()

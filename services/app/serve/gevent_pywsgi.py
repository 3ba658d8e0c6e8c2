"""gevent's own WSGI server: one process, a greenlet per connection.

python -m serve.gevent_pywsgi --host 0.0.0.0 --port 8000
"""

from gevent import monkey

# First, before anything imports socket, time or threading.
monkey.patch_all()

import argparse  # noqa: E402
import signal  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from flasklab.wsgi import app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--connections", type=int, default=1000, help="greenlets (connections) served at once")
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log each request (the upstream service uses this)"
    )
    args = parser.parse_args()
    log = None if args.no_access_log else "default"
    server = WSGIServer((args.host, args.port), app, spawn=Pool(args.connections), log=log)
    # Stop accepting on SIGTERM and give requests in flight a moment to finish.
    gevent.signal_handler(signal.SIGTERM, server.stop, 5)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""eventlet's own WSGI server: one process, a green thread per connection.

    python -m serve.eventlet_wsgi --host 0.0.0.0 --port 8000

Gunicorn 26 dropped its eventlet worker, so eventlet serves the app itself.
"""

from labcore import stackcheck

if (cause := stackcheck.problem("eventlet")) is not None:
    # The app's pins broke eventlet (say, a greenlet it cannot use): say so
    # and keep answering the lab, rather than crash and restart forever.
    from flasklab import refusal

    refusal.main(cause)

import eventlet

# First, before anything imports socket, time or threading.
eventlet.monkey_patch()

import argparse  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from eventlet import wsgi  # noqa: E402

from flasklab.wsgi import ACCESS_LOG, app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--connections", type=int, default=1000, help="green threads (connections) served at once")
    args = parser.parse_args()
    # The default SIGTERM action would do, but exiting through Python flushes logs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # log_output: eventlet's access log (a line per request on stderr), on by default; the lab's policy decides.
    wsgi.server(eventlet.listen((args.host, args.port)), app, max_size=args.connections, log_output=ACCESS_LOG)


if __name__ == "__main__":
    main()

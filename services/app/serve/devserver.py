"""Werkzeug's development server through ``app.run``, as the Flask docs show it.

    python -m serve.devserver --host 0.0.0.0 --port 8000 --no-threads
    python -m serve.devserver --host 0.0.0.0 --port 8000 --no-threads --processes 4

``flask run`` covers the threaded default; this covers the two variants that
only ``app.run`` offers. With ``processes=N`` Werkzeug forks a new child for
every request, at most N at a time.
"""

from __future__ import annotations

import argparse

from flasklab.wsgi import app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-threads", dest="threaded", action="store_false", help="one request at a time per process")
    parser.add_argument(
        "--processes", type=int, default=1, help="fork a process per request, at most this many at once"
    )
    args = parser.parse_args()
    app.run(host=args.host, port=args.port, threaded=args.threaded, processes=args.processes)


if __name__ == "__main__":
    main()

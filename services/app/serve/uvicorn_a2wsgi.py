"""uvicorn serving the Flask app through a2wsgi: Flask under an ASGI server.

python -m serve.uvicorn_a2wsgi --host 0.0.0.0 --port 8000 --workers 4 --threads 10

uvicorn's ``--workers`` starts that many processes, each importing the app by
name, so the adapter's thread count reaches them as an environment variable
(:data:`serve.asgi.THREADS_VARIABLE`); uvicorn's own command line has no
place for it.
"""

import argparse
import os

import uvicorn

from labcore import accesslog
from serve.asgi import THREADS_VARIABLE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=4, help="uvicorn worker processes")
    parser.add_argument("--threads", type=int, default=10, help="a2wsgi's thread pool per worker (its default: 10)")
    args = parser.parse_args()
    os.environ[THREADS_VARIABLE] = str(args.threads)
    # uvicorn logs each request (to the uvicorn.access logger) unless access_log=False.
    access_log = accesslog.enabled_or_exit()
    uvicorn.run("serve.asgi:app", host=args.host, port=args.port, workers=args.workers, access_log=access_log)


if __name__ == "__main__":
    main()

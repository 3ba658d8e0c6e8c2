"""The Flask app as an ASGI app: a2wsgi's WSGI-to-ASGI adapter around it.

What ``uvicorn-a2wsgi`` serves (see :mod:`serve.uvicorn_a2wsgi`). The adapter
runs each request's WSGI call in a thread pool of its own, ``threads`` per
worker process, while uvicorn's event loop does the network I/O: the Flask
views still block a thread each, exactly as under a threaded WSGI server.
"""

import os

from a2wsgi import WSGIMiddleware

from flasklab.wsgi import app as flask_app

#: Set by the launcher for every worker process it starts.
THREADS_VARIABLE = "LAB_A2WSGI_THREADS"

app = WSGIMiddleware(flask_app, workers=int(os.environ.get(THREADS_VARIABLE, "10")))

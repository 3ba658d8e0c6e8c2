"""The app's side of the lab's access-logging policy (:mod:`labcore.accesslog`).

Two servers need the app's help to follow it:

* Werkzeug's dev server logs each request to the ``werkzeug`` logger, and
  ``flask run`` has no flag to stop it; with the policy off, a filter on that
  logger drops the request lines (its start-up banner and errors still show).
* Waitress writes no access log at all (its docs point to a WSGI middleware
  such as Paste's TransLogger); with the policy on, :class:`AccessLog`
  writes one, a line per request in the common log format on stdout.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

WERKZEUG_LOGGER = "werkzeug"
#: The format of every request line of Werkzeug's ``WSGIRequestHandler.log_request``.
_WERKZEUG_REQUEST_LINE = '"%s" %s %s'

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def _not_a_request_line(record: logging.LogRecord) -> bool:
    return not (isinstance(record.msg, str) and record.msg.endswith(_WERKZEUG_REQUEST_LINE))


def werkzeug_request_lines(enabled: bool) -> None:
    """Let Werkzeug's dev server log each request, or not."""
    logger = logging.getLogger(WERKZEUG_LOGGER)
    if enabled:
        logger.removeFilter(_not_a_request_line)
    else:
        logger.addFilter(_not_a_request_line)


def _stdout_logger() -> logging.Logger:
    logger = logging.getLogger("flasklab.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class AccessLog:
    """WSGI middleware: a line per request on stdout, in the common log format
    (``host - - [time] "request line" status bytes``), as servers write it."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.logger = _stdout_logger()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen: dict[str, str] = {}

        def recording(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            seen["size"] = next((value for name, value in headers if name.lower() == "content-length"), "-")
            return start_response(status, headers, *args)

        body = self.app(environ, recording)
        query = environ.get("QUERY_STRING")
        target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        self.logger.info(
            '%s - - [%s] "%s %s %s" %s %s',
            environ.get("REMOTE_ADDR", "-"),
            time.strftime("%d/%b/%Y:%H:%M:%S %z"),
            environ.get("REQUEST_METHOD", "-"),
            target,
            environ.get("SERVER_PROTOCOL", "-"),
            seen.get("status", "-"),
            seen.get("size", "-"),
        )
        return body

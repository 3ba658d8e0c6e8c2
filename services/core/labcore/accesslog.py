"""The lab's access-logging policy: one knob, ``LAB_ACCESS_LOG``, for every server.

Servers ship with different habits: gunicorn and Granian log no request
unless asked, uWSGI, Werkzeug, gevent's pywsgi, eventlet and uvicorn log
every one, and Waitress has no access log at all. Left as shipped, ``hello``
would compare servers doing different work, so the lab gives all of them the
same policy: off by default (docs/methodology.md says why, with the
measured cost), a line per request on stdout with ``LAB_ACCESS_LOG=1``.

compose.yaml passes the knob to every server, each server's command turns it
into that server's own switch, and the app checks it (so a bad value stops
every server with this module's message). Natively, the servers inherit it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: The environment variable (a Compose knob, read by the servers and labbench).
VARIABLE = "LAB_ACCESS_LOG"
#: Its default, as compose.yaml spells it: ``${LAB_ACCESS_LOG:-0}``.
DEFAULT = "0"
_MEANINGS = {"0": False, "1": True}


class AccessLogError(ValueError):
    """``LAB_ACCESS_LOG`` is neither 0 nor 1."""


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether servers log each request: ``LAB_ACCESS_LOG`` in ``environ``
    (default: this process's environment); unset or empty means the default,
    as Compose's ``:-`` does."""
    value = (os.environ if environ is None else environ).get(VARIABLE) or DEFAULT
    if value not in _MEANINGS:
        raise AccessLogError(f"{VARIABLE} must be 0 (no access log) or 1 (a line per request on stdout), not {value!r}")
    return _MEANINGS[value]


def enabled_or_exit(environ: Mapping[str, str] | None = None) -> bool:
    """:func:`enabled`, for a server starting up: a bad value ends the process
    with the message alone (a server's log is no place for a traceback)."""
    try:
        return enabled(environ)
    except AccessLogError as error:
        raise SystemExit(str(error)) from None

"""Whether a server's own stack (gevent, eventlet) can run beside the app.

The app image installs your app last, so its pins win (docs/own-app.md), and
records ``pip check`` in :data:`PIP_CHECK`. A server whose stack then cannot
be imported, or whose stack pip says lacks a requirement (gevent 26 beside
an app that pins ``greenlet<3``), refuses the app instead of running an
unsupported combination. Plain standard library: the gevent and eventlet
launchers ask before they monkey-patch, before anything imports Flask.
"""

from __future__ import annotations

import importlib
from pathlib import Path

#: Where the app image records ``pip check`` after installing the app (services/app/Dockerfile).
PIP_CHECK = Path("/etc/lab-pip-check")


def conflicts() -> list[str]:
    """The image's ``pip check`` findings, a line each; none outside the image."""
    try:
        lines = PIP_CHECK.read_text().splitlines()
    except OSError:
        return []
    return [line.strip() for line in lines if " requires " in line or " has requirement " in line]


def problem(distribution: str, what: str | None = None) -> str | None:
    """Why ``distribution`` (importable under the same name) cannot serve beside the app, in one line; None if it can.

    ``what`` names it in the message (default: the distribution)."""
    what = what or distribution
    try:
        importlib.import_module(distribution)
    except Exception as error:
        text = " ".join(str(error).split())
        found = "; ".join(conflicts())
        pins = f"; pip check: {found}" if found else ""
        return f"{what} cannot be imported beside the app ({type(error).__name__}: {text}){pins}"
    unmet = [line for line in conflicts() if line.lower().startswith(distribution.lower() + " ")]
    if unmet:
        return f"{what} lacks what it requires beside the app's pins: {'; '.join(unmet)}"
    return None

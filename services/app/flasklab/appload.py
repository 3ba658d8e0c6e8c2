"""Load the app every server serves (``LAB_APP_MODULE``) and put the lab's
instruments around it; when it cannot be loaded, serve the refusal instead.

    app = appload.serve("myapp:create_app()")   # a Flask object, whatever the app is

``module:name`` names a WSGI callable, ``module:factory()`` (with literal
arguments, if any) an app factory, as gunicorn and ``flask --app`` accept
them; a bare ``module`` looks for ``app``, then ``application``. What could
not be loaded becomes one line naming the cause (:class:`AppRefused`), and
the server goes on answering the lab's instruments, ``/_lab/whoami`` with
that line, and a 503 with it everywhere else: one app that cannot run under
one server never stops the others, and never shows the user a traceback.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any

from flask import Flask

from flasklab.instruments import Instruments, WSGIApp, refusal
from labcore import stackcheck

_BARE_NAMES = ("app", "application")


class AppRefused(Exception):
    """The app named by ``LAB_APP_MODULE`` cannot be served here; the message says why, in one line."""


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _parse(spec: str) -> tuple[str, ast.expr | None]:
    """``module:expression`` as a module name and a parsed name or call."""
    module, _, expression = spec.strip().partition(":")
    problem = f"LAB_APP_MODULE must be module:name or module:factory(), not {spec[:80]!r}"
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise AppRefused(problem)
    if not expression:
        return module, None
    try:
        parsed = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise AppRefused(problem) from None
    target = parsed.func if isinstance(parsed, ast.Call) else parsed
    if not isinstance(target, ast.Name):
        raise AppRefused(problem)
    return module, parsed


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and (module == error.name or module.startswith(error.name + ".")):
            raise AppRefused(
                f"no module named {error.name!r}: is the app in LAB_APP_DIR, and LAB_APP_MODULE spelled right?"
            ) from None
        raise AppRefused(f"importing {module!r} failed: {one_line(error)}") from None
    except Exception as error:
        # Often a dependency that the app and a server's package need at
        # different versions: the image's pip check says which.
        found = "; ".join(stackcheck.conflicts())
        pins = f"; pip check: {found}" if found else ""
        raise AppRefused(f"importing {module!r} raised {one_line(error)}{pins}") from None


def load(spec: str) -> WSGIApp:
    """The WSGI callable ``spec`` names; :class:`AppRefused` if there is none."""
    module_name, expression = _parse(spec)
    module = _import(module_name)
    if expression is None:
        found = next((getattr(module, name) for name in _BARE_NAMES if hasattr(module, name)), None)
        if found is None:
            raise AppRefused(f"module {module_name!r} has no 'app' or 'application': name it, {module_name}:<name>")
        return _callable(found, spec)
    call = expression if isinstance(expression, ast.Call) else None
    name = call.func.id if call is not None else expression.id  # type: ignore[attr-defined]
    if not hasattr(module, name):
        raise AppRefused(f"module {module_name!r} has no attribute {name!r}")
    found = getattr(module, name)
    if call is None:
        return _callable(found, spec)
    try:
        args = [ast.literal_eval(arg) for arg in call.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg is not None}
    except ValueError:
        raise AppRefused(f"the factory's arguments in {spec!r} must be Python literals") from None
    try:
        app = found(*args, **kwargs)
    except Exception as error:
        raise AppRefused(f"the factory {spec!r} raised {one_line(error)}") from None
    return _callable(app, spec)


def _callable(found: Any, spec: str) -> WSGIApp:
    if not callable(found):
        raise AppRefused(f"{spec!r} is a {type(found).__name__}, not a WSGI app")
    return found


def program() -> str:
    """The server's program, as its command line names it: ``gunicorn``, ``uwsgi``, ``gevent_pywsgi``."""
    first = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else ""
    return Path(first).stem or "this server"


def refusal_message(spec: str, cause: str) -> str:
    return f"{program()} cannot serve the app {spec!r}: {cause}"


def wrap(app: WSGIApp, spec: str, refused: str | None = None) -> Flask:
    """``app`` inside the lab's instruments, as a Flask object.

    A Flask app gets them the way Flask documents for WSGI middleware, around
    its ``wsgi_app``; any other WSGI app rides in an empty Flask object that
    does the same. Either way the entry is a Flask object, which ``flask
    run`` (the ``flask-dev`` server) requires; every other server just calls it.
    """
    if isinstance(app, Flask):
        app.wsgi_app = Instruments(app.wsgi_app, module=spec, refused=refused)  # type: ignore[method-assign]
        return app
    carrier = Flask(__name__)
    carrier.wsgi_app = Instruments(app, module=spec, refused=refused)  # type: ignore[method-assign]
    return carrier


def refuse(spec: str, cause: str) -> Flask:
    """The instruments around a refusal: what a server serves when the app cannot run in it."""
    message = refusal_message(spec, cause)
    # The server's log gets the one line, the user no traceback.
    print(message, file=sys.stderr, flush=True)
    return wrap(refusal(message), spec, refused=cause)


def serve(spec: str) -> Flask:
    """The app ``spec`` names inside the lab's instruments, or its refusal."""
    try:
        return wrap(load(spec), spec)
    except AppRefused as error:
        return refuse(spec, str(error))

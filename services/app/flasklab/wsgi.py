"""The WSGI entry points every server imports: ``flasklab.wsgi:app``, and
``flasklab.wsgi:logged_app`` for servers without an access log of their own.

Both follow the lab's access-logging policy, ``LAB_ACCESS_LOG``
(:mod:`labcore.accesslog`); a bad value stops the server here, with its message.

With ``LAB_APP_MODULE`` set (``module:name`` or ``module:factory()``, as
gunicorn and Flask take it), ``app`` is the user's app instead of the lab's,
so every server's command in compose.yaml serves it unchanged, the
gevent/eventlet launchers still patching before it is imported
(docs/own-app.md). The app must be installed where the servers run
(``pip install LAB_APP_DIR``), as any library is.
"""

import importlib
import os
import sys
from typing import Any

from flasklab import accesslog, create_app
from labcore import accesslog as policy
from labcore import protocol

ACCESS_LOG = policy.enabled_or_exit()


def load(spec: str) -> Any:
    """The WSGI callable that ``module:name`` or ``module:factory()`` names; exits with why not."""
    module_name, colon, name = spec.partition(":")
    factory = name.endswith("()")
    name = name.removesuffix("()")
    if not colon or not module_name or not name.isidentifier():
        sys.exit(f"{protocol.APP_MODULE_ENV}: expected module:name or module:factory(), not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        sys.exit(f"{protocol.APP_MODULE_ENV}={spec}: cannot import {module_name} (is the app installed?): {error}")
    found = getattr(module, name, None)
    if found is None:
        sys.exit(f"{protocol.APP_MODULE_ENV}={spec}: {module_name} has no {name}")
    return found() if factory else found


user_module = os.environ.get(protocol.APP_MODULE_ENV)
app = load(user_module) if user_module else create_app()
accesslog.werkzeug_request_lines(ACCESS_LOG)

#: ``app``, with a line per request on stdout when the policy is on: for
#: Waitress, which writes none itself.
logged_app = accesslog.AccessLog(app) if ACCESS_LOG else app

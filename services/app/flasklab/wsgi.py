"""The WSGI entry points every server imports: ``flasklab.wsgi:app``, and
``flasklab.wsgi:logged_app`` for servers without an access log of their own.

``app`` is the app ``LAB_APP_MODULE`` names (the lab's own by default) inside
the lab's instruments (:mod:`flasklab.appload`), or, when that app cannot run
here, the instruments around its refusal. Both follow the lab's
access-logging policy, ``LAB_ACCESS_LOG`` (:mod:`labcore.accesslog`); a bad
value stops the server here, with its message.
"""

import os

from flasklab import accesslog, appload, refusal
from labcore import accesslog as policy
from labcore import defaults, protocol

ACCESS_LOG = policy.enabled_or_exit()
refusal.uwsgi_stack()

#: What LAB_APP_MODULE names; unset or empty is the lab's own app, as Compose's ``:-`` has it.
MODULE = os.environ.get(protocol.APP_MODULE_ENV) or defaults.APP_MODULE

app = appload.serve(MODULE)
accesslog.werkzeug_request_lines(ACCESS_LOG)

#: ``app``, with a line per request on stdout when the policy is on: for
#: Waitress, which writes none itself.
logged_app = accesslog.AccessLog(app) if ACCESS_LOG else app

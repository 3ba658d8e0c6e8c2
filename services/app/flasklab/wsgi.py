"""The WSGI entry points every server imports: ``flasklab.wsgi:app``, and
``flasklab.wsgi:logged_app`` for servers without an access log of their own.

Both follow the lab's access-logging policy, ``LAB_ACCESS_LOG``
(:mod:`labcore.accesslog`); a bad value stops the server here, with its message.
"""

from flasklab import accesslog, create_app
from labcore import accesslog as policy

ACCESS_LOG = policy.enabled_or_exit()

app = create_app()
accesslog.werkzeug_request_lines(ACCESS_LOG)

#: ``app``, with a line per request on stdout when the policy is on: for
#: Waitress, which writes none itself.
logged_app = accesslog.AccessLog(app) if ACCESS_LOG else app

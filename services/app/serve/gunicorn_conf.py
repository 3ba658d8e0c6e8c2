"""gunicorn's settings that follow the lab's policies: ``--config python:serve.gunicorn_conf``.

gunicorn takes an access log as a file name (``--access-logfile -``:
stdout) and has none without one; a flag cannot say "none", so the lab's
``LAB_ACCESS_LOG`` reaches it here, as a setting of this config module.
Flags on the command line still override it.
"""

import itertools
import sys

from labcore import accesslog as policy
from labcore import stackcheck


# Not a gunicorn setting name: every public name of this module that is one becomes a setting.
def requested_worker_class(argv: list[str]) -> str | None:
    for flag, value in itertools.pairwise(argv):
        if flag in ("-k", "--worker-class"):
            return value
    return next((arg.split("=", 1)[1] for arg in argv if arg.startswith("--worker-class=")), None)


# gunicorn imports its gevent worker (and gevent) before any app code: an
# app whose pins broke gevent would stop the master at once, and Compose
# would restart it forever. gunicorn reads this file first, so the refusal
# takes over this process here instead, on the same address.
if (
    requested_worker_class(sys.argv) == "gevent"
    and (cause := stackcheck.problem("gevent", "gevent (gunicorn's gevent worker)")) is not None
):
    from flasklab import refusal

    refusal.main(cause)

#: stdout with the policy on; gunicorn's own default, no access log, with it off.
accesslog = "-" if policy.enabled_or_exit() else None

#: gunicorn 25.1+ opens a control socket for gunicornc by default, under $HOME:
#: the lab's read-only containers (home /nonexistent) made every start log
#: "Control server error: [Errno 30] Read-only file system". The lab never
#: uses it, and an idle socket is one thing less to trust.
control_socket_disable = True

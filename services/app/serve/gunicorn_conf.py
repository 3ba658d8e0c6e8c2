"""gunicorn's settings that follow the lab's policies: ``--config python:serve.gunicorn_conf``.

gunicorn takes an access log as a file name (``--access-logfile -``:
stdout) and has none without one; a flag cannot say "none", so the lab's
``LAB_ACCESS_LOG`` reaches it here, as a setting of this config module.
Flags on the command line still override it.
"""

from labcore import accesslog as policy

#: stdout with the policy on; gunicorn's own default, no access log, with it off.
accesslog = "-" if policy.enabled_or_exit() else None

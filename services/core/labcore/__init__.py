"""labcore: the facts every part of the lab shares, each written once.

* :mod:`labcore.matrix`: the server matrix, read from compose.yaml's labels;
* :mod:`labcore.scenarios`: the load scenarios as plain data (request, kind
  of work, what a correct answer is), from which the locustfile builds its
  User classes and the runner describes its cells;
* :mod:`labcore.defaults`: the numbers with a default (work per request, the
  app's cap, the fault experiments' lengths);
* :mod:`labcore.accesslog`: the access-logging policy every server follows
  (the ``LAB_ACCESS_LOG`` knob);
* :mod:`labcore.stackcheck`: whether gevent or eventlet can serve beside
  the app's pins (the image's ``pip check``), asked before monkey patching;
* :mod:`labcore.protocol`: the strings two processes agree on (the app's
  instrument endpoints, the milestones the locustfile logs for the runner).

It imports nothing else of the lab (an import-linter contract keeps it so),
so the app, the locustfile, the runner and the tests can all depend on it.
"""

"""labbench: the lab's scripted, headless comparison of servers × scenarios.

    labbench run [options]           run a matrix of servers × scenarios, write its report
    labbench [options]               the same: without a command, labbench runs the matrix
    labbench timeline [options]      time a burst per server, request by request, and draw it
    labbench compare RUN_A RUN_B     put two runs side by side
    labbench report RUN              render a run's report again

(``python -m labbench …`` is the same command.) ``labbench run --help`` lists
the options, with their defaults; docs/benchmarks.md describes them. A run's
folder and its results.json are described in docs/results-schema.md.
"""


class BenchError(Exception):
    """A problem the user can fix: the message names it; no traceback is shown."""

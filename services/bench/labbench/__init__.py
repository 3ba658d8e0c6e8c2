"""labbench: the lab's scripted, headless comparison of servers × scenarios.

    python -m labbench --quick                 run a small matrix, write a report
    python -m labbench compare RUN_A RUN_B     put two runs side by side
    python -m labbench report RUN              render a run's report again

A run's folder and its results.json are described in docs/results-schema.md.
"""


class BenchError(Exception):
    """A problem the user can fix: the message names it; no traceback is shown."""

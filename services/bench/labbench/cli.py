"""The command line: ``labbench run``, ``capacity``, ``timeline``, ``compare``, ``report`` and ``index``.

``labbench`` without a subcommand is ``labbench run``: ``labbench --quick``,
``python -m labbench --quick`` and ``docker compose run --rm bench --quick``
all run the quick matrix. ``run``'s options are declared once, in
:data:`labbench.options.OPTIONS`; its flags, their help and the ``--config``
file's keys all come from there; ``capacity``'s from
:data:`labbench.options.CAPACITY`.

Every problem the user can fix ends in ``labbench…: error: …`` and exit code
2, never in a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labbench import BenchError, options, runner, timeline, timelinedata
from labbench.valueparsers import names, number
from labcore import matrix, userscenarios

COMMANDS = ("run", "capacity", "timeline", "compare", "report", "index")
#: What ``labbench timeline`` bursts by default: waiting, and CPU work.
TIMELINE_SCENARIOS = ("io", "cpu")
#: ``labbench timeline``'s bounds: a burst is a thread per request, and a short experiment.
MAX_REQUESTS = 256
MAX_WORK_MS = 10_000
HELP = ("-h", "--help")

Handler = Callable[[argparse.Namespace, argparse.ArgumentParser], int]


def add_run_options(parser: argparse.ArgumentParser, table: dict[str, options.Option] = options.OPTIONS) -> None:
    """Every option of the table as a flag; one not given is absent from the namespace."""
    for option in table.values():
        if option.parse is None:
            parser.add_argument(
                option.flag, dest=option.name, action="store_true", default=argparse.SUPPRESS, help=option.help_text()
            )
        else:
            parser.add_argument(
                option.flag,
                dest=option.name,
                type=option.parse,
                action="append" if option.repeat else "store",
                default=argparse.SUPPRESS,
                metavar=option.metavar,
                help=option.help_text(),
            )


def build_parser(run_options: bool = True) -> argparse.ArgumentParser:
    """``labbench`` and its subcommands. ``run``'s and ``capacity``'s help read
    compose.yaml (they count the servers), so without ``run_options`` (any other
    command, or ``labbench --help``, none of which needs compose.yaml) their options are left out."""
    top = argparse.ArgumentParser(
        prog="labbench",
        description="Run servers × scenarios headless with Locust, and report on the runs.",
        epilog="Without a command, labbench runs the matrix: `labbench --quick` is `labbench run --quick`. "
        "See docs/benchmarks.md.",
    )
    commands = top.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Handler, **kwargs: Any) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, **kwargs)
        parser.set_defaults(handler=handler, parser=parser)
        return parser

    run = command(
        "run",
        main_run,
        help="run a matrix of servers × scenarios and write its report (the default command)",
        description="Run servers × scenarios × users × repetitions headless with Locust, one cell at a time, "
        "and write results.json, report.html and report.md in a new run folder.",
        epilog="Flags win over --config, which wins over the defaults. See docs/benchmarks.md.",
        # Wide enough that the longest flag, --target-url NAME=URL, has its help beside it.
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=26),
    )
    capacity = command(
        "capacity",
        main_capacity,
        help="find each server's capacity at a latency SLO, under a fixed arrival rate",
        description="For each server × scenario, offer a fixed arrival rate (an open model), stepped up "
        "geometrically and then bisected, until p99 passes the budget, failures pass 0.1 %% or less than 95 %% "
        "of the offered rate is achieved; write results.json (its capacity list), report.html and report.md "
        "in a new run folder.",
        epilog="See docs/benchmarks.md and docs/methodology.md.",
    )
    if run_options:
        add_run_options(run)
        add_run_options(capacity, options.CAPACITY)
    add_timeline_options(
        command(
            "timeline",
            main_timeline,
            help="time a burst of concurrent requests per server, request by request, and draw it",
            description="Send N concurrent requests to each server, one server and scenario at a time, record "
            "when and where the server ran each one, and write timeline.json, report.html and an SVG per picture "
            "in a new run folder.",
            epilog="See docs/benchmarks.md and docs/concurrency.md.",
        )
    )
    compare = command(
        "compare", main_compare, help="put two runs side by side", description="Put two runs side by side."
    )
    compare.add_argument("before", metavar="RUN_A", type=Path, help="the run folder to compare from")
    compare.add_argument("after", metavar="RUN_B", type=Path, help="the run folder to compare with it")
    report = command(
        "report", main_report, help="render a run's report again",
        description="Render a run's report again (a timeline run's too).",
    )  # fmt: skip
    report.add_argument("run", metavar="RUN", type=Path, help="the run folder")
    index = command(
        "index",
        main_index,
        help="write the front page of every run in a results folder",
        description="Write FOLDER/index.html, listing every run with links to its report and to a comparison "
        "with the run before it (labbench run does this after each run).",
    )
    index.add_argument(
        "folder", metavar="FOLDER", type=Path, nargs="?", default=options.DEFAULT_OUTPUT,
        help=f"the folder that holds the run folders (default: {options.DEFAULT_OUTPUT})",
    )  # fmt: skip
    return top


def add_timeline_options(parser: argparse.ArgumentParser) -> None:
    """``labbench timeline``'s flags, each with its default in its help."""
    defaults = timeline.Settings(scenarios=list(TIMELINE_SCENARIOS))
    flags: list[tuple[str, Callable[[str], Any] | None, Any, str, str | None]] = [
        ("--servers", names(matrix.addressable), None, "comma-separated servers (default: all in compose.yaml)",
         "A,B"),
        ("--scenarios", names(lambda: timelinedata.SCENARIOS), defaults.scenarios,
         f"comma-separated, from {', '.join(timelinedata.SCENARIOS)} (default: {','.join(defaults.scenarios)})",
         "A,B"),
        ("--requests", number(1, int, MAX_REQUESTS), defaults.requests,
         f"concurrent requests per burst, at most {MAX_REQUESTS} (default: {defaults.requests})", "N"),
        ("--io-ms", number(1, int, MAX_WORK_MS), defaults.io_ms,
         f"sleep per io, upstream and async-io request, in ms (default: {defaults.io_ms})", "MS"),
        ("--cpu-ms", number(1, int, MAX_WORK_MS), defaults.cpu_ms,
         f"CPU time per cpu request, in ms (default: {defaults.cpu_ms})", "MS"),
        ("--timeout", number(1, float, 600), defaults.timeout_s,
         f"seconds each request may take before it is recorded as failed (default: {defaults.timeout_s:g})", "S"),
        ("--output", Path, options.DEFAULT_OUTPUT,
         f"folder that receives the run's folder (default: {options.DEFAULT_OUTPUT})", "DIR"),
        ("--native", None, False, "run the servers' commands on loopback instead of using Compose (default: off)",
         None),
    ]  # fmt: skip
    for flag, parse, default, text, metavar in flags:
        name = flag[2:].replace("-", "_")
        if parse is None:
            parser.add_argument(flag, dest=name, action="store_true", default=default, help=text)
        else:
            parser.add_argument(flag, dest=name, type=parse, default=default, metavar=metavar, help=text)


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The run options given on the command line."""
    return {name: value for name, value in vars(args).items() if name in options.OPTIONS}


def _values(flags: dict[str, Any], parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Every run option's value: the flags, over the --config file's, over the defaults."""
    try:
        configured = options.read_config(flags["config"]) if "config" in flags else {}
        values = options.resolve(configured | flags)
        options.check(values)
    except options.ConfigError as error:
        parser.error(str(error))
    return values


def settings(argv: list[str]) -> dict[str, Any]:
    """What ``labbench run ARGV`` would run with, by option name (see :func:`labbench.options.plan_from`)."""
    args = build_parser().parse_args(["run", *argv])
    return _values(_flags(args), args.parser)


def main_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    flags = _flags(args)
    if "resume" in flags:
        # The run's own options decide; others given with it would be ignored without a word.
        others = [options.OPTIONS[name].flag for name in sorted(flags.keys() - {"resume"})]
        if others:
            parser.error(f"--resume takes every option from the run; drop {', '.join(others)}")
        folder = flags["resume"]
        results = runner.resume(folder)
    else:
        values = _values(flags, parser)
        folder, results = runner.start(options.plan_from(values), values["output"], bool(values["native"]))
    _publish(folder)
    statuses = Counter(cell.status for cell in [*results.cells, *results.faults])
    counts = ", ".join(f"{count} {status}" for status, count in statuses.most_common())
    print(f"{statuses.total()} cells: {counts or 'none'}; report: {folder / 'report.html'}")
    return 0


def _publish(folder: Path) -> None:
    """A finished run's report, then the runs index beside it."""
    _render(folder)
    try:
        _index(folder.parent)
    except BenchError as error:
        # The run and its report are written; only the front page is not.
        print(f"labbench: warning: the runs index was not written: {error}", file=sys.stderr)


def main_capacity(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from labbench import capacity

    given = {name: value for name, value in vars(args).items() if name in options.CAPACITY}
    try:
        values = options.resolve(given, options.CAPACITY)
        options.check(values)
    except options.ConfigError as error:
        parser.error(str(error))
    folder, results = capacity.start(options.capacity_plan(values), values["output"], bool(values["native"]))
    _publish(folder)
    for entry in results.capacity:
        found = "—" if entry.capacity_rps is None else f"{entry.capacity_rps:g} req/s"
        print(f"{entry.server} {entry.scenario} r{entry.repetition}: {found} at p99 ≤ {entry.slo_p99_ms:g} ms")
    print(f"report: {folder / 'report.html'}")
    return 0


def main_timeline(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    servers = [matrix.get(name) for name in args.servers or matrix.names()]
    settings = timeline.Settings(args.scenarios, args.requests, args.io_ms, args.cpu_ms, args.timeout)
    folder, _ = timeline.run(servers, settings, args.output, args.native)
    _publish(folder)
    print(f"timeline: {folder / 'report.html'}")
    return 0


def main_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # Imported here, as the report is: a run starts without loading matplotlib.
    from labbench import compare

    print(compare.compare(args.before, args.after))
    return 0


def main_report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _render(args.run)
    return 0


def main_index(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not args.folder.is_dir():
        parser.error(f"FOLDER: {args.folder} is not a folder")
    _index(args.folder)
    return 0


def _index(folder: Path) -> None:
    from labbench import runsindex

    print(f"wrote {runsindex.render_index(folder)}")


def _render(folder: Path) -> None:
    from labbench import report

    # A timeline run has its own file and page; every other run folder holds results.json.
    is_timeline = (folder / timelinedata.FILE).is_file() and not (folder / "results.json").is_file()
    for path in report.render_timeline(folder) if is_timeline else report.render(folder):
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, *HELP):
        argv = ["run", *argv]
    try:
        parser = build_parser(run_options=argv[0] in ("run", "capacity"))
        args, extras = parser.parse_known_args(argv)
        if extras:
            # Named by the command's own parser, so its usage is the one shown.
            args.parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return args.handler(args, args.parser)
    except (BenchError, matrix.MatrixError, userscenarios.ScenarioFileError) as error:
        print(f"labbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labbench: interrupted; every finished cell is saved: finish with --resume RUN_FOLDER", file=sys.stderr)
        return 130

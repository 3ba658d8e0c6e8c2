"""The command line: ``python -m labbench [options]``, ``compare`` and ``report``.

Every flag can also come from a YAML config file (``--config``), whose keys
are the flags' long names; flags given on the command line win.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from labbench import BenchError, faults, runner
from labbench.results import load_results
from labcore import defaults, matrix
from labcore.scenarios import CORE, SCENARIOS

DEFAULT_OUTPUT = Path(os.environ.get("LAB_RESULTS", "results"))

#: The full default run, and what --quick changes: all servers either way.
FULL = {"scenarios": CORE, "users": [32], "duration": 5.0, "warmup": 2.0, "repetitions": 3}
QUICK = {"scenarios": ["hello", "io"], "users": [16], "duration": 3.0, "warmup": 1.0, "repetitions": 1}


def _names(flag: str, known: list[str]):
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(known)}"
            )
        return names

    parse.__name__ = flag  # argparse names the type in its error message
    return parse


def _fault_names(text: str) -> list[str]:
    named = _names("--faults", [*faults.FAULTS, "all"])(text)
    # "all" stands for every fault but the soak, in their own order.
    return list(dict.fromkeys(name for item in named for name in (faults.ALL if item == "all" else [item])))


_fault_names.__name__ = "--faults"


def _long_ms(text: str) -> int:
    value = _number(1000, int)(text)
    if value > defaults.LONG_MS_MAX:  # the app caps every ms parameter
        raise argparse.ArgumentTypeError(f"must be at most {defaults.LONG_MS_MAX}, not {text!r}")
    return value


_long_ms.__name__ = "--long-ms"


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"every value must be at least 1, not {text!r}")
    return values


def _number(minimum: float, kind: type = float):
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, not {text!r}")
        return value

    return parse


def run_parser() -> argparse.ArgumentParser:
    servers = matrix.names()
    known = sorted(SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="labbench",
        description="Run servers × scenarios headless with Locust and write a comparison report.",
        epilog="Other commands: `labbench compare RUN_A RUN_B`, `labbench report RUN`. See docs/benchmarks.md.",
    )
    add = parser.add_argument
    add("--servers", type=_names("--servers", servers), help=f"comma-separated servers (default: all {len(servers)})")
    add(
        "--scenarios",
        type=_names("--scenarios", known),
        help=f"comma-separated, from {', '.join(known)} (default: {','.join(FULL['scenarios'])})",
    )
    add("--users", type=_positive_ints, help="concurrent users; a comma-separated list makes a sweep (default: 32)")
    add("--duration", type=_number(1), help="measured seconds per cell (default: 5)")
    add("--warmup", type=_number(0), help="seconds of load before measuring, not counted (default: 2)")
    add("--repetitions", type=_number(1, int), help="runs of every cell, in shuffled rounds (default: 3)")
    add("--processes", type=_number(1, int), default=None, help="Locust processes generating the load (default: 1)")
    add(
        "--io-ms", type=_number(0, int), default=None, help="sleep per /io, /upstream, /async-io request (default: 100)"
    )
    add("--cpu-ms", type=_number(0, int), default=None, help="CPU time per /cpu request (default: 10)")
    add(
        "--faults",
        type=_fault_names,
        help=f"fault experiments to run, comma-separated or 'all' ({', '.join(faults.ALL)}; not soak): "
        f"{', '.join(faults.FAULTS)} (docs/faults.md; alone, they replace the default scenarios and run once)",
    )
    add("--soak-s", type=_number(10), help="length of the soak experiment's load, in seconds (default: 600)")
    add(
        "--long-ms",
        type=_long_ms,
        help="length of the timeout fault's request; must outlast the servers' timeouts (default: 35000)",
    )
    add("--seed", type=int, help="seed of the shuffled order (default: random, and recorded)")
    add("--output", type=Path, help=f"folder that receives the run's folder (default: {DEFAULT_OUTPUT})")
    add("--config", type=Path, help="YAML file with any of these options (keys as the long flag names)")
    add("--quick", action="store_true", help="a small smoke matrix: hello and io, 16 users, 3 s, 1 repetition (~3 min)")
    add("--native", action="store_true", help="run the servers' commands on loopback instead of using Compose")
    add("--resume", type=Path, metavar="RUN", help="finish an interrupted run (every other option comes from it)")
    return parser


def _config(path: Path | None, parser: argparse.ArgumentParser) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        parser.error(f"--config: cannot read {path}: {error.strerror}")
    except UnicodeDecodeError:
        parser.error(f"--config: {path} is not UTF-8 text")
    except yaml.YAMLError as error:
        parser.error(f"--config: {path} is not valid YAML: {error}")
    if not isinstance(data, dict):
        parser.error(f"--config: {path} must hold a mapping of option names to values")
    # Every value goes through the same parser as the flag it stands for.
    argv = []
    for key, value in data.items():
        flag = "--" + str(key).replace("_", "-")
        action = next((a for a in parser._actions if flag in a.option_strings), None)
        if action is None or flag in ("--config", "--resume"):
            parser.error(f"--config: {path} has an unknown option {key!r}")
        if isinstance(value, bool):
            argv += [flag] if value else []
        else:
            argv += [flag, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return {k: v for k, v in vars(parser.parse_args(argv)).items() if v not in (None, False)}


def options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The config file's options, overridden by those given as flags."""
    return _config(args.config, parser) | {k: v for k, v in vars(args).items() if v not in (None, False)}


def plan_from(given: dict[str, Any]) -> runner.Plan:
    base = QUICK if given.get("quick") else FULL
    if given.get("faults") and "scenarios" not in given:
        # A fault run: the experiments alone, once each, unless asked otherwise.
        base = base | {"scenarios": [], "repetitions": 1}
    pick = lambda key, default=None: given.get(key, base.get(key, default))  # noqa: E731
    return runner.Plan(
        servers=pick("servers", matrix.names()),
        scenarios=pick("scenarios"),
        users=pick("users"),
        duration_s=pick("duration"),
        warmup_s=pick("warmup"),
        repetitions=pick("repetitions"),
        locust_processes=pick("processes", 1),
        io_ms=pick("io_ms", defaults.IO_MS),
        cpu_ms=pick("cpu_ms", defaults.CPU_MS),
        seed=pick("seed", random.randrange(2**31)),
        quick=bool(given.get("quick")),
        faults=pick("faults", []),
        long_ms=pick("long_ms", defaults.LONG_MS),
        soak_s=pick("soak_s", defaults.SOAK_S),
    )


def _check_resumable(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """--resume alone, on a run whose plan this labbench can carry on."""
    # The run's own options decide; others given with it would be ignored without a word.
    given = {key for key, value in vars(args).items() if value is not None and value is not False} - {"resume"}
    others = ["--" + key.replace("_", "-") for key in sorted(given)]
    if others:
        parser.error(f"--resume takes every option from the run; drop {', '.join(others)}")
    plan = load_results(args.resume)["run"]["plan"]
    fields = dataclasses.fields(runner.Plan)
    unknown = sorted(set(plan) - {field.name for field in fields})
    needed = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in needed if name not in plan]
    if unknown or missing:
        problems = ", ".join([*(f"unknown {name}" for name in unknown), *(f"no {name}" for name in missing)])
        raise BenchError(f"{args.resume}: its run.plan does not fit this labbench ({problems})")


def main_run(argv: list[str]) -> int:
    parser = run_parser()
    args = parser.parse_args(argv)
    if args.resume:
        _check_resumable(args, parser)
        folder = args.resume
        results = runner.resume(folder)
    else:
        given = options(args, parser)
        folder, results = runner.start(
            plan_from(given), given.get("output", DEFAULT_OUTPUT), given.get("native", False)
        )
    _render(folder)
    statuses = Counter(cell["status"] for cell in results["cells"] + results.get("faults", []))
    counts = ", ".join(f"{count} {status}" for status, count in statuses.most_common())
    print(f"{statuses.total()} cells: {counts or 'none'}; report: {folder / 'report.html'}")
    return 0


def _render(folder: Path) -> None:
    from labbench import report

    for path in report.render(folder):
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["compare"]:
            parser = argparse.ArgumentParser(prog="labbench compare", description="Put two runs side by side.")
            parser.add_argument("before", type=Path)
            parser.add_argument("after", type=Path)
            args = parser.parse_args(argv[1:])
            from labbench import compare

            print(compare.compare(args.before, args.after))
            return 0
        if argv[:1] == ["report"]:
            parser = argparse.ArgumentParser(prog="labbench report", description="Render a run's report again.")
            parser.add_argument("run", type=Path)
            args = parser.parse_args(argv[1:])
            runner.load_results(args.run)
            _render(args.run)
            return 0
        return main_run(argv)
    except BenchError as error:
        print(f"labbench: error: {error}", file=sys.stderr)
        return 2
    except matrix.MatrixError as error:
        print(f"labbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labbench: interrupted; every finished cell is saved: finish with --resume RUN_FOLDER", file=sys.stderr)
        return 130

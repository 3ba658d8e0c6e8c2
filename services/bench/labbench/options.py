"""The options of ``labbench run``, each declared once, in the manner of gunicorn's config.py.

An :class:`Option` carries its name, its parser, the full run's default, the
``--quick`` default where it differs, and its help. From the table come:

* the command line's flags (``--io-ms``: the name with dashes), their help
  text with the defaults shown, e.g. ``(default: 32; --quick: 16)``;
* the ``--config`` YAML file's keys (``io_ms`` or ``io-ms``), whose values go
  through the same parsers as the flags;
* the run's :class:`~labbench.results.Plan`, field by field (``plan``).

Flags win over the config file, the config file over the defaults.
"""

from __future__ import annotations

import argparse
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from labbench import faults
from labbench.capacitymodels import CapacitySettings
from labbench.results import Plan
from labbench.valueparsers import choice, fault_names, names, number, positive_ints, target_pair, whole_number
from labcore import defaults, matrix, protocol, userscenarios
from labcore.scenarios import CORE, SCENARIOS, SPLITS

#: The load generators a run may use (labbench.locustrun, labbench.wrkrun).
ENGINES = ("locust", "wrk", "both")

#: Where run folders go unless --output says otherwise (the bench image sets /lab/results).
DEFAULT_OUTPUT = Path(os.environ.get("LAB_RESULTS", "results"))


class ConfigError(Exception):
    """The --config file cannot be read or holds something no option takes."""


# --- the table ------------------------------------------------------------------------------

#: Stands for "the same as the full run" in :attr:`Option.quick`.
SAME: Any = object()


@dataclass(frozen=True)
class Option:
    """One option of ``labbench run``."""

    name: str
    #: Turns the flag's text into the value; None for a switch (on when given).
    parse: Callable[[str], Any] | None
    #: The full run's default; a function is called when the run needs it.
    default: Any
    help: str
    #: ``--quick``'s default, where it differs.
    quick: Any = SAME
    #: How --help shows a default that is computed (a function); itself a
    #: function where that needs looking up.
    shown: str | Callable[[], str] | None = None
    #: The Plan field it sets, if any.
    plan: str | None = None
    metavar: str | None = None
    #: Whether a --config file may set it.
    in_config: bool = True
    #: Whether the flag may be given more than once (its values make a list).
    repeat: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def default_for(self, quick: bool) -> Any:
        value = self.quick if quick and self.quick is not SAME else self.default
        return value() if callable(value) else value

    def help_text(self) -> str:
        """The help, with the defaults: ``(default: 32; --quick: 16)``."""
        if self.shown is None:
            shown = show(self.default)
        else:
            shown = self.shown if isinstance(self.shown, str) else self.shown()
        quick = "" if self.quick is SAME else f"; --quick: {show(self.quick)}"
        # argparse treats % as the start of a format specifier.
        return f"{self.help} (default: {shown}{quick})".replace("%", "%%")


def show(value: Any) -> str:
    """A default as one would type it."""
    if value is None or value == []:
        return "none"
    if value is False:
        return "off"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


OPTIONS: dict[str, Option] = {
    option.name: option
    for option in [
        Option(
            "servers", names(matrix.addressable), matrix.names, "comma-separated servers",
            shown=lambda: f"all {len(matrix.names())} in compose.yaml", plan="servers", metavar="A,B",
        ),
        Option(
            "scenarios", names(lambda: [*userscenarios.available(), *SPLITS]), CORE,
            f"comma-separated, from {', '.join(SCENARIOS)}, the crossover splits {SPLITS[0]} … {SPLITS[-1]}, "
            "and a LAB_APP_SCENARIOS file's (then the default)",
            quick=["hello", "io"], plan="scenarios", metavar="A,B",
        ),
        Option(
            "users", positive_ints, [32], "concurrent users; a comma-separated list makes a sweep",
            quick=[16], plan="users", metavar="N[,N...]",
        ),
        Option("duration", number(1), 5.0, "measured seconds per cell", quick=3.0, plan="duration_s", metavar="S"),
        Option(
            "warmup", number(0), 2.0, "seconds of load before measuring, not counted",
            quick=1.0, plan="warmup_s", metavar="S",
        ),
        Option(
            "repetitions", number(1, int), 3, "runs of every cell, in shuffled rounds",
            quick=1, plan="repetitions", metavar="N",
        ),
        Option(
            "engine", choice(ENGINES), "locust",
            "load generator: locust; wrk (Debian's C tool, not for the mix); both, each cell by each, "
            "back to back, with their ratio (docs/methodology.md)",
            plan="engine", metavar="NAME",
        ),
        Option(
            "processes", number(1, int), 1, "Locust processes (or wrk threads) generating the load",
            plan="locust_processes", metavar="N",
        ),
        Option(
            "workers", number(0, int), 0,
            "Locust workers elsewhere to wait for; the runner's Locust is then their master "
            "(start them first: docker compose up -d bench-worker; docs/methodology.md)",
            plan="locust_workers", metavar="N",
        ),
        Option(
            "io_ms", number(0, int, defaults.MAX_MS), defaults.IO_MS,
            "sleep per /io, /upstream, /async-io request, in ms", plan="io_ms", metavar="MS",
        ),
        Option(
            "cpu_ms", number(0, int, defaults.MAX_MS), defaults.CPU_MS,
            "CPU time per /cpu request, in ms", plan="cpu_ms", metavar="MS",
        ),
        Option(
            "faults", fault_names, [],
            f"fault experiments, comma-separated: {', '.join(faults.FAULTS)}, or 'all' (not soak, the "
            "blocks); alone, they replace the scenarios and run once (docs/faults.md)",
            plan="faults", metavar="A,B",
        ),
        Option(
            "crossover", None, False,
            f"the crossover map: /mixed's {defaults.MIXED_MS} ms of work split from pure I/O to pure CPU "
            f"({len(SPLITS)} splits, as --scenarios) at {','.join(map(str, defaults.CROSSOVER_USERS))} users unless "
            "--scenarios or --users say otherwise (docs/results.md)",
            plan="crossover",
        ),
        Option(
            "long_ms", number(1000, int, defaults.LONG_MS_MAX), defaults.LONG_MS,
            "length of the timeout and block faults' long request; must outlast the servers' timeouts",
            plan="long_ms", metavar="MS",
        ),
        Option(
            "soak_s", number(10), defaults.SOAK_S, "length of the soak experiment's load, in seconds",
            plan="soak_s", metavar="S",
        ),
        Option(
            "seed", whole_number, lambda: random.randrange(2**31), "seed of the shuffled run order",
            shown="random, and recorded", plan="seed", metavar="N",
        ),
        Option("output", Path, DEFAULT_OUTPUT, "folder that receives the run's folder", metavar="DIR"),
        Option(
            "config", Path, None, "YAML file with any of these options, keyed by their long names; flags win",
            metavar="FILE", in_config=False,
        ),
        Option(
            "quick", None, False, "a small smoke matrix, with the --quick defaults shown here (~3 min)", plan="quick",
        ),
        Option("native", None, False, "run the servers' commands on loopback instead of using Compose"),
        Option(
            "target_url", target_pair, [],
            "a server outside this Compose project to measure too, by name (repeatable); alone, it replaces "
            f"--servers' default; its CPU and memory come from its {protocol.PREFIX}/usage, if it answers",
            plan="targets", metavar="NAME=URL", repeat=True,
        ),
        Option(
            "resume", Path, None, "finish an interrupted run: only its missing cells run, every option from it",
            metavar="RUN", in_config=False,
        ),
    ]
}  # fmt: skip


#: ``labbench capacity``'s options: the run's own where they mean the same, and its stepping.
CAPACITY: dict[str, Option] = {
    option.name: option
    for option in [
        Option(
            "servers", names(matrix.addressable), matrix.names, "comma-separated servers",
            quick=["gunicorn-sync", "gunicorn-gevent"], shown=lambda: f"all {len(matrix.names())} in compose.yaml",
            plan="servers", metavar="A,B",
        ),
        Option(
            "scenarios", names(lambda: SCENARIOS), ["io", "cpu", "upstream"],
            f"comma-separated, from {', '.join(SCENARIOS)}", quick=["io"], plan="scenarios", metavar="A,B",
        ),
        Option(
            "slo_p99_ms", number(1), None, "the p99 budget of the SLO, in ms",
            shown=f"each scenario's work + {defaults.CAPACITY_SLO_EXTRA_MS}", metavar="MS",
        ),
        Option(
            "min_rps", number(0.1), 10.0,
            "the lowest offered rate, in requests per second: each series starts at half its bound, never below this",
            metavar="R",
        ),
        Option("factor", number(1.1, float, 10), 2.0, "each step up multiplies the rate by this", metavar="F"),
        Option(
            "bisections", number(0, int, 10), 2, "steps between the highest rate that held and the lowest that broke",
            metavar="N",
        ),
        Option("max_rps", number(1), 1000.0, "the highest rate offered", quick=800.0, metavar="R"),
        Option(
            "min_samples", number(1, int), defaults.CAPACITY_MIN_SAMPLES,
            "requests each step measures at least: its window is longer at low rates",
            quick=defaults.CAPACITY_MIN_SAMPLES_QUICK, metavar="N",
        ),
        Option("duration", number(1), 5.0, "measured seconds per step", quick=3.0, plan="duration_s", metavar="S"),
        Option(
            "warmup", number(0), 1.0, "seconds of load before measuring each step, not counted",
            plan="warmup_s", metavar="S",
        ),
        Option("repetitions", number(1, int), 1, "runs of every server × scenario", plan="repetitions", metavar="N"),
        *(OPTIONS[name] for name in ("processes", "io_ms", "cpu_ms", "output")),
        Option("quick", None, False, "two servers on io, with the --quick defaults shown here (~1 min)", plan="quick"),
        OPTIONS["native"],
    ]
}  # fmt: skip


# --- from flags and a config file to a plan ----------------------------------------------


def read_config(path: Path) -> dict[str, Any]:
    """The options a --config file sets, each parsed as its flag would be."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"--config: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path} is not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"--config: {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {path} must hold a mapping of option names to values")
    found: dict[str, Any] = {}
    for key, value in data.items():
        option = OPTIONS.get(str(key).replace("-", "_"))
        if option is None or not option.in_config:
            raise ConfigError(f"--config: {path} has an unknown option {key!r}")
        found[option.name] = _config_value(option, value, path, key)
    return found


def _config_value(option: Option, value: Any, path: Path, key: Any) -> Any:
    if option.parse is None:
        if not isinstance(value, bool):
            raise ConfigError(f"--config: {path}: {key} must be true or false, not {value!r}")
        return value
    if option.repeat:
        items = value if isinstance(value, list) else [value]
        return [_config_value(replace(option, repeat=False), item, path, key) for item in items]
    # Through the flag's own parser, so a value means the same in both places.
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    try:
        return option.parse(text)
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"--config: {path}: {key}: {error}") from None


def resolve(given: dict[str, Any], table: dict[str, Option] = OPTIONS) -> dict[str, Any]:
    """Every option's value: ``given`` (flags over config), else the defaults."""
    quick = bool(given.get("quick"))
    values = {name: given[name] if name in given else option.default_for(quick) for name, option in table.items()}
    if table is not OPTIONS:
        return values
    if "scenarios" not in given and userscenarios.user():
        # The user's app: the built-in scenarios' endpoints are not its own.
        values["scenarios"] = userscenarios.core()
    targets: dict[str, str] = {}
    for name, url in values["target_url"]:
        if name in targets:
            raise ConfigError(f"--target-url: {name} is given twice ({targets[name]} and {url})")
        targets[name] = url
    if targets and "servers" not in given:
        values["servers"] = []
    if values["faults"] and "scenarios" not in given:
        # A fault run: the experiments alone, once each, unless asked otherwise.
        values["scenarios"] = []
        values["repetitions"] = given.get("repetitions", 1)
    if values["crossover"]:
        values["scenarios"] = given.get("scenarios", list(SPLITS))
        values["users"] = given.get("users", list(defaults.CROSSOVER_USERS))
    return values


def check(values: dict[str, Any]) -> None:
    """Refuse options that contradict each other (ConfigError names them)."""
    if values.get("workers") and values.get("processes", 1) > 1:
        raise ConfigError("--workers and --processes: choose one (workers bring their own processes)")
    # Locust's --run-time is whole seconds: 2.5 would stop every cell with a
    # locust-error after its start (a crossover run on 2026-12-01 lost 120 so).
    total = values["warmup"] + values["duration"]
    if not float(total).is_integer():
        raise ConfigError(
            f"--warmup and --duration: Locust runs whole seconds, so their sum must be whole, not {total:g}"
        )


def plan_from(values: dict[str, Any]) -> Plan:
    """The run's plan from :func:`resolve`'s values."""
    fields = {option.plan: values[name] for name, option in OPTIONS.items() if option.plan}
    return Plan(**fields | {"targets": dict(fields["targets"])})


def capacity_plan(values: dict[str, Any]) -> Plan:
    """A capacity run's plan from ``resolve(given, CAPACITY)``'s values: no users, each step sizes its own."""
    fields = {option.plan: values[name] for name, option in CAPACITY.items() if option.plan}
    settings = CapacitySettings(
        slo_p99_ms=values["slo_p99_ms"], min_rps=values["min_rps"], factor=values["factor"],
        bisections=values["bisections"], max_rps=values["max_rps"], min_samples=values["min_samples"],
    )  # fmt: skip
    return Plan(**fields, users=[], seed=0, capacity=settings)


#: The full run's defaults and --quick's, by option (the computed ones, servers and seed, left out).
FULL = {name: option.default for name, option in OPTIONS.items() if not callable(option.default)}
QUICK = {name: option.default_for(quick=True) for name, option in OPTIONS.items() if not callable(option.default)}

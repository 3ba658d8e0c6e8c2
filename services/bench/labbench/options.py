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
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from labbench import faults
from labbench.results import Plan
from labcore import defaults, matrix, protocol, userscenarios
from labcore.scenarios import CORE, SCENARIOS

#: Where run folders go unless --output says otherwise (the bench image sets /lab/results).
DEFAULT_OUTPUT = Path(os.environ.get("LAB_RESULTS", "results"))


class ConfigError(Exception):
    """The --config file cannot be read or holds something no option takes."""


# --- value parsers: each raises ArgumentTypeError, which argparse shows after the flag -------


def names(known: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """A comma-separated list of names from ``known()`` (asked only when parsing)."""

    def parse(text: str) -> list[str]:
        choices = list(known())
        chosen = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in choices]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(choices)}"
            )
        return chosen

    return parse


def fault_names(text: str) -> list[str]:
    named = names(lambda: [*faults.FAULTS, "all"])(text)
    # "all" stands for every fault but the soak, in their own order.
    return list(dict.fromkeys(name for item in named for name in (faults.ALL if item == "all" else [item])))


def number(minimum: float, kind: type = float, maximum: float | None = None) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, not {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, not {text!r}")
        return value

    return parse


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"every value must be at least 1, not {text!r}")
    return values


def target_pair(text: str) -> tuple[str, str]:
    """``NAME=URL``: a server outside this Compose project, by the name its cells carry."""
    name, equals, url = text.partition("=")
    name, url = name.strip(), url.strip().rstrip("/")
    if not equals or not userscenarios.NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"expected NAME=URL with a lower-case NAME like staging, not {text!r}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL after {name}=, not {url!r}")
    if name in matrix.addressable():
        raise argparse.ArgumentTypeError(f"{name} is a server of compose.yaml; give the target another name")
    return name, url


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


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
            "scenarios", names(userscenarios.available), CORE,
            f"comma-separated, from {', '.join(SCENARIOS)}, and a LAB_APP_SCENARIOS file's (then the default)",
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
            "processes", number(1, int), 1, "Locust processes generating the load",
            plan="locust_processes", metavar="N",
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
            f"--servers' default; its CPU and memory come from its {protocol.LAB_PREFIX}/usage, if it answers",
            plan="targets", metavar="NAME=URL", repeat=True,
        ),
        Option(
            "resume", Path, None, "finish an interrupted run: only its missing cells run, every option from it",
            metavar="RUN", in_config=False,
        ),
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


def resolve(given: dict[str, Any]) -> dict[str, Any]:
    """Every option's value: ``given`` (flags over config), else the defaults."""
    quick = bool(given.get("quick"))
    values = {name: given[name] if name in given else option.default_for(quick) for name, option in OPTIONS.items()}
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
    return values


def plan_from(values: dict[str, Any]) -> Plan:
    """The run's plan from :func:`resolve`'s values."""
    fields = {option.plan: values[name] for name, option in OPTIONS.items() if option.plan}
    return Plan(**fields | {"targets": dict(fields["targets"])})


#: The full run's defaults and --quick's, by option (the computed ones, servers and seed, left out).
FULL = {name: option.default for name, option in OPTIONS.items() if not callable(option.default)}
QUICK = {name: option.default_for(quick=True) for name, option in OPTIONS.items() if not callable(option.default)}

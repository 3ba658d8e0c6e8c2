"""labbench's command line from its option table (labbench.options): every
option once, as a flag with its default in --help, as a --config key, and as
a field of the run's plan.

Nothing here runs a server or Locust: what a bad flag does end to end is in
tests/test_bench_run.py and tests/test_bad_input.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from labbench import BenchError, cli, faults, locustrun, options
from labbench.results import Plan
from labcore import defaults, matrix
from labcore.scenarios import CORE
from tests.support import ROOT
from tests.support.cli import labbench
from tests.support.mdtables import md_tables

pytestmark = pytest.mark.unit

#: A value for every option a config file may set, and what the run gets from it.
CONFIG_SAMPLES: dict[str, tuple[Any, Any]] = {
    "servers": (["gunicorn-sync", "flask-dev"], ["gunicorn-sync", "flask-dev"]),
    "scenarios": ("hello,cpu", ["hello", "cpu"]),
    "users": ([8, 32], [8, 32]),
    "duration": (7, 7.0),
    "warmup": (3, 3.0),
    "repetitions": (4, 4),
    "engine": ("both", "both"),
    "processes": (2, 2),
    "workers": (2, 2),
    "io_ms": (50, 50),
    "cpu_ms": (20, 20),
    "faults": ("all", faults.ALL),
    "crossover": (True, True),
    "long_ms": (4000, 4000),
    "soak_s": (60, 60.0),
    "seed": (7, 7),
    "output": ("out", Path("out")),
    "quick": (True, True),
    "native": (True, True),
    "target_url": (["a=http://h:1"], [("a", "http://h:1")]),
}


def help_text(*argv: str) -> str:
    """``labbench ARGV --help`` as a user sees it, on a terminal wide enough not to wrap."""
    result = subprocess.run(
        [sys.executable, "-m", "labbench", *argv, "--help"],
        env=os.environ | {"COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def option_lines(text: str) -> dict[str, str]:
    """Each flag's help line, from an unwrapped --help."""
    return {match[1]: match[0] for match in re.finditer(r"^  (--[a-z-]+)\b.*$", text, re.M)}


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    return path


# --- the table ---------------------------------------------------------------------------


def test_every_option_shows_its_default_in_help() -> None:
    lines = option_lines(help_text("run"))
    assert set(lines) == {option.flag for option in options.OPTIONS.values()}, "every option has its flag"
    for option in options.OPTIONS.values():
        line = lines[option.flag]
        assert re.search(r"\(default: [^)]+\)$", line), f"{option.flag} shows no default: {line}"
        assert ("; --quick: " in line) == (option.quick is not options.SAME), line
    # Spot checks against the numbers the lab defines elsewhere.
    assert lines["--users"].endswith("(default: 32; --quick: 16)")
    assert lines["--scenarios"].endswith(f"(default: {','.join(CORE)}; --quick: hello,io)")
    assert lines["--io-ms"].endswith(f"(default: {defaults.IO_MS})")
    assert lines["--long-ms"].endswith(f"(default: {defaults.LONG_MS})")
    assert lines["--servers"].endswith(f"(default: all {len(matrix.names())} in compose.yaml)")


def test_the_defaults_are_the_lab_s() -> None:
    table = options.OPTIONS
    assert table["scenarios"].default == CORE
    assert (table["io_ms"].default, table["cpu_ms"].default) == (defaults.IO_MS, defaults.CPU_MS)
    assert (table["long_ms"].default, table["soak_s"].default) == (defaults.LONG_MS, defaults.SOAK_S)
    assert options.FULL["duration"] == 5.0 and options.QUICK["duration"] == 3.0
    assert table["servers"].default_for(quick=True) == matrix.names(), "every server either way"


def test_every_plan_field_comes_from_exactly_one_option() -> None:
    fields = [option.plan for option in options.OPTIONS.values() if option.plan]
    # `capacity` is labbench capacity's, from its own table (options.capacity_plan).
    assert sorted(fields) == sorted(set(Plan.model_fields) - {"capacity"}), (
        "a Plan field without an option, or one set twice"
    )
    capacity = [option.plan for option in options.CAPACITY.values() if option.plan]
    assert len(capacity) == len(set(capacity)) and set(capacity) <= set(Plan.model_fields)


def test_top_level_help_lists_the_commands() -> None:
    text = help_text()
    for command in cli.COMMANDS:
        assert re.search(rf"^    {command} ", text, re.M), f"labbench --help does not list {command}"
    assert "labbench --quick" in text, "it says that a bare labbench runs the matrix"


def test_a_bare_labbench_is_run() -> None:
    assert help_text("--quick") == help_text("run")


# --- the config file ---------------------------------------------------------------------


def test_every_option_has_its_config_key(tmp_path: Path) -> None:
    settable = {name for name, option in options.OPTIONS.items() if option.in_config}
    assert set(CONFIG_SAMPLES) == settable, "a config sample for every option a config file may set"
    for name, (value, expected) in CONFIG_SAMPLES.items():
        option = options.OPTIONS[name]
        for key in {name, option.flag[2:]}:  # io_ms and io-ms both
            config = write_config(tmp_path, yaml.safe_dump({key: value}))
            assert options.read_config(config) == {name: expected}, key
        # The same value as a flag means the same.
        flag = [option.flag] if option.parse is None else [option.flag, options.show(value)]
        assert cli.settings(flag)[name] == expected, flag


@pytest.mark.parametrize("key", ["flavour", "config", "resume"])
def test_an_unknown_config_key_names_itself(tmp_path: Path, key: str) -> None:
    config = write_config(tmp_path, f"users: 8\n{key}: x\n")
    with pytest.raises(options.ConfigError, match=rf"{re.escape(str(config))} has an unknown option '{key}'"):
        options.read_config(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users: [0]\n", r": users: every value must be at least 1, not '0'"),
        ("long-ms: 500\n", r": long-ms: must be at least 1000"),
        ("servers: nginx\n", r": servers: unknown nginx; choose from"),
        ("native: yes please\n", r": native must be true or false, not 'yes please'"),
        ("- users\n", r"must hold a mapping of option names to values"),
        ("users: [8\n", r"is not valid YAML"),
    ],
)
def test_a_bad_config_value_is_named_as_its_flag_would_be(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(options.ConfigError, match=message):
        options.read_config(write_config(tmp_path, text))


def test_config_file_sets_options_and_flags_win(tmp_path: Path) -> None:
    text = "servers: [gunicorn-sync]\nusers: [8, 32]\nduration: 7\nnative: true\noutput: out\n"
    config = write_config(tmp_path, text)
    values = cli.settings(["--config", str(config), "--duration", "9"])
    plan = options.plan_from(values)
    assert (plan.servers, plan.users, plan.duration_s) == (["gunicorn-sync"], [8, 32], 9)
    assert (plan.scenarios, plan.repetitions) == (options.FULL["scenarios"], options.FULL["repetitions"])
    assert values["native"] is True and values["output"] == Path("out")


def test_quick_from_a_config_file_brings_the_quick_defaults(tmp_path: Path) -> None:
    plan = options.plan_from(cli.settings(["--config", str(write_config(tmp_path, "quick: true\n"))]))
    assert plan.quick and (plan.scenarios, plan.users, plan.repetitions) == (["hello", "io"], [16], 1)
    assert options.plan_from(cli.settings(["--quick", "--users", "4"])).users == [4], "a flag still wins"


# --- docs/benchmarks.md ------------------------------------------------------------------------

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
DEFAULT_COLUMN = "default (full / `--quick`)"


@pytest.mark.parametrize(
    ("heading", "table"),
    [("`labbench run`'s options", options.OPTIONS), ("`labbench capacity`'s options", options.CAPACITY)],
)
def test_benchmarks_md_lists_every_option_with_its_defaults(heading: str, table: dict[str, options.Option]) -> None:
    rows = md_tables(BENCHMARKS_MD.read_text())[heading]
    documented = {re.match(r"`(--[a-z0-9-]+)", row["flag"])[1]: row[DEFAULT_COLUMN] for row in rows}
    assert set(documented) == {option.flag for option in table.values()}
    for option in table.values():
        # Computed defaults are described in words; --output's comes from LAB_RESULTS.
        if callable(option.default) or option.shown is not None or option.name == "output":
            continue
        quick = "" if option.quick is options.SAME else f" / `{options.show(option.quick)}`"
        assert documented[option.flag] == f"`{options.show(option.default)}`{quick}", option.flag


def test_benchmarks_md_config_example_is_a_valid_config(tmp_path: Path) -> None:
    (example,) = re.findall(r"```yaml\n(.*?)```", BENCHMARKS_MD.read_text(), re.S)
    found = options.read_config(write_config(tmp_path, example))
    assert found["users"] == [8, 32, 128] and found["scenarios"] == ["io"]


# --- where the locustfile is ---------------------------------------------------------------


def test_the_locustfile_is_found_with_a_compose_file_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose.yaml").write_text((ROOT / "compose.yaml").read_text())
    monkeypatch.setenv("LAB_COMPOSE_FILE", str(tmp_path / "compose.yaml"))
    monkeypatch.delenv("LAB_LOCUSTFILE", raising=False)
    monkeypatch.chdir(ROOT / "docs")
    assert locustrun.locustfile() == ROOT / "locustfiles" / "locustfile.py"
    monkeypatch.setenv("LAB_LOCUSTFILE", str(tmp_path / "none.py"))
    with pytest.raises(BenchError, match=r"LAB_LOCUSTFILE: .*none\.py is not a file"):
        locustrun.locustfile()
    monkeypatch.delenv("LAB_LOCUSTFILE")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BenchError, match="or set LAB_LOCUSTFILE"):
        locustrun.locustfile()


@pytest.mark.unit
@pytest.mark.parametrize("command", [[], ["capacity"]])
def test_a_warmup_and_duration_that_are_not_whole_seconds_are_refused(command: list[str]) -> None:
    # Locust's --run-time takes whole seconds: 0.5 + 2 would fail every cell after it started.
    result = labbench(*command, "--warmup", "0.5", "--duration", "2", "--native")
    assert result.returncode == 2
    assert "--warmup and --duration: Locust runs whole seconds" in result.stderr
    assert "Traceback" not in result.stderr

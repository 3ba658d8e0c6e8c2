"""``--target-url NAME=URL`` and the user's scenarios on labbench's command line:
what they make of the plan, and each bad input refused naming its flag or file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from labbench import cli, options, valueparsers
from labcore import protocol
from tests.support import ROOT
from tests.support.cli import labbench

pytestmark = pytest.mark.unit

FIXTURE_SCENARIOS = ROOT / "tests" / "fixtures" / "ownapp" / "lab-scenarios.yaml"


def test_a_target_is_a_name_and_a_url() -> None:
    assert valueparsers.target_pair("staging=http://10.0.0.5:8000/") == ("staging", "http://10.0.0.5:8000")
    assert valueparsers.target_pair("edge-1=https://example.org/app") == ("edge-1", "https://example.org/app")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://10.0.0.5:8000", "expected NAME=URL"),
        ("Staging=http://10.0.0.5", "expected NAME=URL with a lower-case NAME"),
        ("=http://10.0.0.5", "expected NAME=URL"),
        ("staging=ftp://10.0.0.5", "expected an http:// or https:// URL"),
        ("staging=http://", "expected an http:// or https:// URL"),
        ("staging=10.0.0.5:8000", "expected an http:// or https:// URL"),
        ("staging=http://h/?a=1", "expected an http:// or https:// URL"),
        ("gunicorn-sync=http://10.0.0.5", "gunicorn-sync is a server of compose.yaml"),
    ],
)
def test_a_bad_target_is_refused(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        valueparsers.target_pair(text)


def test_targets_alone_replace_the_default_servers() -> None:
    values = cli.settings(["--target-url", "a=http://h1:8000", "--target-url", "b=http://h2:8000"])
    plan = options.plan_from(values)
    assert plan.targets == {"a": "http://h1:8000", "b": "http://h2:8000"}
    assert plan.servers == [] and plan.measured == ["a", "b"]


def test_targets_beside_chosen_servers() -> None:
    plan = options.plan_from(cli.settings(["--servers", "gunicorn-sync", "--target-url", "a=http://h1:8000"]))
    assert plan.servers == ["gunicorn-sync"] and plan.measured == ["gunicorn-sync", "a"]


def test_no_target_leaves_the_plan_as_it_was() -> None:
    plan = options.plan_from(cli.settings([]))
    assert plan.targets == {} and plan.measured == plan.servers


def test_a_config_file_takes_a_list_of_targets(tmp_path: Path) -> None:
    config = tmp_path / "bench.yaml"
    config.write_text("target_url: [a=http://h1:8000, b=http://h2:8000]\n")
    assert options.plan_from(cli.settings(["--config", str(config)])).targets == {
        "a": "http://h1:8000",
        "b": "http://h2:8000",
    }
    config.write_text("target-url: nope\n")
    with pytest.raises(options.ConfigError, match="target-url: expected NAME=URL"):
        options.read_config(config)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-url", "nope"], "argument --target-url: expected NAME=URL"),
        (["--target-url", "flask-dev=http://h:1"], "argument --target-url: flask-dev is a server of compose.yaml"),
        (["--target-url", "a=http://h:1", "--target-url", "a=http://h:2"], "--target-url: a is given twice"),
    ],
)
def test_bad_targets_on_the_command_line_name_the_flag(args: list[str], message: str) -> None:
    result = labbench(*args, timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# --- the user's scenarios: the default, and a bad file --------------------------------------


def test_the_user_s_scenarios_become_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(protocol.APP_SCENARIOS_ENV, str(FIXTURE_SCENARIOS))
    assert cli.settings([])["scenarios"] == ["home", "add", "token", "missing"]
    assert cli.settings(["--quick"])["scenarios"] == ["home", "add", "token", "missing"]
    # The built-in ones stay available, and a mix of the user's.
    assert cli.settings(["--scenarios", "hello,app-mix"])["scenarios"] == ["hello", "app-mix"]


def test_a_bad_scenarios_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "lab-scenarios.yaml"
    bad.write_text("scenarios:\n  home:\n    path: home\n")
    result = labbench("--scenarios", "home", env={protocol.APP_SCENARIOS_ENV: str(bad)}, timeout=60)
    assert result.returncode == 2
    assert f"labbench: error: {bad}: scenario 'home': path: must start with /" in result.stderr
    assert "Traceback" not in result.stderr

"""The user's scenarios file (labcore.userscenarios): what it becomes, and
every kind of bad input refused with the file, the scenario and the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from labcore import protocol, userscenarios
from labcore.scenarios import CORE, SCENARIOS
from labcore.userscenarios import ScenarioFileError
from tests.support import ROOT

pytestmark = pytest.mark.unit

FIXTURE = ROOT / "tests" / "fixtures" / "ownapp"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab-scenarios.yaml"
    path.write_text(text)
    return path


def test_the_fixture_file_becomes_scenarios_of_kind_user() -> None:
    found = userscenarios.load(FIXTURE / "lab-scenarios.yaml")
    assert list(found) == ["home", "add", "token", "missing", "app-mix"]
    add = found["add"]
    assert (add.user_class, add.kind, add.method, add.path) == ("Add", "user", "POST", "/add")
    assert add.json_body == {"a": 2, "b": 3} and add.expect_contains == '"sum":5' and add.expect_status == 200
    assert found["token"].headers == (("X-Token", "let-me-in"),)
    assert found["missing"].expect_status == 404 and found["missing"].method == "GET"
    # No known work, so no ideal bound and nothing added to the path.
    assert add.work_ms() is None and add.request() == "/add"
    assert found["app-mix"].mix == (("home", 2), ("add", 1)) and found["app-mix"].user_class == "AppMix"


def test_a_user_scenario_checks_status_and_contained_text() -> None:
    add = userscenarios.load(FIXTURE / "lab-scenarios.yaml")["add"]
    assert add.verify('{"sum":5}\n', None) is None
    assert "to contain" in (add.verify('{"sum":6}', None) or "")
    assert add.verify_status(200) is None
    assert add.verify_status(500) == "expected status 200, got 500"


def test_the_environment_picks_the_file_and_the_defaults(tmp_path: Path) -> None:
    assert userscenarios.scenarios_file({}) is None
    assert userscenarios.available({}) == SCENARIOS and userscenarios.core({}) == CORE
    by_dir = {protocol.APP_DIR_ENV: str(FIXTURE)}
    assert userscenarios.scenarios_file(by_dir) == FIXTURE / "lab-scenarios.yaml"
    # The built-in scenarios stay; the user's become the default (not their mix).
    assert set(userscenarios.available(by_dir)) == set(SCENARIOS) | {"home", "add", "token", "missing", "app-mix"}
    assert userscenarios.core(by_dir) == ["home", "add", "token", "missing"]
    # Without LAB_APP_DIR (natively, e.g. for --target-url), LAB_APP_SCENARIOS is any path.
    explicit = write(tmp_path, "scenarios:\n  front:\n    path: /front\n")
    assert userscenarios.core({protocol.APP_SCENARIOS_ENV: str(explicit)}) == ["front"]


def test_beside_lab_app_dir_lab_app_scenarios_is_a_file_inside_it(tmp_path: Path) -> None:
    """The Docker lab mounts LAB_APP_DIR only, so the same knobs must name a
    file inside it, relative to it, natively too."""
    (tmp_path / "app").mkdir()
    write(tmp_path / "app", "scenarios:\n  front:\n    path: /front\n").rename(tmp_path / "app" / "other.yaml")
    by_dir = {protocol.APP_DIR_ENV: str(tmp_path / "app")}
    assert userscenarios.core(by_dir | {protocol.APP_SCENARIOS_ENV: "other.yaml"}) == ["front"], (
        "it wins over the default"
    )
    for outside in (str(tmp_path / "app" / "other.yaml"), "../other.yaml", "sub/../../other.yaml"):
        with pytest.raises(
            ScenarioFileError,
            match=f"^{protocol.APP_SCENARIOS_ENV}: with {protocol.APP_DIR_ENV} set, name a file inside",
        ):
            userscenarios.user(by_dir | {protocol.APP_SCENARIOS_ENV: outside})


def test_what_the_containers_get_without_an_app_is_the_labs_own_scenarios_only() -> None:
    """compose.yaml sets both knobs empty in the load generators when you set neither."""
    empty = {protocol.APP_DIR_ENV: "", protocol.APP_SCENARIOS_ENV: ""}
    assert userscenarios.scenarios_file(empty) is None and userscenarios.available(empty) == SCENARIOS


def test_a_missing_file_names_the_knob(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match=f"^{protocol.APP_DIR_ENV}: no scenarios file at "):
        userscenarios.user({protocol.APP_DIR_ENV: str(tmp_path)})
    with pytest.raises(ScenarioFileError, match=f"^{protocol.APP_SCENARIOS_ENV}: no scenarios file at "):
        userscenarios.user({protocol.APP_SCENARIOS_ENV: str(tmp_path / "nope.yaml")})
    # In a container, where LAB_APP_DIR is the mount and LAB_APP_SCENARIOS comes empty when unset.
    mounted = {protocol.APP_DIR_ENV: protocol.APP_MOUNT, protocol.APP_SCENARIOS_ENV: ""}
    with pytest.raises(
        ScenarioFileError,
        match=f"^{protocol.APP_DIR_ENV}: no scenarios file at /lab/app/lab-scenarios.yaml \\(/lab/app is LAB_APP_DIR",
    ):
        userscenarios.user(mounted)


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    environ = {protocol.APP_SCENARIOS_ENV: str(write(tmp_path, "scenarios:\n  one:\n    path: /one\n"))}
    assert userscenarios.core(environ) == ["one"]
    write(tmp_path, "scenarios:\n  two:\n    path: /two\n  three:\n    path: /three\n")
    assert userscenarios.core(environ) == ["two", "three"]


# Each bad file, and what its error must name after the file's path.
BAD = {
    "empty file": ("", "the file is empty"),
    "not YAML": ("scenarios: [", "not valid YAML"),
    "a list": ("- path: /\n", "must hold one key, scenarios"),
    "unknown top-level key": ("scenarios:\n  a:\n    path: /\nservers: x\n", "must hold one key, scenarios, not"),
    "no scenarios": ("scenarios: {}\n", "scenarios: must be a non-empty mapping"),
    "ill-formed name": ("scenarios:\n  Home Page:\n    path: /\n", "scenario 'Home Page': the name must be"),
    "numeric name": ("scenarios:\n  12:\n    path: /\n", "scenario 12: the name must be"),
    "duplicate name": ("scenarios:\n  a:\n    path: /\n  a:\n    path: /b\n", "'a' is given twice"),
    "built-in name": ("scenarios:\n  hello:\n    path: /\n", "scenario 'hello': the name is the lab's own"),
    "the mix's name": ("scenarios:\n  app-mix:\n    path: /\n", "scenario 'app-mix': the name is the lab's own"),
    "clashing class": ("scenarios:\n  a-1:\n    path: /\n  a1:\n    path: /\n", "scenario 'a1': its User class A1"),
    "not a mapping": ("scenarios:\n  a: /\n", "scenario 'a': must be a mapping of fields"),
    "unknown field": ("scenarios:\n  a:\n    path: /\n    body: x\n", "scenario 'a': body: unknown field"),
    "no path": ("scenarios:\n  a:\n    method: GET\n", "scenario 'a': path: missing"),
    "relative path": ("scenarios:\n  a:\n    path: home\n", "scenario 'a': path: must start with /"),
    "path with a space": ("scenarios:\n  a:\n    path: /a b\n", "scenario 'a': path: must start with /"),
    "path not a string": ("scenarios:\n  a:\n    path: 3\n", "scenario 'a': path: must start with /"),
    "the lab's prefix": ("scenarios:\n  a:\n    path: /_lab/usage\n", "scenario 'a': path: /_lab is the lab's own"),
    "bad method": ("scenarios:\n  a:\n    path: /\n    method: FETCH\n", "scenario 'a': method: must be one of"),
    "method not a string": ("scenarios:\n  a:\n    path: /\n    method: 1\n", "scenario 'a': method: must be one of"),
    "json not JSON": (
        "scenarios:\n  a:\n    path: /\n    json: 2026-12-01\n",
        "scenario 'a': json: must be plain JSON",
    ),
    "headers a list": ("scenarios:\n  a:\n    path: /\n    headers: [x]\n", "scenario 'a': headers: must map"),
    "header value a map": (
        "scenarios:\n  a:\n    path: /\n    headers: {X-A: {b: 1}}\n",
        "scenario 'a': headers: must map",
    ),
    "status a string": (
        "scenarios:\n  a:\n    path: /\n    expect_status: ok\n",
        "scenario 'a': expect_status: must be a whole number from 100 to 599",
    ),
    "status out of range": (
        "scenarios:\n  a:\n    path: /\n    expect_status: 99\n",
        "scenario 'a': expect_status: must be a whole number",
    ),
    "status true": (
        "scenarios:\n  a:\n    path: /\n    expect_status: true\n",
        "scenario 'a': expect_status: must be a whole number",
    ),
    "contains empty": (
        "scenarios:\n  a:\n    path: /\n    expect_contains: ''\n",
        "scenario 'a': expect_contains: must be a non-empty string",
    ),
    "contains a number": (
        "scenarios:\n  a:\n    path: /\n    expect_contains: 5\n",
        "scenario 'a': expect_contains: must be a non-empty string",
    ),
    "weight zero": (
        "scenarios:\n  a:\n    path: /\n    weight: 0\n",
        "scenario 'a': weight: must be a whole number at least 1",
    ),
    "weight a fraction": (
        "scenarios:\n  a:\n    path: /\n    weight: 0.5\n",
        "scenario 'a': weight: must be a whole number at least 1",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_names_the_file_the_scenario_and_the_field(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ScenarioFileError) as caught:
        userscenarios.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lab-scenarios.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioFileError, match="not UTF-8 text"):
        userscenarios.load(path)

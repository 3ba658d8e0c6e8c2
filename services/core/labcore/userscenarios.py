"""The user's own scenarios: a YAML file of requests to their app, as ``Scenario`` s.

The file is ``lab-scenarios.yaml`` inside ``LAB_APP_DIR``, or the file
``LAB_APP_SCENARIOS`` names (relative to ``LAB_APP_DIR`` when that is set;
docs/own-app.md)::

    scenarios:
      home:
        path: /
        expect_contains: "<html"
      add:
        method: POST
        path: /add
        json: {a: 2, b: 3}
        expect_contains: "5"
        weight: 1

The locustfile and labbench both read it through :func:`available`, so the
web UI's class picker and ``labbench --scenarios`` offer the same names. With
a file, the built-in scenarios stay available, and the user's become the
default (:func:`core`). A scenario with a ``weight`` also joins ``app-mix``,
one user class sending each weighted request in proportion.

Every problem with the file is a :class:`ScenarioFileError` naming the file,
the scenario and the field.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from labcore import defaults, protocol
from labcore.scenarios import CORE, SCENARIOS, Scenario
from labcore.scenarios import resolve as resolve_builtin

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FIELDS = ("path", "method", "json", "headers", "expect_status", "expect_contains", "weight")
#: Lower-case words joined by dashes, like the built-in names: each becomes a
#: part of a Python class name (``add-item`` -> ``AddItem``).
NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
#: The scenario that sends every weighted scenario's request in proportion.
MIX = "app-mix"


class ScenarioFileError(Exception):
    """The scenarios file cannot be read, or holds something the lab cannot run."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice is an error (PyYAML keeps the last)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"{key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def user_class(name: str) -> str:
    """The Locust User class of a scenario name: ``add-item`` -> ``AddItem``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def scenarios_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The scenarios file the environment names, or None when it names none.

    With ``LAB_APP_DIR`` set, ``LAB_APP_SCENARIOS`` names a file inside that
    folder, relative to it: the Docker lab mounts only that folder into Locust
    and labbench (at ``protocol.APP_MOUNT``), so the same knobs must name the
    same file natively and there. Without ``LAB_APP_DIR`` (natively, e.g. for
    ``--target-url``) it is any path."""
    explicit = environ.get(protocol.APP_SCENARIOS_ENV)
    app_dir = environ.get(protocol.APP_DIR_ENV)
    if not app_dir:
        return Path(explicit) if explicit else None
    if not explicit:
        return Path(app_dir) / protocol.APP_SCENARIOS_FILE
    if Path(explicit).is_absolute() or os.path.normpath(explicit).split(os.sep)[0] == "..":
        raise ScenarioFileError(
            f"{protocol.APP_SCENARIOS_ENV}: with {protocol.APP_DIR_ENV} set, name a file inside that folder, "
            f"relative to it (e.g. {protocol.APP_SCENARIOS_FILE}), not {explicit!r}: the Docker lab mounts "
            f"only {protocol.APP_DIR_ENV} into Locust and labbench"
        )
    return Path(app_dir) / explicit


def _field_error(where: str, field: str, problem: str) -> ScenarioFileError:
    return ScenarioFileError(f"{where}: {field}: {problem}")


def _integer(value: Any, where: str, field: str, low: int, high: int | None = None) -> int:
    # YAML's true is an int to Python; it is never a status or a weight.
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise _field_error(where, field, f"must be a whole number {bound}, not {value!r}")
    return value


def _scenario(name: str, spec: Any, where: str) -> tuple[Scenario, int | None]:
    """One scenario of the file, and its weight in the mix (None: not in it)."""
    if not isinstance(spec, dict):
        raise ScenarioFileError(f"{where}: must be a mapping of fields ({', '.join(FIELDS)}), not {spec!r}")
    for key in spec:
        if key not in FIELDS:
            raise _field_error(where, str(key), f"unknown field; the fields are {', '.join(FIELDS)}")
    if "path" not in spec:
        raise _field_error(where, "path", "missing: every scenario needs the path it requests")
    path = spec["path"]
    if not isinstance(path, str) or not path.startswith("/") or any(char.isspace() for char in path):
        raise _field_error(where, "path", f"must start with / and hold no spaces, not {path!r}")
    if path == protocol.PREFIX or path.startswith(protocol.PREFIX + "/"):
        raise _field_error(where, "path", f"{protocol.PREFIX} is the lab's own, not the app's: {path!r}")
    method = spec.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _field_error(where, "method", f"must be one of {', '.join(METHODS)}, not {method!r}")
    body = spec.get("json")
    try:
        json.dumps(body)
    except (TypeError, ValueError):
        raise _field_error(where, "json", f"must be plain JSON data, not {body!r}") from None
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(key, str) and isinstance(value, str | int | float) and not isinstance(value, bool)
        for key, value in headers.items()
    ):
        raise _field_error(where, "headers", f"must map header names to strings, not {headers!r}")
    contains = spec.get("expect_contains")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise _field_error(where, "expect_contains", f"must be a non-empty string, not {contains!r}")
    weight = spec.get("weight")
    scenario = Scenario(
        name,
        user_class(name),
        "user",
        path,
        method=method.upper(),
        json_body=body,
        headers=tuple((key, str(value)) for key, value in headers.items()),
        expect_status=_integer(spec.get("expect_status", 200), where, "expect_status", 100, 599),
        expect_contains=contains,
    )
    return scenario, None if weight is None else _integer(weight, where, "weight", 1)


def load(path: Path) -> dict[str, Scenario]:
    """The scenarios of the file at ``path``, by name, in the file's order (and ``app-mix``)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as error:
        raise ScenarioFileError(f"{protocol.APP_SCENARIOS_ENV}: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioFileError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise ScenarioFileError(f"{path}: not valid YAML: {error}") from None
    if data is None:
        raise ScenarioFileError(f"{path}: the file is empty; it needs a `scenarios:` mapping (docs/own-app.md)")
    if not isinstance(data, dict) or set(data) != {"scenarios"}:
        keys = ", ".join(map(repr, data)) if isinstance(data, dict) else repr(data)
        raise ScenarioFileError(f"{path}: must hold one key, scenarios, not {keys}")
    specs = data["scenarios"]
    if not isinstance(specs, dict) or not specs:
        raise ScenarioFileError(f"{path}: scenarios: must be a non-empty mapping of names to scenarios")
    found: dict[str, Scenario] = {}
    weights: list[tuple[str, int]] = []
    classes = {scenario.user_class: scenario.name for scenario in SCENARIOS.values()}
    for name, spec in specs.items():
        where = f"{path}: scenario {name!r}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ScenarioFileError(f"{where}: the name must be lower-case words joined by dashes, e.g. add-item")
        if name in SCENARIOS or name == MIX:
            raise ScenarioFileError(f"{where}: the name is the lab's own scenario's; choose another")
        scenario, weight = _scenario(name, spec, where)
        if scenario.user_class in classes:
            raise ScenarioFileError(
                f"{where}: its User class {scenario.user_class} is also {classes[scenario.user_class]!r}'s; rename one"
            )
        classes[scenario.user_class] = name
        found[name] = scenario
        if weight is not None:
            weights.append((name, weight))
    if weights:
        paths = " ".join(found[name].path for name, _ in weights)
        found[MIX] = Scenario(MIX, user_class(MIX), "mix", paths, mix=tuple(weights))
    return found


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path, stamp: tuple[int, int]) -> dict[str, Scenario]:
    # Keyed by the file's modification time and size: an edited file is read again.
    return load(path)


def user(environ: Mapping[str, str] = os.environ) -> dict[str, Scenario]:
    """The user's scenarios, as the environment names their file; empty without one."""
    path = scenarios_file(environ)
    if path is None:
        return {}
    try:
        stat = path.stat()
    except OSError:
        # Compose passes LAB_APP_SCENARIOS to the containers empty when unset.
        knob = protocol.APP_SCENARIOS_ENV if environ.get(protocol.APP_SCENARIOS_ENV) else protocol.APP_DIR_ENV
        app_dir = environ.get(protocol.APP_DIR_ENV)
        if app_dir == protocol.APP_MOUNT:
            where = f" ({protocol.APP_MOUNT} is {protocol.APP_DIR_ENV}, as the lab's containers mount it)"
        elif not app_dir:
            where = f" (in the Docker lab, the file must be inside {protocol.APP_DIR_ENV}, named relative to it)"
        else:
            where = ""
        raise ScenarioFileError(
            f"{knob}: no scenarios file at {path}{where}: write one (docs/own-app.md) "
            f"or set {protocol.APP_SCENARIOS_ENV}"
        ) from None
    return dict(_load_cached(path, (stat.st_mtime_ns, stat.st_size)))


def available(environ: Mapping[str, str] = os.environ) -> dict[str, Scenario]:
    """Every scenario by name: the lab's own, then the user's."""
    return SCENARIOS | user(environ)


def core(environ: Mapping[str, str] = os.environ) -> list[str]:
    """What a run measures unless told otherwise: the user's scenarios when
    there is a file (not their mix), else the lab's ``CORE``."""
    mine = user(environ)
    return [name for name, scenario in mine.items() if not scenario.mix] if mine else list(CORE)


def resolve(
    name: str, io_ms: int = defaults.IO_MS, cpu_ms: int = defaults.CPU_MS, environ: Mapping[str, str] = os.environ
) -> tuple[Scenario, int, int]:
    """The scenario a cell's name stands for, with the work it sends: the user's
    or the lab's by name, else a crossover split (labcore.scenarios.resolve)."""
    known = available(environ)
    return (known[name], io_ms, cpu_ms) if name in known else resolve_builtin(name, io_ms, cpu_ms)

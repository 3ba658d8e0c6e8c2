"""The server matrix, read from compose.yaml: the one place it is defined.

Every Compose service labelled ``lab.role: server`` is a server under test.
Locust's target dropdown, the tests and the native launcher all come here, so
a server added to compose.yaml appears everywhere at once.

A service labelled ``lab.role: proxy`` (under a Compose profile, so not
started by default) stands in front of one server, named by its
``lab.upstream`` label: it is no server of the default matrix, but
:func:`get` finds it, so ``labbench --servers proxy`` can measure it, with
the model, slots and max-requests of the server behind it (docs/deploy.md).

Compose interpolates ``${VAR:-default}`` in compose.yaml from the caller's
environment; :func:`interpolate` does the same for the native launcher, so a
knob such as ``LAB_GUNICORN_SYNC_WORKERS=8`` means the same in both places.

Which compose.yaml: ``LAB_COMPOSE_FILE`` if set, else the one ``docker
compose`` itself would use, found in the current folder or the nearest
parent that has one (the lab's images run from the folder that holds it).
The locustfile starts that search from its own folder instead, so that
``locust -f .../locustfiles/locustfile.py`` works from anywhere.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

#: The port every server listens on inside its container.
CONTAINER_PORT = 8000

# The subset of Compose's interpolation the lab uses: $$, ${VAR}, ${VAR:-default}, ${VAR-default}.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


class MatrixError(Exception):
    """compose.yaml is missing, unreadable or defines no server."""


def compose_file(start: Path | None = None) -> Path:
    """``LAB_COMPOSE_FILE``, else compose.yaml in ``start`` (default: the
    current folder) or its nearest parent."""
    if explicit := os.environ.get("LAB_COMPOSE_FILE"):
        return Path(explicit)
    here = Path.cwd() if start is None else start.resolve()
    for folder in (here, *here.parents):
        if (folder / "compose.yaml").is_file():
            return folder / "compose.yaml"
    raise MatrixError(
        f"no compose.yaml in {here} or any folder above it: run from the lab's folder, or set LAB_COMPOSE_FILE"
    )


def lab_root() -> Path:
    """The folder that holds compose.yaml: the lab's checkout (or /lab in its images)."""
    return compose_file().resolve().parent


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Expand variables the way ``docker compose`` does."""

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        value = env.get(match["name"])
        if match["op"] == ":-" and not value:
            return match["default"]
        if match["op"] == "-" and value is None:
            return match["default"]
        return value or ""

    return _VARIABLE.sub(expand, text)


@dataclass(frozen=True)
class Server:
    """One server under test, as compose.yaml defines it."""

    name: str
    model: str
    description: str
    docs: str
    command: str
    published_port: int
    slots_expression: str = "unbounded"
    recycle_expression: str | None = None
    #: For a proxy: the server it forwards to (its ``lab.upstream``); None for a server.
    upstream: str | None = None

    @property
    def slot_factors(self) -> list[int] | None:
        """``lab.slots`` with the current knobs, e.g. [4, 2] for 4 workers x 2 threads;
        None where the server sets no bound (a thread per request)."""
        text = interpolate(self.slots_expression, os.environ)
        if text == "unbounded":
            return None
        return [int(factor) for factor in text.split("*")]

    @property
    def max_requests(self) -> int | None:
        """``lab.recycle`` with the current knobs: requests after which the
        server recycles a worker (0: it could, but does not); None where the
        server has no such setting."""
        if self.recycle_expression is None:
            return None
        return int(interpolate(self.recycle_expression, os.environ))

    @property
    def slots(self) -> int | None:
        """Requests it can serve at once with the current knobs; None if unbounded."""
        factors = self.slot_factors
        return None if factors is None else math.prod(factors)

    def argv(self, host: str, port: int, env: Mapping[str, str] | None = None) -> list[str]:
        """The server's command, listening on ``host:port`` instead of the container's."""
        env = dict(os.environ if env is None else env, LAB_LISTEN_HOST=host, LAB_LISTEN_PORT=str(port))
        return shlex.split(interpolate(self.command, env))

    @property
    def compose_url(self) -> str:
        """Where the server answers on the lab's Compose network."""
        return f"http://{self.name}:{CONTAINER_PORT}"


def _published_port(name: str, service: dict) -> int:
    for mapping in service.get("ports", []):
        parts = interpolate(str(mapping), os.environ).split(":")
        if parts[-1] == str(CONTAINER_PORT):
            if not parts[-2].isdigit():
                raise MatrixError(f"service {name!r} publishes {mapping!r}: {parts[-2]!r} is not a port number")
            return int(parts[-2])
    raise MatrixError(f"service {name!r} publishes no port for its container port {CONTAINER_PORT}")


def _labels(service: dict) -> dict:
    """A service's labels; Compose also allows them as a list of ``key=value``."""
    labels = service.get("labels") or {}
    if isinstance(labels, list):
        return dict(str(label).partition("=")[::2] for label in labels)
    return labels if isinstance(labels, dict) else {}


def _services(path: Path, role: str) -> list[Server]:
    """Every service with label ``lab.role: <role>``, in the file's order (maybe none)."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise MatrixError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise MatrixError(f"{path} is not valid YAML: {error}") from error
    services = (document.get("services") if isinstance(document, dict) else None) or {}
    if not isinstance(document, dict | None) or not isinstance(services, dict):
        raise MatrixError(f"{path} is not a Compose file: it needs a mapping of services")
    servers = []
    for name, service in services.items():
        if not isinstance(service, dict):
            raise MatrixError(f"service {name!r} in {path} is not a mapping")
        labels = _labels(service)
        if labels.get("lab.role") != role:
            continue
        command = service.get("command")
        if not isinstance(command, str):
            raise MatrixError(f"service {name!r} in {path} needs its command as one string")
        upstream = labels.get("lab.upstream")
        servers.append(
            Server(
                name=name,
                model=labels.get("lab.model", ""),
                description=interpolate(str(labels.get("lab.description", "")), os.environ),
                docs=labels.get("lab.docs", ""),
                command=command,
                published_port=_published_port(name, service),
                slots_expression=str(labels.get("lab.slots", "unbounded")),
                recycle_expression=None if "lab.recycle" not in labels else str(labels["lab.recycle"]),
                upstream=None if upstream is None else interpolate(str(upstream), os.environ),
            )
        )
    return servers


def load(path: Path | None = None, role: str = "server") -> list[Server]:
    """Every service with label ``lab.role: <role>``, in the file's order (``path``: see :func:`compose_file`)."""
    path = compose_file() if path is None else path
    servers = _services(path, role)
    if not servers:
        raise MatrixError(f"{path} defines no service labelled 'lab.role: {role}'")
    return servers


def proxies(path: Path | None = None) -> list[Server]:
    """The optional proxies, each as the server behind it (its model, slots
    and max-requests) reached through the proxy's own name and port."""
    path = compose_file() if path is None else path
    servers = {server.name: server for server in load(path)}
    found = []
    for proxy in _services(path, "proxy"):
        behind = servers.get(proxy.upstream or "")
        if behind is None:
            raise MatrixError(
                f"proxy {proxy.name!r} forwards to {proxy.upstream!r}, which is no server; "
                f"set LAB_PROXY_UPSTREAM to one of {', '.join(servers)}"
            )
        found.append(
            replace(
                proxy,
                model=behind.model,
                slots_expression=behind.slots_expression,
                recycle_expression=behind.recycle_expression,
            )
        )
    return found


def names(path: Path | None = None) -> list[str]:
    return [server.name for server in load(path)]


def addressable(path: Path | None = None) -> list[str]:
    """What a run may name: every server, then every proxy."""
    path = compose_file() if path is None else path
    return [*names(path), *(proxy.name for proxy in _services(path, "proxy"))]


def get(name: str, path: Path | None = None) -> Server:
    """The server, or the proxy, called ``name``."""
    for server in load(path):
        if server.name == name:
            return server
    # Only now, so that a wrong LAB_PROXY_UPSTREAM stops the proxy's runs and no other.
    if name in addressable(path):
        return next(proxy for proxy in proxies(path) if proxy.name == name)
    raise MatrixError(f"no server named {name!r}; choose from {', '.join(addressable(path))}")

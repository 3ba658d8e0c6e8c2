"""Where the servers under test are: Compose services already running, or native processes.

Either way the runner sees a URL per server and the same few operations:
does it answer, can it be sent SIGTERM from outside, and bring it back after
a fault.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import ClassVar, Literal

from labbench import BenchError, native
from labbench.appclient import AppClient
from labcore import matrix, protocol

#: Where the servers' published ports are, for load from other machines (--workers).
SERVERS_HOST_ENV = "LAB_SERVERS_HOST"
#: How a skipped cell begins when its server could not serve the app (the report lists them).
REFUSED = "could not serve the app"


class Targets:
    """The servers under test, reachable by URL; subclasses say how."""

    mode: ClassVar[Literal["docker", "native"]]

    def __init__(self, servers: list[matrix.Server]) -> None:
        self.servers = {server.name: server for server in servers}
        self.urls: dict[str, str] = {}
        #: Why a server could not be started or reached, by name: its cells record it.
        self.startup_errors: dict[str, str] = {}
        #: Servers outside this Compose project (--target-url), which need not be the lab's app.
        self.external: set[str] = set()

    def __enter__(self) -> Targets:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def client(self, name: str) -> AppClient:
        return AppClient(self.urls[name])

    def add_external(self, targets: dict[str, str]) -> None:
        """Measure these servers too (name -> URL); one that does not answer is recorded as such."""
        self.external |= set(targets)
        self.urls |= targets
        for name, url in targets.items():
            if not self.answers(name):
                self.startup_errors[name] = f"the target {url} did not answer"

    def answers(self, name: str) -> bool:
        if name not in self.urls:
            return False
        client = self.client(name)
        if client.usage() is not None:
            return True
        # An app that is not the lab's (a target, or the user's app through
        # LAB_APP_MODULE) may have no /usage: any HTTP answer at /, a 404
        # included, says it is up.
        return (name in self.external or native.serves_own_app(os.environ)) and client.responds()

    def note_refusals(self) -> None:
        """Record the servers that answer but could not serve the app: their cells are skipped with the cause."""
        for name in self.urls:
            if name not in self.startup_errors and (cause := self.client(name).refused()) is not None:
                self.startup_errors[name] = f"{REFUSED}: {cause}"

    def terminator(self, name: str) -> Callable[[], str] | None:
        """A way to send ``name`` SIGTERM from outside, if this runner has one.
        In Compose it has none (no Docker socket): faults go through the app."""
        return None

    def revive(self, name: str, timeout: float = 60) -> float | None:
        """Seconds until ``name`` answers again after a fault (None: it never
        did). Here something else brings it back: Compose's restart policy."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.answers(name):
                return round(time.monotonic() - start, 2)
            time.sleep(0.5)
        return None


class ComposeTargets(Targets):
    """Servers already running as Compose services on this network."""

    mode = "docker"

    def __enter__(self) -> ComposeTargets:
        # Locust workers on other machines cannot resolve the Compose names:
        # there, every server is reached on its published port of this host.
        if host := os.environ.get(SERVERS_HOST_ENV):
            self.urls = {name: f"http://{host}:{server.published_port}" for name, server in self.servers.items()}
        else:
            self.urls = {name: server.compose_url for name, server in self.servers.items()}
        down = [name for name in self.urls if not self.answers(name)]
        if down and len(down) == len(self.urls):
            raise BenchError(
                f"no server answers ({', '.join(down)}): start the lab first with `docker compose up -d --wait`"
            )
        for name in down:
            self.startup_errors[name] = f"{self.urls[name]} did not answer"
            if self.servers[name].upstream is not None:
                self.startup_errors[name] += f" (start it with `docker compose --profile proxy up -d --wait {name}`)"
        self.note_refusals()
        return self


class NativeTargets(Targets):
    """Each server's real command on loopback, pinned to the first CPU, while
    this process and Locust keep the others: the native stand-in for a
    container's CPU limit. A server that a fault took down is started again,
    as the restart policy in compose.yaml would. On leaving, this process gets
    back every CPU it had."""

    mode = "native"
    #: What the lab's compose.yaml gives every server besides its command.
    ENV: ClassVar[dict[str, str]] = {protocol.FAULT_ENDPOINTS_ENV: "1"}

    def __enter__(self) -> NativeTargets:
        if not sys.platform.startswith("linux"):
            # sched_setaffinity (the stand-in for a CPU limit) and the servers' process
            # groups as /_lab/usage reads them exist on Linux only.
            raise BenchError(
                f"--native runs the servers on Linux only, not on {sys.platform}: "
                "use the Docker lab instead (docker compose up -d --wait; docker compose run --rm bench ...)"
            )
        self._stack = contextlib.ExitStack()
        self._running: dict[str, contextlib.ExitStack] = {}
        cpus = os.sched_getaffinity(0)
        self.server_cpus = {min(cpus)} if len(cpus) > 1 else None
        if not self.servers:
            return self  # only targets outside the lab: nothing to start
        try:
            try:
                # The upstream is the lab's own app, whatever app the servers serve.
                self.upstream = self._stack.enter_context(
                    native.serve(
                        matrix.load(role="upstream")[0], cpus=self.server_cpus, env={protocol.APP_MODULE_ENV: ""}
                    )
                )
            except native.ServerFailed as error:
                raise BenchError(f"the upstream service (what /upstream calls) did not start: {error}") from None
            for name in self.servers:
                if self.servers[name].upstream is not None:
                    self.startup_errors[name] = f"{name} is a proxy in front of a server, and runs in Docker only"
                    continue
                try:
                    self._start(name)
                except native.ServerFailed as error:
                    self.startup_errors[name] = str(error)
            self.note_refusals()
            if self.server_cpus:
                # Locust inherits this process's CPUs: keep it off the servers' one,
                # until the servers are gone (a test or a caller may run on).
                self._stack.callback(os.sched_setaffinity, 0, cpus)
                os.sched_setaffinity(0, cpus - self.server_cpus)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self, name: str) -> None:
        stack = contextlib.ExitStack()
        self.urls[name] = stack.enter_context(
            native.serve(self.servers[name], upstream_url=self.upstream, cpus=self.server_cpus, env=self.ENV)
        )
        self._running[name] = stack

    def terminator(self, name: str) -> Callable[[], str] | None:
        # What `docker compose stop` does: SIGTERM to the server's top process
        # (through the container's init), now, whatever the server is doing.
        pid = (self.client(name).census() or {}).get("pid")
        if not isinstance(pid, int):
            return None

        def terminate() -> str:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return "already gone"
            return "sent"

        return terminate

    def revive(self, name: str, timeout: float = 60) -> float | None:
        if self.answers(name):
            return 0.0
        start = time.monotonic()
        # A server whose last restart failed has nothing left to stop.
        self._running.pop(name, contextlib.ExitStack()).close()
        try:
            self._start(name)
        except native.ServerFailed:
            return None
        return round(time.monotonic() - start, 2)

    def __exit__(self, *exc: object) -> None:
        for stack in self._running.values():
            stack.close()
        self._running.clear()
        self._stack.close()

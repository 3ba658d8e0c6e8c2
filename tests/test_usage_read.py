"""The server's /_lab/usage at a window's edge: read in the background, and waited for while it queues."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

from labbench.appclient import AppClient
from labbench.locustrun import UsageRead
from labcore import protocol
from tests.support.inprocess import serve_wsgi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

pytestmark = pytest.mark.unit

#: As long as the slowest request of the cell that read a living server as dead (5.1 s), and more.
QUEUED_S = 6.5


def queued_usage(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A /_lab/usage that answers only after the load's queue ahead of it."""
    assert environ["PATH_INFO"] == protocol.USAGE
    time.sleep(QUEUED_S)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"cpu_seconds": 1.5}).encode()]


def test_a_usage_read_behind_a_long_queue_is_waited_for_not_taken_for_a_dead_server() -> None:
    with serve_wsgi(queued_usage) as url:
        start = time.monotonic()
        read = UsageRead(AppClient(url))
        assert time.monotonic() - start < 1  # in the background: the window's clock is not held up
        assert read.value() == {"cpu_seconds": 1.5}
        assert time.monotonic() - start >= QUEUED_S


def test_a_usage_read_of_a_server_that_is_gone_is_none_at_once() -> None:
    with serve_wsgi(queued_usage) as url:
        pass  # stopped: nothing listens there any more
    start = time.monotonic()
    assert UsageRead(AppClient(url)).value() is None
    assert time.monotonic() - start < 3

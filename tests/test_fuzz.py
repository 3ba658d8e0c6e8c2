"""Arbitrary requests at every endpoint: never a 500, never a traceback.

Hypothesis throws query strings, paths, methods, headers and bodies at the
app through Flask's test client. Whatever comes in, the answer is a success
or a 4xx with a JSON body: bad input is the client's error, never the app's.
"""

from __future__ import annotations

import urllib.parse

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flasklab import appload, create_app
from labcore import defaults

pytestmark = pytest.mark.unit

ENDPOINTS = [
    "/",
    "/json",
    "/json-dumps",
    "/io",
    "/upstream",
    "/cpu",
    "/async-io",
    "/async-cpu",
    "/_lab/whoami",
    "/_lab/usage",
    "/_lab/packages",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"]
# Printable text, some of it what query strings and paths really carry.
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
SMALL_MS = st.integers(min_value=0, max_value=3).map(str)  # valid, and fast to serve
MS = st.one_of(SMALL_MS, TEXT, st.integers().map(str), st.floats(allow_nan=True).map(str))


@pytest.fixture(scope="module")
def app() -> Flask:
    # An upstream nobody listens on: /upstream must still answer in JSON (502).
    return appload.wrap(create_app({"TESTING": False, "UPSTREAM_URL": "http://127.0.0.1:9"}), defaults.APP_MODULE)


def check(reply) -> None:
    body = reply.get_data(as_text=True)
    assert reply.status_code < 500 or reply.status_code == 502, (reply.status_code, body[:300])
    assert "Traceback" not in body
    if reply.status_code >= 400 and reply.request.method != "HEAD":
        assert reply.is_json, body[:300]
        assert {"error", "status", "message"} <= reply.json.keys()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(
    path=st.sampled_from(ENDPOINTS),
    ms=st.lists(MS, max_size=3),
    extra=st.dictionaries(TEXT, TEXT, max_size=3),
)
def test_any_query_string(app: Flask, path: str, ms: list[str], extra: dict[str, str]) -> None:
    query = [("ms", value) for value in ms] + list(extra.items())
    check(app.test_client().get(path, query_string=query))


@SETTINGS
@given(path=TEXT, method=st.sampled_from(METHODS))
def test_any_path_and_method(app: Flask, path: str, method: str) -> None:
    # Percent-encoded, slashes too: the app still sees every character in its
    # path, and the test client never reads "//x" as a host named x.
    check(app.test_client().open("/" + urllib.parse.quote(path, safe=""), method=method))


@SETTINGS
@given(
    path=st.sampled_from(ENDPOINTS),
    method=st.sampled_from(METHODS),
    headers=st.dictionaries(
        st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=20),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
        max_size=4,
    ),
    body=st.binary(max_size=200),
)
def test_any_headers_and_body(app: Flask, path: str, method: str, headers: dict[str, str], body: bytes) -> None:
    check(app.test_client().open(path + "?ms=1", method=method, headers=headers, data=body))

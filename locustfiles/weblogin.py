"""A login for the Locust web UI, turned on by ``LAB_LOCUST_LOGIN=user:password``.

Locust 2.47 has no credentials of its own: ``--web-login`` (``LOCUST_WEB_LOGIN``)
only puts its login page in front of every page and API of the web UI, and
the locustfile must decide who gets in (the old ``--web-auth`` is gone; see
https://docs.locust.io/en/stable/extending-locust.html#authentication). This
module does that for one user:

* the login page's form posts to ``/login_submit``, which starts a session;
* HTTP Basic credentials are accepted on any request, for scripts
  (``curl -u user:password``);
* with ``LAB_LOCUST_LOGIN`` set, ``--web-login`` is on by default;
* a web UI published beyond loopback (``LAB_LOCUST_BIND_ADDRESS``, which
  compose.yaml passes to the master) without a login does not start: anyone
  who reaches it could send load anywhere.

Importing it registers Locust event listeners; headless runs and workers,
which have no web UI, are not affected. See docs/safety.md.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from flask import Blueprint, Request, redirect, request, session, url_for
from flask_login import UserMixin, login_user
from locust import events
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from werkzeug.wrappers import Response

logger = logging.getLogger(__name__)

LOGIN_VARIABLE = "LAB_LOCUST_LOGIN"
BIND_VARIABLE = "LAB_LOCUST_BIND_ADDRESS"


class LoginError(Exception):
    """The login settings are unusable; the message says how to fix them."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def match(self, username: str, password: str) -> bool:
        # compare_digest on both, always: the time taken tells nothing about
        # which part was wrong or how much of it was right.
        name_ok = hmac.compare_digest(username.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return name_ok and password_ok


class LabUser(UserMixin):
    """The one user who may use the web UI."""

    def __init__(self, username: str) -> None:
        self.id = username


def credentials(env: Mapping[str, str] = os.environ) -> Credentials | None:
    """The configured user, or None when no login is configured."""
    value = env.get(LOGIN_VARIABLE, "")
    if not value:
        return None
    username, colon, password = value.partition(":")
    if not colon or not username or not password:
        raise LoginError(f"{LOGIN_VARIABLE} must be user:password, both non-empty")
    return Credentials(username, password)


def exposed_address(env: Mapping[str, str] = os.environ) -> str | None:
    """The address the UI is published on when it is not loopback, else None."""
    address = env.get(BIND_VARIABLE) or "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        loopback = False  # not an address we can judge: assume the worst
    return None if loopback else address


@events.init_command_line_parser.add_listener
def _login_on_by_default(parser: LocustArgumentParser, **_kwargs: Any) -> None:
    # Credentials without --web-login would protect nothing: one variable does both.
    if os.environ.get(LOGIN_VARIABLE):
        parser.set_defaults(web_login=True)


def _refuse(message: str) -> NoReturn:
    # SystemExit, not an exception: Locust logs exceptions from init listeners
    # with a traceback, and this is a setting to fix, not a bug.
    sys.exit(f"locust: {message}")


@events.init.add_listener
def _set_up_login(environment: Environment, **_kwargs: Any) -> None:
    # Locust fires init before its web server starts, so nothing is served
    # until the login is in place (or the master has refused to start).
    if environment.web_ui is None:
        return  # headless, or a worker
    try:
        user = credentials()
    except LoginError as error:
        _refuse(str(error))
    web_login = bool(getattr(environment.parsed_options, "web_login", False))
    if user is None:
        address = exposed_address()
        if address is not None:
            _refuse(
                f"the web UI would be published on {address} without a login: "
                f"set {LOGIN_VARIABLE}=user:password, or {BIND_VARIABLE}=127.0.0.1 (docs/safety.md)"
            )
        if web_login:
            _refuse(f"--web-login needs {LOGIN_VARIABLE}=user:password to know who may log in")
        return
    if not web_login:
        _refuse(f"{LOGIN_VARIABLE} is set but --web-login is off: nothing would be protected")
    _install(environment, user)
    logger.info("Web UI login required (user %s)", user.username)


def _install(environment: Environment, user: Credentials) -> None:
    web_ui = environment.web_ui
    app = web_ui.app
    # A fresh key at every start: sessions end when the master restarts.
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    # Another site's page cannot make the browser post to /swarm with the session.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    base_path = getattr(environment.parsed_options, "web_base_path", "") or ""

    def load_user(user_id: str) -> LabUser | None:
        return LabUser(user_id) if hmac.compare_digest(user_id.encode(), user.username.encode()) else None

    def load_from_basic_auth(incoming: Request) -> LabUser | None:
        auth = incoming.authorization
        if auth is None or auth.type != "basic":
            return None
        return LabUser(user.username) if user.match(auth.username or "", auth.password or "") else None

    web_ui.login_manager.user_loader(load_user)
    web_ui.login_manager.request_loader(load_from_basic_auth)
    web_ui.auth_args = {"username_password_callback": f"{base_path}/login_submit"}

    blueprint = Blueprint("lab_login", __name__, url_prefix=base_path or None)

    @blueprint.route("/login_submit", methods=["POST"])
    def login_submit() -> Response:
        if user.match(request.form.get("username", ""), request.form.get("password", "")):
            login_user(LabUser(user.username))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))

    app.register_blueprint(blueprint)

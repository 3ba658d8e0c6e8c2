"""The lab's start page for Locust's web UI: the server and the scenario in plain sight.

Locust's own form asks for a Host, warns when it is empty, and tucks the
locustfile's options away in a collapsed "Custom parameters" panel; the
class picker starts with every scenario ticked. For the lab that is the
wrong way round: the two choices are the server under load and the
scenario. Locust renders its page from one Jinja template, ``index.html``,
with the form's settings in ``template_args``; this module puts the lab's
own ``templates/index.html`` in front of it (Flask's public ``jinja_loader``),
which:

* fills the Host with the default server's address on the Compose network
  (``http://gunicorn-sync:8000``), so Locust never asks for one and shows,
  as it does for any host, the server under load in the header of a run;
* adds a "Server under load" list of every server in compose.yaml at the top
  of the form, which writes the chosen server's address into the Host;
* leaves one scenario ticked (:data:`FIRST_SCENARIO`) instead of all eight.

Everything else (the statistics, the charts, the API, headless runs) is
Locust's, untouched. Importing this module registers the listener.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from locust import events
from locust.env import Environment

from labcore import matrix, userscenarios

TEMPLATES = Path(__file__).parent / "templates"
#: The scenario ticked when the page opens: blocking I/O, where the models differ most.
FIRST_SCENARIO = "Io"


def first_scenario() -> str:
    """The class ticked when the page opens: with a scenarios file of the
    user's app, its first scenario (the lab's endpoints are not that app's)."""
    mine = userscenarios.user()
    return next(iter(mine.values())).user_class if mine else FIRST_SCENARIO


def page_settings(template_args: dict[str, Any], servers: list[matrix.Server], default: str) -> dict[str, Any]:
    """Adjust Locust's ``template_args`` for the lab's page, and return what the page's script needs.

    An empty Host becomes the default server's address (an explicit host the
    user typed, or the last run's, stays); with a host there, Locust's
    "no host attribute set" notice has nothing to warn about.
    """
    urls = {server.name: server.compose_url for server in servers}
    if not template_args.get("host"):
        template_args["host"] = urls[default]
    template_args["missing_host_warning"] = False
    chosen = next((name for name, url in urls.items() if url == template_args["host"]), "")
    classes = template_args.get("available_user_classes") or []
    return {
        "servers": [
            {"name": server.name, "url": server.compose_url, "label": f"{server.name}: {server.description}"}
            for server in servers
        ],
        "chosen": chosen,
        "first_scenario": first if (first := first_scenario()) in classes else "",
    }


def install(environment: Environment, compose_file: Path, default: str) -> None:
    """Serve the lab's ``index.html`` in front of Locust's own (which it includes)."""
    web_ui = environment.web_ui
    if web_ui is None:
        return
    app = web_ui.app
    locust_loader = app.jinja_loader
    # Ours first; Locust's own page as "locust/index.html"; every other page Locust's.
    app.jinja_loader = ChoiceLoader(
        [FileSystemLoader(TEMPLATES), PrefixLoader({"locust": locust_loader}), locust_loader]
    )
    servers = matrix.load(compose_file)
    app.jinja_env.globals["lab_page"] = lambda template_args: page_settings(template_args, servers, default)


def register(compose_file: Path, default: str) -> None:
    """Install the page on every web UI this process starts (the master's)."""

    @events.init.add_listener
    def _on_init(environment: Environment, **_kwargs: Any) -> None:
        install(environment, compose_file, default)

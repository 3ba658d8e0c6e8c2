"""The docs tell the truth about the lab, and keep telling it.

* docs/architecture.md's "Add a server in 3 steps" is followed to the letter:
  its example service goes into a copy of compose.yaml, and the new server
  must then be in the matrix, among the Locust ``--target`` choices (the web
  UI's server list), in labbench's plan and in a report.
* Every server in compose.yaml has its section in docs/models.md, linking
  its own documentation and naming its knobs.
* Every relative link in README.md and docs/*.md points at a file that exists.
* docs/results.md's tables are the ones labbench renders from the run it
  shows, whose results.json is committed beside its charts; so are
  docs/own-app.md's tables of flaskr measured through Docker.

Locust is never imported here (importing it monkey-patches this process with
gevent): whatever needs the locustfile runs in a child process, as labbench
itself does.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pytest
import yaml

from labbench.crossover import crossover_map
from labbench.options import FULL
from labbench.report import crossovermap, render
from labbench.results import load_results
from labbench.stats import summarize
from labcore import matrix
from tests.support import ROOT, bench_fixtures
from tests.support.docker import default_port
from tests.support.mdtables import md_tables, sections_naming

pytestmark = pytest.mark.unit

DOCS = ROOT / "docs"
README = ROOT / "README.md"
ARCHITECTURE = DOCS / "architecture.md"
MODELS = DOCS / "models.md"
RESULTS = DOCS / "results.md"
#: docs/images/charts.py names the runs results.md shows (it draws their charts): one place for both.
CHARTS = runpy.run_path(str(DOCS / "images" / "charts.py"))
#: The full run docs/results.md shows.
RESULTS_RUN: Path = CHARTS["RUN"]
#: The crossover run whose map docs/results.md shows.
CROSSOVER_RUN: Path = CHARTS["CROSSOVER"]
CROSSOVER_SECTION = "## The crossover map"
OWN_APP = DOCS / "own-app.md"
#: flaskr (examples/flaskr) measured through Docker, as docs/own-app.md shows it.
FLASKR_DOCKER_RUNS = sorted((DOCS / "images").glob("*-flaskr-docker.json"))
GUIDE = "## Add a server in 3 steps"
MODELS_ALLOWED = {"single", "threads", "processes", "processes+threads", "greenlets", "processes+greenlets"}
# Set by native mode only; every server has them, so no section needs to name them.
LISTEN_KNOBS = {"LAB_LISTEN_HOST", "LAB_LISTEN_PORT"}
VARIABLE = re.compile(r"\$\{(LAB_[A-Z0-9_]+):-([^}]*)\}")
# A fixture server whose cells the new server borrows in the synthetic report.
DONOR = "gunicorn-gevent"


# --- reading Markdown ------------------------------------------------------------------


def section(text: str, heading: str) -> str:
    """From ``heading`` (a whole line) to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    start = lines.index(heading)
    end = next(
        (
            index
            for index in range(start + 1, len(lines))
            if re.match(rf"#{{1,{level}}} ", lines[index]) and not _in_fence(lines, index)
        ),
        len(lines),
    )
    return "\n".join(lines[start:end])


def _in_fence(lines: list[str], index: int) -> bool:
    return sum(1 for line in lines[:index] if line.lstrip().startswith("```")) % 2 == 1


def fenced(text: str, language: str) -> list[str]:
    """The contents of every ```language block, without the indentation of its fence."""
    blocks = []
    for match in re.finditer(rf"^( *)```{language}\n(.*?)^\1```$", text, re.M | re.S):
        indent = len(match[1])
        blocks.append("".join(line[indent:] for line in match[2].splitlines(keepends=True)))
    return blocks


def without_code(text: str) -> str:
    """The text with fenced blocks and inline code spans removed: links there are examples."""
    text = re.sub(r"^ *```.*?^ *```$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)


def link_targets(text: str) -> list[str]:
    prose = without_code(text)
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def models_sections(text: str) -> dict[str, str]:
    """docs/models.md's sections by server name: a heading that is the name in backticks."""
    found = {}
    for match in re.finditer(r"^(#{2,4}) `([a-z0-9-]+)`$", text, re.M):
        found[match[2]] = section(text, match[0])
    return found


# --- the guide's example ---------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """What the guide tells a reader to add."""

    name: str
    service: str  # the YAML that goes under `services:`
    readme_rows: list[str]
    guide: str


def guide_example() -> Example:
    guide = section(ARCHITECTURE.read_text(), GUIDE)
    services = fenced(guide, "yaml")
    assert len(services) == 1, f"the guide shows {len(services)} YAML blocks, not the one service to add"
    name = re.match(r" {2}([a-z0-9-]+):\n", services[0])
    assert name, "the guide's YAML is not one service entry, indented to go under `services:`"
    rows = [line for block in fenced(guide, "markdown") for line in block.splitlines() if line.startswith("|")]
    return Example(name[1], services[0], rows, guide)


@pytest.fixture(scope="module")
def example() -> Example:
    return guide_example()


@pytest.fixture(scope="module")
def compose_copy(example: Example, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """compose.yaml with step 1 done: the example service added to `services:`."""
    text = (ROOT / "compose.yaml").read_text()
    added, count = re.subn(r"^services:\n", lambda m: m[0] + example.service + "\n", text, count=1, flags=re.M)
    assert count == 1, "compose.yaml has no top-level `services:`"
    path = tmp_path_factory.mktemp("compose") / "compose.yaml"
    path.write_text(added)
    return path


@pytest.fixture(scope="module")
def added(example: Example, compose_copy: Path) -> matrix.Server:
    return next(server for server in matrix.load(compose_copy) if server.name == example.name)


def child_env(compose_file: Path) -> dict[str, str]:
    """A child process that reads ``compose_file`` as the lab's compose.yaml."""
    return os.environ | {"LAB_COMPOSE_FILE": str(compose_file)}


def test_the_example_is_a_new_server_on_the_next_free_port(example: Example, added: matrix.Server) -> None:
    servers = matrix.load()
    assert example.name not in [server.name for server in servers], "the example already exists: pick another"
    # Compared with the defaults a user's lab publishes (the tests' own stack moves them).
    ours = published_ports(ROOT / "compose.yaml")
    assert default_port(added.published_port) == max(default_port(s.published_port) for s in servers) + 1
    assert default_port(added.published_port) not in ours, "another service has its port"


def published_ports(compose_file: Path) -> set[int]:
    """Every host port a service of ``compose_file`` publishes, with the default knobs."""
    services = yaml.safe_load(compose_file.read_text())["services"]
    mappings = [matrix.interpolate(str(port), {}) for service in services.values() for port in service.get("ports", [])]
    return {int(mapping.split(":")[-2]) for mapping in mappings}


def test_the_example_follows_the_label_rules(added: matrix.Server) -> None:
    """The rules step 1 states, which tests/test_matrix.py holds every real server to."""
    assert "${LAB_LISTEN_HOST:-0.0.0.0}:${LAB_LISTEN_PORT:-8000}" in added.command
    assert added.model in MODELS_ALLOWED
    in_command = dict(VARIABLE.findall(added.command))
    for name, default in VARIABLE.findall(added.slots_expression):
        assert in_command.get(name) == default, f"lab.slots has ${{{name}:-{default}}}, unlike the command"
    assert added.slots == 8
    max_requests = re.search(r"--max-requests (\S+)", added.command)
    assert added.recycle_expression == (max_requests and max_requests[1])
    assert added.docs.startswith("https://")


def test_the_example_joins_the_matrix(example: Example, compose_copy: Path) -> None:
    assert sorted(matrix.names(compose_copy)) == sorted([*matrix.names(), example.name])


def test_the_example_is_a_locust_target(example: Example, compose_copy: Path) -> None:
    """``--target`` (headless) and the web UI's server list take their choices from the matrix."""

    def accepted(compose_file: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "locust", "-f", "locustfile.py", "--target", example.name, "--list"],
            cwd=ROOT / "locustfiles",
            env=child_env(compose_file),
            capture_output=True,
            text=True,
            timeout=120,
        )

    with_it = accepted(compose_copy)
    assert with_it.returncode == 0, with_it.stderr[-2000:]
    without_it = accepted(ROOT / "compose.yaml")
    assert without_it.returncode != 0 and "invalid choice" in without_it.stderr


PLAN = """
import json, sys
from labcore import matrix, scenarios
from labbench import cli, metadata, options

name = sys.argv[1]
chosen = options.plan_from(cli.settings(["--servers", name]))
default = options.plan_from(cli.settings([]))
servers, _ = metadata.describe(default, [matrix.get(server) for server in default.servers], scenarios.SCENARIOS)
servers = {server: info.to_dict() for server, info in servers.items()}
print(json.dumps({"chosen": chosen.servers, "default": default.servers, "servers": servers}))
"""


@pytest.fixture(scope="module")
def plan(example: Example, compose_copy: Path) -> dict[str, Any]:
    """labbench's command line and plan, and the servers a run would record, with the example added."""
    result = subprocess.run(
        [sys.executable, "-c", PLAN, example.name],
        cwd=ROOT,
        env=child_env(compose_copy),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_the_example_is_in_labbench_s_plan(example: Example, added: matrix.Server, plan: dict[str, Any]) -> None:
    assert plan["chosen"] == [example.name]
    assert example.name in plan["default"]
    assert plan["servers"][example.name] == {
        "model": added.model,
        "slots": added.slots,
        "description": added.description,
        "docs": added.docs,
    }


def test_the_example_appears_in_a_report(example: Example, plan: dict[str, Any], tmp_path: Path) -> None:
    """A run that measured it (cells borrowed from a fixture server) reports it in every table."""
    data = bench_fixtures.results()
    data["servers"][example.name] = plan["servers"][example.name]
    data["run"]["plan"]["servers"].append(example.name)
    borrowed = [cell for cell in data["cells"] if cell["server"] == DONOR]
    for order, cell in enumerate(borrowed, start=len(data["cells"]) + 1):
        raw = f"raw/{example.name}__{cell['scenario']}__u{cell['users']}__r{cell['repetition']}"
        data["cells"].append(cell | {"server": example.name, "order": order, "raw": raw})
    html_path, md_path = render(bench_fixtures.write_run(tmp_path, data))

    tables = md_tables(md_path.read_text())
    slots = plan["servers"][example.name]["slots"]
    for scenario, spec in bench_fixtures.SCENARIOS.items():
        rows = {row["Server"]: row for row in tables[scenario] if row["Users"] == "32"}
        assert example.name in rows, f"report.md's {scenario} table lacks {example.name}"
        donor, new = rows[DONOR], rows[example.name]
        assert new["req/s median [min–max]"] == donor["req/s median [min–max]"]
        if spec["kind"] == "io":
            # Its own slots, from its own label, set its bound: 8 slots of 100 ms sleeps.
            assert new["Ideal req/s"] == f"{min(slots, 32) / (spec['work_ms'] / 1000):.1f}"
    html = html_path.read_text()
    assert example.name in html
    assert html_escape(plan["servers"][example.name]["description"]) in html


def test_the_guide_s_readme_rows_are_the_ones_the_readme_tests_read(example: Example, added: matrix.Server) -> None:
    """Step 2: the rows take the shape tests/test_matrix.py looks for in README.md."""
    server_rows = [row for row in example.readme_rows if row.startswith(f"| `{example.name}` |")]
    assert len(server_rows) == 1
    assert server_rows[0].startswith(f"| `{example.name}` | {default_port(added.published_port)} | {added.model} |")
    readme = README.read_text()
    for name, default in VARIABLE.findall(added.command):
        if name in LISTEN_KNOBS:
            continue
        row = f"| `{name}` | `{default}` |"
        shown = [line for line in example.readme_rows if line.startswith(row)]
        assert row in readme or shown, f"neither README.md nor the guide's step 2 has a knob row for {name}"
        assert not (row in readme and shown), f"{name} is already in README.md: step 2 must not add it again"


def test_the_guide_asks_for_the_models_section_the_docs_test_checks(example: Example) -> None:
    heading = f"### `{example.name}`"
    assert heading in example.guide
    assert example.name in models_sections(heading + "\n")


# --- docs/models.md --------------------------------------------------------------------


@pytest.mark.parametrize("server", matrix.load(), ids=lambda server: server.name)
def test_every_server_has_its_section_in_models_md(server: matrix.Server) -> None:
    sections = models_sections(MODELS.read_text())
    assert server.name in sections, f"docs/models.md has no section headed ### `{server.name}`"
    text = sections[server.name]
    assert server.docs in text, f"its section does not link its lab.docs, {server.docs}"
    for knob in sorted({name for name, _ in VARIABLE.findall(server.command)} - LISTEN_KNOBS):
        assert f"`{knob}`" in text, f"its section does not name its knob {knob}"
    assert fenced(text, "mermaid"), "its section has no request-path diagram"


def test_models_md_has_no_section_for_a_server_that_is_gone() -> None:
    assert set(models_sections(MODELS.read_text())) <= set(matrix.names())


# --- links -----------------------------------------------------------------------------


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(document: Path) -> None:
    broken = []
    for target in link_targets(document.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, or a place in the same page
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (document.parent / path).exists():
            broken.append(target)
    assert not broken, f"{document.relative_to(ROOT)} links to missing files: {broken}"


# --- docs/results.md -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The committed run's results, and the report.md labbench renders from them now."""
    folder = tmp_path_factory.mktemp("run")
    shutil.copyfile(RESULTS_RUN, folder / "results.json")
    _, md_path = render(folder)
    return json.loads(RESULTS_RUN.read_text()), md_path.read_text()


def test_results_md_shows_a_full_default_run(rendered_run: tuple[dict[str, Any], str]) -> None:
    run = rendered_run[0]["run"]
    plan = run["plan"]
    assert run["id"] in RESULTS_RUN.name and f"`{run['id']}`" in RESULTS.read_text()
    assert run["finished_at"] and not plan["quick"]
    assert plan["servers"] == matrix.names()
    settings = (plan["scenarios"], plan["users"], plan["duration_s"], plan["warmup_s"], plan["repetitions"])
    assert settings == tuple(FULL[key] for key in ("scenarios", "users", "duration", "warmup", "repetitions"))
    assert all(cell["status"] == "ok" for cell in rendered_run[0]["cells"])


def test_results_md_tables_are_the_report_s(rendered_run: tuple[dict[str, Any], str]) -> None:
    """Every number in a results.md table is the one labbench renders from the committed run."""
    report = md_tables(rendered_run[1])
    shown = {heading: rows for heading, rows in md_tables(RESULTS.read_text()).items() if heading in report}
    scenarios = rendered_run[0]["run"]["plan"]["scenarios"]
    assert set(shown) >= set(scenarios), f"results.md lacks the tables of {set(scenarios) - set(shown)}"
    for scenario in scenarios:
        expected = {row["Server"]: row for row in report[scenario]}
        assert [row["Server"] for row in shown[scenario]] == list(expected), f"{scenario}: rows differ"
        for row in shown[scenario]:
            for column, value in row.items():
                if column in expected[row["Server"]]:
                    assert value == expected[row["Server"]][column], f"{scenario}, {row['Server']}, {column}"


def test_the_winners_and_warnings_are_quoted_as_rendered(rendered_run: tuple[dict[str, Any], str]) -> None:
    results = RESULTS.read_text()
    for heading in ("## Winners", "## Warnings"):
        bullets = [line for line in section(rendered_run[1], heading).splitlines() if line.lstrip().startswith("- ")]
        assert bullets
        for bullet in bullets:
            assert bullet in results, f"results.md does not quote the report's {heading[3:]}: {bullet}"


def test_results_md_crossover_table_is_the_map_of_the_committed_run(tmp_path: Path) -> None:
    """The crossover section's table is the one labbench renders from the committed run, cell for cell."""
    shutil.copyfile(CROSSOVER_RUN, tmp_path / "results.json")
    results = load_results(tmp_path)
    rendered = md_tables("# map\n" + "\n".join(crossovermap.table(crossover_map(results, summarize(results)))))
    shown = md_tables(section(RESULTS.read_text(), CROSSOVER_SECTION))
    assert shown["The map, cell by cell"] == rendered["map"]
    text = section(RESULTS.read_text(), CROSSOVER_SECTION)
    assert f"`{results.run.id}`" in text and CROSSOVER_RUN.name in text
    assert results.run.finished_at and results.run.plan.crossover


def test_models_md_points_at_the_crossover_map() -> None:
    advice = section(MODELS.read_text(), "## Which server for my workload?")
    assert "results.md#the-crossover-map" in advice


def test_the_chart_script_draws_every_chart_results_md_shows(tmp_path: Path) -> None:
    charts = textwrap.dedent(
        """
        import sys, runpy
        module = runpy.run_path(sys.argv[1])
        output = module["Path"](sys.argv[2])
        _, results = module["load"](module["RUN"])
        drawn = module["render"](results, output)
        _, crossover = module["load"](module["CROSSOVER"])
        drawn += module["render"](crossover, output, "crossover")
        for committed in sorted(module["HERE"].glob("*-capacity*.json")):
            drawn += module["render"](module["load"](committed)[1], output, "capacity")
        print("\\n".join(path.name for path in drawn))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", charts, str(DOCS / "images" / "charts.py"), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    drawn = set(result.stdout.split())
    shown = {Path(target).name for target in link_targets(RESULTS.read_text()) if target.endswith(".svg")}
    assert shown == drawn


# --- docs/own-app.md ---------------------------------------------------------------------


def test_own_app_md_shows_flaskr_measured_through_docker() -> None:
    assert FLASKR_DOCKER_RUNS, "docs/images holds no *-flaskr-docker.json"
    assert f"images/{FLASKR_DOCKER_RUNS[-1].name}" in OWN_APP.read_text()


@pytest.mark.parametrize("run", FLASKR_DOCKER_RUNS, ids=lambda path: path.name)
def test_own_app_md_flaskr_tables_are_the_report_s(run: Path, tmp_path: Path) -> None:
    """Each scenario's table in the section naming the run is labbench's
    rendering of its committed results.json, not typed in."""
    data = json.loads(run.read_text())
    shutil.copyfile(run, tmp_path / "results.json")
    _, md_path = render(tmp_path)
    rendered = md_tables(md_path.read_text())
    shown = md_tables(sections_naming(OWN_APP.read_text(), data["run"]["id"], level=3))
    assert data["run"]["mode"] == "docker" and all(cell["status"] == "ok" for cell in data["cells"])
    for scenario in data["run"]["plan"]["scenarios"]:
        assert shown.get(scenario) == rendered[scenario], (
            f"docs/own-app.md's {scenario!r} table differs from {run.name}'s"
        )

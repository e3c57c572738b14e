"""load_project on real MkDocs fixture projects: order, nesting, macros, ids, options."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshdemo.errors import ParseError
from meshdemo.guide.pages import load_project, page_stem
from meshdemo.model import Kind

FIXTURES = Path(__file__).parent / "fixtures"


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """A private copy of a fixture project; returns its mkdocs.yml."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target / "mkdocs.yml"


def line_of(page: Path, text: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line of ``page`` that contains ``text`` (found, not assumed)."""
    hits = [n for n, ln in enumerate(page.read_text().splitlines(), 1) if text in ln]
    assert len(hits) >= occurrence, f"{text!r} not in {page}"
    return hits[occurrence - 1]


@pytest.fixture(scope="module")
def basic():
    return load_project(FIXTURES / "basic" / "mkdocs.yml")


def test_pages_follow_nav_and_leave_out_pages_not_in_nav(basic):
    assert [page.path for page in basic.pages] == ["index.md", "install/cli.md", "verify.md"]
    assert all(step.page != "not-in-nav.md" for step in basic.steps)
    # run order is page order, then order within the page
    lines = [(s.page, s.line) for s in basic.steps]
    order = {p.path: i for i, p in enumerate(basic.pages)}
    assert lines == sorted(lines, key=lambda pl: (order[pl[0]], pl[1]))


def test_without_nav_mkdocs_decides_the_order(tmp_path):
    from mkdocs.config import load_config
    from mkdocs.structure.files import get_files
    from mkdocs.structure.nav import get_navigation

    config_file = FIXTURES / "nonav" / "mkdocs.yml"
    project = load_project(config_file)
    config = load_config(str(config_file))
    mkdocs_order = [p.file.src_uri for p in get_navigation(get_files(config), config).pages]
    assert [p.path for p in project.pages] == mkdocs_order
    # MkDocs puts index first and a folder's pages after the files beside it
    assert [p.path for p in project.pages] == [
        "index.md",
        "alpha.md",
        "zeta.md",
        "guide/index.md",
        "guide/beta.md",
    ]


def test_nested_fences_are_found_at_their_exact_lines(basic):
    cli = FIXTURES / "basic" / "docs" / "install" / "cli.md"
    by_command = {s.command.splitlines()[0]: s for s in basic.steps if s.page == "install/cli.md"}
    expected = {
        # in a content tab
        "curl -sSfL https://run.linkerd.io/install-edge | sh": line_of(cli, "#install-linux"),
        # in an admonition inside a tab (brace form)
        "export LINKERD2_VERSION=edge-25.4.4": line_of(cli, "#pin-linkerd"),
        # in a list item inside a tab
        "brew install linkerd": line_of(cli, "#install-macos"),
        # in a blockquote inside a collapsible admonition
        "linkerd version --client": line_of(cli, "#client-version"),
        "linkerd viz tap deploy/web": line_of(cli, "stream="),
    }
    assert {cmd: step.line for cmd, step in by_command.items()} == expected


def test_container_dedent_leaves_the_command_as_a_reader_copies_it(basic):
    pin = next(s for s in basic.steps if s.id == "pin-linkerd")
    assert pin.command == "export LINKERD2_VERSION=edge-25.4.4"
    quoted = next(s for s in basic.steps if "version --client" in s.command)
    assert quoted.command == "linkerd version --client"


def test_line_numbers_count_the_front_matter(basic):
    index = FIXTURES / "basic" / "docs" / "index.md"
    first = basic.steps[0]
    assert first.page == "index.md"
    assert first.line == line_of(index, "#welcome")
    assert first.line > 4  # the page starts with three lines of front matter


def test_macros_render_variables_and_yaml_data(basic):
    commands = [s.command for s in basic.steps]
    assert 'echo "hello from demo"' in commands  # extra: cluster_name
    assert "export LINKERD2_VERSION=edge-25.4.4" in commands  # include_yaml versions.yml
    create = next(s for s in basic.steps if s.id == "create-cluster")
    assert create.options.skip_if == "kind get clusters | grep -qx demo"  # rendered too
    assert not any("{{ cluster_name }}" in c for c in commands)


def test_raw_block_keeps_a_go_template(basic):
    step = next(s for s in basic.steps if "go-template" in s.command)
    assert step.command == (
        "kubectl get nodes -o go-template="
        """'{{range .items}}{{.metadata.name}}{{"\\n"}}{{end}}'"""
    )


def test_kinds_options_and_expected_output(basic):
    by_id = {s.id: s for s in basic.steps}
    create = by_id["create-cluster"]
    assert create.kind is Kind.BASH
    assert create.options.timeout == 120
    assert create.options.provision is True
    tap = by_id["tap"]
    assert tap.options.stream == 5
    assert by_id["pin-linkerd"].options.retry == 3
    assert by_id["pin-linkerd"].options.retry_delay == 2
    clean = by_id["clean-up"]
    assert clean.options.teardown is True and clean.options.exit is None
    shot = by_id["dashboard"]
    assert shot.kind is Kind.SCREENSHOT
    assert shot.options.url == "http://localhost:50750/namespaces"
    assert shot.options.image == "images/dashboard.png"
    assert shot.options.wait_for == "table tbody tr"
    assert shot.command == "The dashboard's namespaces"
    python = [s for s in basic.steps if s.kind is Kind.PYTHON]
    assert [s.command.splitlines()[0] for s in python] == ["import os"]
    hello = by_id["welcome"]
    assert hello.expected is not None
    assert hello.expected.text == "hello from demo"
    assert hello.expected.match == "contains"
    assert hello.expected.title == "Example output"
    index = FIXTURES / "basic" / "docs" / "index.md"
    assert hello.expected.line == line_of(index, ".expected")


def test_ids_are_the_fences_own(basic):
    ids = [s.id for s in basic.steps]
    assert ids == [
        "welcome",
        "create-cluster",
        "list-nodes",
        "install-linux",
        "pin-linkerd",
        "install-macos",
        "client-version",
        "tap",
        "verify-pods",
        "dashboard",
        "clean-up",
    ]
    assert basic.steps[0].heading == "Welcome"


def test_a_step_without_an_id_is_refused_with_an_id_to_give_it(tmp_path):
    config_file = copy_fixture("minimal", tmp_path)
    page = config_file.parent / "docs" / "second.md"
    page.write_text(
        "# Second\n\n## Check it\n\n``` { .bash #a }\necho a\n```\n\n"
        '``` { .bash timeout="60" }\necho b\n```\n'
    )
    with pytest.raises(ParseError) as raised:
        load_project(config_file)
    assert (raised.value.path.name, raised.value.line) == ("second.md", 9)
    assert "this bash step has no id" in raised.value.message
    assert '``` { .bash #second-check-it timeout="60" } ```' in raised.value.message
    assert page_stem("Install/CLI_Tools.md") == "install-cli-tools"


@pytest.mark.parametrize(
    "fence",
    [
        "```bash",
        "```python",
        "``` { .python }",
        '``` { .screenshot url="http://localhost:1/" image="x.png" }',
    ],
)
def test_every_kind_of_step_needs_an_id(tmp_path, fence):
    config_file = copy_fixture("minimal", tmp_path)
    (config_file.parent / "docs" / "second.md").write_text(f"# Second\n\n{fence}\nx = 1\n```\n")
    with pytest.raises(ParseError, match="step has no id") as raised:
        load_project(config_file)
    assert raised.value.line == 3


def test_brace_values_keep_spaces_and_pipes(tmp_path):
    config_file = copy_fixture("minimal", tmp_path)
    page = config_file.parent / "docs" / "second.md"
    page.write_text(
        "# Second\n\n"
        """``` { .bash #quoted skip-if='kind get clusters | grep -q "^demo$"' }\necho b\n```\n\n"""
        """``` { .bash #spaced skip="not on a laptop, really" }\necho c\n```\n"""
    )
    steps = {s.id: s for s in load_project(config_file).steps}
    assert steps["quoted"].options.skip_if == 'kind get clusters | grep -q "^demo$"'
    assert steps["spaced"].options.skip == "not on a laptop, really"


def test_the_fixture_fences_are_the_ones_mkdocs_renders(tmp_path, mkdocs_build):
    """Cross-check the container rules against the real site: same code blocks on each page."""
    import re

    from meshdemo.guide import fences

    config_file = copy_fixture("basic", tmp_path)
    site = tmp_path / "site"
    result = mkdocs_build(config_file, site)
    assert result.returncode == 0, result.stderr
    project = load_project(config_file)
    for page in project.pages:
        stem = page.path.removesuffix(".md").removesuffix("index")
        html = (site / stem / "index.html").read_text()
        blocks = re.findall(r'<div (?:id="[^"]*" )?class="(?:[\w-]+ )*highlight"', html)
        parsed = [t for t in fences.parse(page.markdown) if t.type == "fence"]
        assert len(blocks) == len(parsed), page.path
        for step in page.steps:
            if step.kind is Kind.BASH:  # each command's first word is in the page
                assert step.command.split()[0] in html


def test_lines_stay_right_below_a_macro_include(tmp_path):
    config_file = copy_fixture("minimal", tmp_path)
    docs = config_file.parent / "docs"
    (docs / "partial.md").write_text("Partial one.\n\nPartial three.\n\nPartial five.\n")
    page = docs / "second.md"
    page.write_text(
        '# Second\n\n{% include "partial.md" %}\n\nMore text.\n\n'
        "``` { .bash #greet }\necho {{ greeting }}\n```\n"
    )
    project = load_project(config_file)
    step = next(s for s in project.steps if s.page == "second.md")
    assert step.command == "echo hello"
    assert step.line == line_of(page, "#greet")  # the include added 4 lines above it
    rendered = next(p for p in project.pages if p.path == "second.md").markdown
    assert "Partial five." in rendered


def test_read_page_steps_matches_load_project(basic):
    from meshdemo.guide.pages import read_page_steps

    page = next(p for p in basic.pages if p.path == "index.md")
    docs = FIXTURES / "basic" / "docs"
    steps = read_page_steps(
        "index.md", page.markdown, source=(docs / "index.md").read_text(), docs_dir=docs
    )
    assert steps == list(page.steps)


def test_reading_a_project_leaves_requests_unimported_until_it_is_used(tmp_path):
    """mkdocs-macros imports requests (a third of its plugin's import) for a build's PyPI
    check: a project read in a new process imports it only when something uses it."""
    config = copy_fixture("basic", tmp_path)
    probe = f"""
import sys
from meshdemo.guide.project import read_project
from pathlib import Path
project, _ = read_project(Path({str(config)!r}))
assert project.steps, "the fixture has steps"
import mkdocs_macros.util as util
network = ("requests", "urllib3")
print("loaded before use:", sorted(m for m in sys.modules if m.split(".")[0] in network))
print("used:", util.requests.exceptions.RequestException.__name__, callable(util.requests.get))
import requests.adapters
print("submodule:", requests.adapters.HTTPAdapter.__name__)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "loaded before use: ['requests']",
        "used: RequestException True",
        "submodule: HTTPAdapter",
    ]

"""meshdemo list: one step a line in run order, greppable, and light to start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cli

from meshdemo.guide.pages import load_project

FIXTURES = Path(__file__).parent / "fixtures"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_list_prints_every_step_in_run_order():
    project = load_project(FIXTURES / "basic" / "mkdocs.yml")
    result = cli.meshdemo("list", "-f", "mkdocs.yml", cwd=FIXTURES / "basic")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(project.steps)
    for line, step in zip(lines, project.steps, strict=True):
        step_id, location, rest = line.split(None, 2)
        assert (step_id, location) == (step.id, step.location)
        assert step.first_line.split()[0] in rest or step.options.url in rest
    # piped output is plain text: no colour codes, no table borders
    assert "\x1b[" not in result.stdout and "│" not in result.stdout
    create = next(ln for ln in lines if ln.startswith("create-cluster "))
    assert create.split()[1:] == ["index.md:24", "kind", "create", "cluster", "--name", "demo"]


def test_list_shows_what_non_bash_steps_do():
    result = cli.meshdemo("list", cwd=FIXTURES / "basic")
    lines = {ln.split()[0]: ln for ln in result.stdout.splitlines()}
    assert "[screenshot] http://localhost:50750/namespaces" in lines["dashboard"]
    assert "[python] import os" in lines["verify-pods"]


def test_list_imports_neither_kubernetes_nor_playwright():
    code = (
        "import json, sys\n"
        "from meshdemo import cli\n"
        "status = cli.main(['list', '-f', 'mkdocs.yml'])\n"
        "roots = ('kubernetes', 'playwright')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(json.dumps({'status': status, 'heavy': heavy}), file=sys.stderr)\n"
    )
    result = run("-c", code, cwd=FIXTURES / "basic")
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report == {"status": 0, "heavy": []}
    assert result.stdout.count("\n") == len(load_project(FIXTURES / "basic" / "mkdocs.yml").steps)


def _many_steps(folder: Path, count: int) -> Path:
    (folder / "docs").mkdir(parents=True)
    body = "".join(f"``` {{ .bash #step-{n} }}\necho {n}\n```\n\n" for n in range(count))
    (folder / "docs" / "index.md").write_text("# Many\n\n" + body)
    (folder / "mkdocs.yml").write_text("site_name: Many\nnav:\n  - index.md\n")
    return folder


def test_list_into_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    """`meshdemo list | head -1`: far more output than a pipe holds, the reader gone."""
    project = _many_steps(tmp_path / "many", 3000)
    lister = subprocess.Popen(
        [sys.executable, "-m", "meshdemo", "list"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert lister.stdout is not None and lister.stderr is not None
    first = lister.stdout.readline()
    lister.stdout.close()  # what head does after its line
    status = lister.wait(timeout=120)
    errors = lister.stderr.read().decode()
    assert first.startswith(b"step-0 ")
    assert status == 0, errors
    assert "BrokenPipeError" not in errors and "Traceback" not in errors


def test_list_of_a_project_without_steps_says_so(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Nothing to run\n\n```yaml\na: 1\n```\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: Empty\nnav:\n  - index.md\n")
    result = run("-m", "meshdemo", "list", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == ""
    assert "no steps in the 1 page of mkdocs.yml" in result.stderr


def test_a_second_list_reads_the_project_cache_not_mkdocs(tmp_path: Path) -> None:
    """Nothing changed since the first: the second imports no MkDocs and prints the same."""
    import shutil

    shutil.copytree(FIXTURES / "basic", tmp_path / "basic")
    code = (
        "import json, sys\n"
        "from meshdemo import cli\n"
        "status = cli.main(['list'])\n"
        "loaded = sorted(m for m in ('mkdocs', 'markdown_it', 'jinja2') if m in sys.modules)\n"
        "print(json.dumps({'status': status, 'loaded': loaded}), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MESHDEMO_NO_CACHE"}
    answers = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path / "basic",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**env, "NO_MKDOCS_2_WARNING": "1"},
        )
        answers.append((done.stdout, json.loads(done.stderr.strip().splitlines()[-1])))
    (first, first_report), (second, second_report) = answers
    assert first_report == {"status": 0, "loaded": ["jinja2", "markdown_it", "mkdocs"]}
    assert second_report == {"status": 0, "loaded": []}
    assert second == first and first.count("\n") == 11


def test_reading_steps_leaves_the_pages_markdown_extensions_to_the_build(tmp_path: Path) -> None:
    # MkDocs validates markdown_extensions by making a Markdown instance with all of them
    # (Material's emoji index alone costs tens of milliseconds); steps are read without them
    project = _many_steps(tmp_path / "exts", 2)
    config = project / "mkdocs.yml"
    config.write_text(config.read_text() + "markdown_extensions:\n  - no_such_extension_here\n")
    result = run("-m", "meshdemo", "list", cwd=project)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["step-0", "step-1"]
    build = run("-m", "mkdocs", "build", "-q", "-d", str(tmp_path / "site"), cwd=project)
    assert build.returncode != 0 and "no_such_extension_here" in build.stderr

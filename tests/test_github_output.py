"""Under GitHub Actions, the pytest plugin annotates a failing step at its page and line and
writes the table of steps into the job summary.

A real pytest in a subprocess, on a copy of a fixture guide whose steps run in real bash, with
GITHUB_ACTIONS, GITHUB_STEP_SUMMARY and GITHUB_WORKSPACE set as a runner sets them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshdemo.model import Kind, Step, StepOptions
from meshdemo.report import github_annotation, github_summary
from meshdemo.run.runner import StepResult
from meshdemo.status import StepStatus

FIXTURE = Path(__file__).parent / "fixtures" / "runnable"
EARLIER = "an earlier step's summary\n"


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    target = tmp_path / "guide"
    shutil.copytree(FIXTURE, target)
    return target


def run_on_github(
    guide: Path, *args: str, github: bool = True, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    summary = guide.parent / "summary.md"
    summary.write_text(EARLIER)
    runner_env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(guide)}
    if github:
        runner_env["GITHUB_ACTIONS"] = "true"
    base = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--meshdemo",
            "--meshdemo-no-capture",
            *args,
        ],
        cwd=guide,
        env={**base, "COLUMNS": "200", **runner_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, summary


def annotation_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("::")]


def test_a_failing_step_is_annotated_at_its_fence(guide: Path) -> None:
    done, _ = run_on_github(
        guide, "--markdown-docs", "--markdown-docs-syntax=superfences", "docs", FAIL_AT_MAYBE="1"
    )
    assert done.returncode == 1, done.stdout
    [annotation] = annotation_lines(done.stdout)
    head, _, message = annotation.partition("::")[2].partition("::")
    assert head == (
        "error file=docs/use.md,line=13,title=step maybe-fail failed%3A exit status 1%2C expected 0"
    )
    # the message: the command and the output's tail, its lines escaped as %0A
    lines = message.split("%0A")
    assert lines[:2] == ["command:", '    test -z "$FAIL_AT_MAYBE"']
    assert "\n" not in message


def test_the_job_summary_has_every_step_with_status_and_duration(guide: Path) -> None:
    done, summary = run_on_github(
        guide, "--markdown-docs", "--markdown-docs-syntax=superfences", "docs", FAIL_AT_MAYBE="1"
    )
    assert done.returncode == 1, done.stdout
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(EARLIER), "the summary is appended to, never replaced"
    ours = text[len(EARLIER) :].splitlines()
    assert ours[0] == "### meshdemo: the steps of mkdocs.yml: failed at `maybe-fail` (use.md:13)"
    rows = [line for line in ours if line.startswith("| ") and "`" in line]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [(c[1], c[2]) for c in cells] == [
        ("`create-cluster`", "setup.md:5"),
        ("`greet`", "setup.md:10"),
        ("`count`", "use.md:3"),
        ("`python-sees-kubeconfig`", "use.md:7"),  # the python block, run by pytest-markdown-docs
        ("`maybe-fail`", "use.md:13"),
        ("`after`", "use.md:17"),
        ("`delete-cluster`", "cleanup.md:3"),
    ]
    statuses = {c[1].strip("`"): c[3] for c in cells}
    assert statuses["greet"] == "passed" and statuses["python-sees-kubeconfig"] == "passed"
    assert statuses["maybe-fail"] == "failed — exit status 1, expected 0"
    assert statuses["after"].startswith("not-run")
    assert statuses["delete-cluster"].startswith("skipped")
    # a duration for what ran, none for what did not
    durations = {c[1].strip("`"): c[4] for c in cells}
    assert durations["greet"].endswith(("ms", " s")) and durations["after"] == ""
    assert "4 passed" in "\n".join(ours) and "1 failed" in "\n".join(ours)
    # where it broke, with the output's tail
    assert "<details open><summary>use.md:13: step maybe-fail failed</summary>" in ours
    assert '    test -z "$FAIL_AT_MAYBE"' in ours


def test_a_failing_python_block_is_annotated_too(guide: Path) -> None:
    done, summary = run_on_github(
        guide, "--markdown-docs", "--markdown-docs-syntax=superfences", "docs", FAIL_IN_PYTHON="1"
    )
    assert done.returncode == 1, done.stdout
    [annotation] = annotation_lines(done.stdout)
    assert annotation.startswith(
        "::error file=docs/use.md,line=7,"
        "title=step python-sees-kubeconfig failed%3A python block failed"
    )
    assert "asked to fail" in annotation
    assert "failed at `python-sees-kubeconfig` (use.md:7)" in summary.read_text(encoding="utf-8")


def test_a_passing_run_annotates_nothing(guide: Path) -> None:
    done, summary = run_on_github(guide)
    assert done.returncode == 0, done.stdout
    assert annotation_lines(done.stdout) == []
    assert "### meshdemo: the steps of mkdocs.yml: passed" in summary.read_text(encoding="utf-8")


def test_outside_github_actions_nothing_is_written(guide: Path) -> None:
    done, summary = run_on_github(guide, github=False, FAIL_AT_MAYBE="1")
    assert done.returncode == 1
    assert annotation_lines(done.stdout) == []
    assert summary.read_text() == EARLIER


def _result(output: str, note: str | None = None, page: str = "a,b.md") -> StepResult:
    step = Step(
        id="s",
        kind=Kind.BASH,
        page=page,
        line=4,
        command="echo 100%\nfalse\n",
        options=StepOptions(),
        source=Path("/work/docs") / page,
    )
    return StepResult(step, StepStatus.FAILED, exit_status=1, output=output, note=note)


def test_annotations_escape_what_github_would_misread() -> None:
    annotation = github_annotation(_result("50% done\r\nover: yes", note="a: b, c"), Path("/work"))
    assert annotation.startswith(
        "::error file=docs/a%2Cb.md,line=4,title=step s failed%3A a%3A b%2C c::"
    )
    message = annotation.split("::", 2)[2]
    assert "echo 100%25%0A" in message and "50%25 done%0D%0A" not in message
    assert "%0A    50%25 done" in message and "over: yes" in message
    assert "\n" not in annotation and "\r" not in annotation


def test_a_path_outside_the_workspace_stays_as_it_is() -> None:
    annotation = github_annotation(_result("x"), Path("/elsewhere"))
    assert annotation.startswith("::error file=/work/docs/a%2Cb.md,line=4,")


def test_summary_cells_cannot_break_the_table() -> None:
    summary = github_summary([_result("x", note="a | b\nc")], "t")
    [row] = [line for line in summary.splitlines() if line.startswith("| ❌")]
    assert "failed — a \\| b c" in row and row.count(" | ") == 5


def test_the_summary_says_why_steps_were_not_run_once_and_stays_bounded() -> None:
    def result(n: int, status: StepStatus, note: str | None = None) -> StepResult:
        step = Step(
            id=f"s{n}",
            kind=Kind.BASH,
            page="p.md",
            line=n,
            command="true\n",
            options=StepOptions(),
            source=Path("/work/docs/p.md"),
        )
        return StepResult(step, status, exit_status=0, duration=n / 1000, note=note)

    failed = result(3, StepStatus.FAILED)
    later = [result(n, StepStatus.NOT_RUN, "not run: s3 failed before it") for n in (4, 5, 6)]
    summary = github_summary([result(1, StepStatus.PASSED), failed, *later], "t")
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "`s" in line]
    assert [row.split("|")[4].strip() for row in rows[2:]] == [
        "not-run — s3 failed before it",
        "not-run",
        "not-run",
    ]

    long_run = [result(n, StepStatus.PASSED) for n in range(1, 301)]
    long_run[150] = result(151, StepStatus.FAILED)
    summary = github_summary(long_run, "t")
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "`s" in line]
    assert len(rows) < 20 and any("`s151`" in row for row in rows)
    assert "300 steps: 299 passed, 1 failed; shown: the" in summary

"""Judging a step is a pure function: what the session saw in, a status and a note out.
Table-driven, no bash: each case's id names the rule it proves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from meshdemo.model import ExpectedOutput, Kind, Step, StepOptions
from meshdemo.run.verdict import Seen, judge
from meshdemo.status import Outcome, StepStatus


def step(expected: ExpectedOutput | None = None, **options: Any) -> Step:
    return Step(
        id="s",
        kind=Kind.BASH,
        page="guide.md",
        line=3,
        command="true",
        options=StepOptions(**options),
        expected=expected,
    )


@dataclass(frozen=True)
class Case:
    step: Step
    seen: Seen
    output: str
    status: StepStatus
    note: str | None  # the note, or a part of it ("…" prefix)


TABLE = "NAME READY STATUS RESTARTS AGE\nbooks-7f6c9d8b5c-q2x9z 1/1 Running 0 12s\n"
CASES = {
    "exit-0-passes": Case(step(), Seen(Outcome.EXITED, 0), "", StepStatus.PASSED, None),
    "exit-1-fails": Case(
        step(), Seen(Outcome.EXITED, 1), "", StepStatus.FAILED, "exit status 1, expected 0"
    ),
    "expected-exit-3": Case(step(exit=3), Seen(Outcome.EXITED, 3), "", StepStatus.PASSED, None),
    "exit-any": Case(step(exit=None), Seen(Outcome.EXITED, 9), "", StepStatus.PASSED, None),
    "timed-out": Case(
        step(timeout=2),
        Seen(Outcome.TIMED_OUT, 124),
        "",
        StepStatus.TIMED_OUT,
        "timed out after 2 s; its processes were killed",
    ),
    "timed-out-after-exec": Case(
        step(timeout=2),
        Seen(Outcome.TIMED_OUT, 124, shell_ended=True),
        "",
        StepStatus.TIMED_OUT,
        "…with the shell it had replaced",
    ),
    "stream-stopped-passes": Case(
        step(stream=1.5),
        Seen(Outcome.STOPPED, 124),
        "",
        StepStatus.PASSED,
        "stopped after 1.5 s, as asked",
    ),
    "stream-ended-by-itself-judged-by-status": Case(
        step(stream=5), Seen(Outcome.EXITED, 1), "", StepStatus.FAILED, "exit status 1…"
    ),
    "exit-saved-its-state": Case(
        step(),
        Seen(Outcome.SHELL_EXITED, 3, shell_ended=True, state_saved=True),
        "",
        StepStatus.SHELL_EXITED,
        "…continues with the exported variables, functions and directory it had",
    ),
    "exec-or-kill-9-saved-nothing": Case(
        step(),
        Seen(Outcome.SHELL_EXITED, 137, shell_ended=True, state_saved=False),
        "",
        StepStatus.SHELL_EXITED,
        "…continues without what this one had set",
    ),
    "expected-output-matches": Case(
        step(ExpectedOutput("books-5d8f9c7b6d-x2x9q 1/1 Running 0 5m", line=9)),
        Seen(Outcome.EXITED, 0),
        TABLE,
        StepStatus.PASSED,
        None,
    ),
    "expected-output-differs": Case(
        step(ExpectedOutput("books 0/1 CrashLoopBackOff", line=9)),
        Seen(Outcome.EXITED, 0),
        TABLE,
        StepStatus.FAILED,
        "output does not match the expected output at guide.md:9…",
    ),
    "wrong-exit-wins-over-output": Case(
        step(ExpectedOutput("books", line=9)),
        Seen(Outcome.EXITED, 2),
        TABLE,
        StepStatus.FAILED,
        "exit status 2, expected 0",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_judge(case: Case) -> None:
    status, note = judge(case.step, case.seen, case.output)
    assert status == case.status
    if case.note is None or note is None:
        assert note == case.note
    elif case.note.startswith("…"):
        assert case.note.strip("…") in note
    elif case.note.endswith("…"):
        assert note.startswith(case.note.strip("…"))
    else:
        assert note == case.note

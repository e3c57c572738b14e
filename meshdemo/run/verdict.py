"""Judging a step: from what the session saw to a status and a note. A pure function.

Decisions (the reference page describes the same rules):

* a step passes when its exit status is the expected one (``exit``, default 0; ``any``) *and*,
  when the page shows an expected output after it, that output matches
  (:mod:`meshdemo.run.normalize`);
* a step stopped at its timeout has timed out; one stopped after its ``stream`` time passed;
* a step that ended the shell (``exit``, ``exec``, ``kill $$``) failed, and the note says
  what the next step's new shell still has.
"""

from __future__ import annotations

from typing import NamedTuple

from meshdemo.model import Step
from meshdemo.status import Outcome, StepStatus


class Seen(NamedTuple):
    """What the session saw of one attempt (the fields of a StepRun that judging needs)."""

    outcome: str
    status: int | None
    shell_ended: bool = False
    state_saved: bool = False


def judge(step: Step, seen: Seen, output: str) -> tuple[StepStatus, str | None]:
    """The status and note of one attempt of ``step``; ``output`` is already masked."""
    options = step.options
    if seen.outcome == Outcome.TIMED_OUT:
        note = f"timed out after {options.timeout:g} s; its processes were killed"
        if seen.shell_ended:
            note += " with the shell it had replaced, " + _new_shell(state_saved=False)
        return StepStatus.TIMED_OUT, note
    if seen.outcome == Outcome.SHELL_EXITED:
        return (
            StepStatus.SHELL_EXITED,
            f"the step ended the shell (status {seen.status}); "
            + _new_shell(state_saved=seen.state_saved),
        )
    if seen.outcome == Outcome.STOPPED:
        note = f"stopped after {options.stream:g} s, as asked"
        if seen.shell_ended:
            note += " (with the shell it had replaced: " + _new_shell(state_saved=False) + ")"
        return StepStatus.PASSED, note
    if options.exit is not None and seen.status != options.exit:
        return StepStatus.FAILED, f"exit status {seen.status}, expected {options.exit}"
    if step.expected is not None:
        from meshdemo.run.normalize import compare  # only pages with expected outputs

        comparison = compare(step.expected.text, output, step.expected.match, options.tolerance)
        if not comparison.matched:
            return StepStatus.FAILED, (
                f"output does not match the expected output at {step.page}:"
                f"{step.expected.line} ({step.expected.match}): {comparison.detail}"
            )
    return StepStatus.PASSED, None


def _new_shell(*, state_saved: bool) -> str:
    if state_saved:
        return "a new shell continues with the exported variables, functions and directory it had"
    return (
        "a new shell continues without what this one had set since its state was last saved "
        "(exec and kill -9 end a shell before it can save its exported variables, functions "
        "and directory)"
    )

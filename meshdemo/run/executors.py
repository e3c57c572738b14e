"""One executor per kind of step: it runs one attempt of a step and says how it went.

* :class:`BashStep`: a ``bash`` fence, run in the session (its output read as it comes);
* :class:`BackgroundStep`: a ``bash`` fence with ``background="true"``, left running as a job
  of its own, stopped (and its log recorded) at the end of the run;
* :class:`PythonStep`: a ``python`` fence, run by the run's Python from inside the session, so it
  sees the run's environment (``KUBECONFIG``…);
* :class:`ScreenshotStep`: a ``screenshot`` fence, shot in headless Chromium (Playwright is
  imported only here, only when a screenshot runs).

An executor knows nothing of retries, skips, captures or the run as a whole: the runner
orchestrates. Judging what the session saw is :func:`meshdemo.run.verdict.judge`, a pure function.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from meshdemo.model import Kind, Step
from meshdemo.run.masking import mask
from meshdemo.run.output import shown_output
from meshdemo.run.results import StepResult
from meshdemo.run.session import BashSession, StepRun
from meshdemo.run.verdict import Seen, judge
from meshdemo.status import Outcome, StepStatus


@dataclass
class StepContext:
    """What an executor may use: the session, where files go, and the runner's hooks."""

    session: BashSession
    workdir: Path  # the session's scratch folder
    image_root: Path  # screenshots go under it, at their page's path
    tick: Callable[[], None] | None = None  # a few times a second while a step runs
    background_check: float = 0.3  # seconds a background step must live to count as started
    # called with (process group, result) when a background step is left running
    started_background: Callable[[int, StepResult], None] | None = None
    # the runner's work to do while the step runs (see BashSession.run)
    meanwhile: Callable[[], None] | None = None


class Executor(Protocol):
    # whether ``run`` runs the step in the session, calling ``context.meanwhile`` while it runs
    in_session: bool

    def run(self, step: Step, context: StepContext) -> StepResult: ...


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def relabel(output: str, path: str | None, step: Step) -> str:
    """Errors name the page and its line, not the scratch file the step ran from.

    bash says ``FILE: line N:``, Python ``File "FILE", line N``; the step's first line is the
    line after its opening fence, so line N of the file is line ``step.line + N`` of the page.
    """
    if path is None or path not in output:
        return output
    pattern = re.compile(re.escape(path) + r'(?P<sep>: line |", line )(?P<n>\d+)')
    return pattern.sub(
        lambda m: f"{step.page}{m.group('sep')}{step.line + int(m.group('n'))}", output
    )


def result_of(step: Step, run: StepRun, source: str | None) -> StepResult:
    """A StepResult from what the session saw: output relabelled, masked, cut; then judged.

    A step judged without its output (no expected output on the page) that passed gets its
    output made when it is first read (:meth:`StepResult.output_later`): the runner has it
    masked while the next step runs.
    """
    seen = Seen(run.outcome, run.status, run.shell_ended, run.state_saved)

    def shown() -> str:
        return shown_output(relabel(run.output, source, step), run.dropped)

    later = step.expected is None
    output = "" if later else shown()
    status, note = judge(step, seen, output)
    result = StepResult(
        step,
        status,
        exit_status=run.status,
        output=output,
        started_at=run.started_at,
        duration=run.duration,
        note=note,
    )
    if later:
        result.output_later(shown)
    return result


class BashStep:
    in_session = True

    def run(self, step: Step, context: StepContext) -> StepResult:
        options = step.options
        run = context.session.run(
            step.command,
            name=step.id,
            timeout=options.timeout,
            stream=options.stream,
            tick=context.tick,
            meanwhile=context.meanwhile,
        )
        return result_of(step, run, run.step_file)


class BackgroundStep:
    in_session = False

    def run(self, step: Step, context: StepContext) -> StepResult:
        run = context.session.run_background(
            step.command, name=step.id, check=context.background_check
        )
        if run.outcome != Outcome.STARTED:
            return result_of(step, run, run.step_file)  # it ended (or broke) at once
        result = StepResult(
            step,
            StepStatus.PASSED,
            started_at=run.started_at,
            duration=run.duration,
            note="running in the background; stopped at the end of the run",
        )
        assert run.pgid is not None
        if context.started_background is not None:
            context.started_background(run.pgid, result)
        return result


class PythonStep:
    in_session = True

    def run(self, step: Step, context: StepContext) -> StepResult:
        folder = context.workdir / "python"
        folder.mkdir(parents=True, exist_ok=True)
        script = folder / f"{step.id}.py"
        script.write_text(step.command if step.command.endswith("\n") else step.command + "\n")
        options = step.options
        run = context.session.run(
            f'"$MESHDEMO_PYTHON" {shlex.quote(str(script))}\n',
            name=step.id,
            timeout=options.timeout,
            stream=options.stream,
            tick=context.tick,
            meanwhile=context.meanwhile,
        )
        return result_of(step, run, str(script))


class ScreenshotStep:
    in_session = False

    def run(self, step: Step, context: StepContext) -> StepResult:
        options = step.options
        begin = time.monotonic()
        result = StepResult(step, StepStatus.FAILED, started_at=now(), attempts=1)
        image_rel = Path(step.page).parent / (options.image or f"{step.id}.png")
        image = context.image_root / image_rel
        try:
            from meshdemo.run.screenshot import take_screenshot  # playwright: only when needed
        except ImportError as error:
            result.note = f"screenshots are not available: {error}"
            return result
        try:
            shot = take_screenshot(
                url=options.url or "",
                image=image,
                wait_for=options.wait_for,
                width=options.width,
                height=options.height,
                timeout=options.timeout,
                mask=options.mask,
            )
        except Exception as error:  # a failed shot fails the step, with the reason
            result.note = f"screenshot failed: {mask(str(error))}"
            result.output = mask(str(error))
        else:
            result.status = StepStatus.PASSED
            result.output = f"{options.url} -> {image_rel.as_posix()}"
            result.artifact = image_rel.as_posix()
            result.masks = [list(box) for box in shot.masks] if options.mask else None
        result.duration = time.monotonic() - begin
        return result


_BASH, _BACKGROUND, _PYTHON, _SCREENSHOT = (
    BashStep(),
    BackgroundStep(),
    PythonStep(),
    ScreenshotStep(),
)


def executor_for(step: Step) -> Executor:
    """The executor of ``step``'s kind."""
    if step.kind == Kind.SCREENSHOT:
        return _SCREENSHOT
    if step.kind == Kind.PYTHON:
        return _PYTHON
    return _BACKGROUND if step.options.background else _BASH

"""Run a guide's steps in order in one bash session, apply their options, record captures.

Decisions (the reference page describes the same rules):

* The run stops at the first step that fails; the steps after it are *not run* (their old
  captures stay as they were), except teardown steps when ``cleanup="always"``: the run jumps to
  them so the cluster is destroyed anyway.
* ``cleanup``: ``always`` runs teardown steps even after a failure; ``on-success`` (default)
  runs them only when every step before passed (a failed run keeps the cluster to look at);
  ``never`` skips them.
* A step passes when its exit status is the expected one (``exit``, default 0; ``any``) *and*,
  when the page shows an expected output after it, that output matches (see
  :mod:`meshdemo.run.normalize`). ``retry`` repeats the step until it passes.
* Skipped steps (``skip``, ``skip-if``, ``provision`` on an existing cluster, teardown per
  policy) never ran: they are listed in ``run.json`` and their capture files are left as they
  were, so a page keeps the last real output it had.
* Everything a step printed is masked of secrets (:mod:`meshdemo.run.masking`) before it is
  stored, returned, or shown.
* ``capture=False`` writes nothing under ``docs/``: no captures, no run.json, and screenshots go
  to the run directory instead of the page's image path.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from meshdemo.captures import Capture, CaptureStore, RunRecord, write_atomically
from meshdemo.cluster.kubeconfig import private_kubeconfig
from meshdemo.history import keep_run
from meshdemo.model import Kind, Project, Step
from meshdemo.run.masking import mask
from meshdemo.run.normalize import compare
from meshdemo.run.options import RunOptions
from meshdemo.run.session import BashSession, StepRun, scratch_dir
from meshdemo.status import CleanupPolicy, EventKind, Outcome, RunStatus, StepStatus

TOOL_VERSION_TIMEOUT = 10.0
STATE_FILE = "state.sh"  # the shell state a run ended with (exported variables, functions, cwd)
# what the shell session of a failed or interrupted run left (step files, outputs, logs, bash's
# own stderr), kept until the next run starts: the session itself lives in memory and goes
FAILED_RUN_DIR = "failed-run"
# the run's own environment: never taken from a restored state
PINNED_ENV = (
    "KUBECONFIG",
    "MESHDEMO_RUN_DIR",
    "MESHDEMO_PYTHON",
    "MESHDEMO_RUN_ID",
    "MESHDEMO_EXISTING_CLUSTER",
)
BACKGROUND_CHECK = 0.3  # seconds a background step must stay alive to count as started


@dataclass
class StepResult:
    step: Step
    status: StepStatus
    exit_status: int | None = None
    output: str = ""  # masked
    started_at: str | None = None
    duration: float = 0.0
    attempts: int = 0
    note: str | None = None
    artifact: str | None = None  # screenshots: the image, relative to docs_dir
    masks: list[list[float]] | None = None  # screenshots: the boxes of the mask's elements

    @property
    def ok(self) -> bool:
        return StepStatus(self.status).ok

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.output.rstrip("\n").splitlines()[-lines:])


@dataclass
class RunResult:
    run_id: str
    status: RunStatus
    results: list[StepResult] = field(default_factory=list)
    record: RunRecord | None = None

    @property
    def failed(self) -> StepResult | None:
        return next((r for r in self.results if StepStatus(r.status).failed), None)

    @property
    def passed(self) -> bool:
        return self.status is RunStatus.PASSED


@dataclass
class Event:
    kind: EventKind
    step: Step | None = None
    result: StepResult | None = None
    run: RunResult | None = None


def _relabel(output: str, path: Path, step: Step) -> str:
    """Errors name the page and its line, not the scratch file the step ran from.

    bash says ``FILE: line N:``, Python ``File "FILE", line N``; the step's first line is the
    line after its opening fence, so line N of the file is line ``step.line + N`` of the page.
    """
    if str(path) not in output:
        return output
    pattern = re.compile(re.escape(str(path)) + r'(?P<sep>: line |", line )(?P<n>\d+)')
    return pattern.sub(
        lambda m: f"{step.page}{m.group('sep')}{step.line + int(m.group('n'))}", output
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Let cleanup finish even when Ctrl-C is pressed again (or a stop request comes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Runner:
    """Runs steps of ``project`` in one session. Use as a context manager, or ``run(steps)``."""

    def __init__(
        self,
        project: Project,
        options: RunOptions | None = None,
        *,
        on_event: Callable[[Event], None] | None = None,
        background_check: float = BACKGROUND_CHECK,
    ):
        self.project = project
        self.options = options = options or RunOptions()
        self.cleanup = options.cleanup
        self.capture = options.capture
        self.resume = options.resume
        self.existing_cluster = options.existing_cluster
        self.on_event = on_event
        self.background_check = background_check
        self.session_restored = False
        self.run_dir = project.run_dir
        # bad --kubeconfig/--context fail here, before anything runs
        self.kubeconfig = private_kubeconfig(self.run_dir, options.kubeconfig, options.context)
        self.store = CaptureStore(project.captures_dir)
        self.run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
        self.started_at = _now()
        self.results: list[StepResult] = []
        self.failure: StepResult | None = None
        self.session: BashSession | None = None
        self._backgrounds: dict[int, tuple[StepResult, Capture | None]] = {}
        self.captures: dict[str, Capture] = {}  # what this run recorded, for the run history
        self.workdir = self.run_dir / "session"
        self.state_file = self.run_dir / STATE_FILE

    # -- environment and life cycle -------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["MESHDEMO_RUN_DIR"] = str(self.run_dir)
        env["MESHDEMO_PYTHON"] = sys.executable
        env["MESHDEMO_RUN_ID"] = self.run_id
        if self.existing_cluster:
            env["MESHDEMO_EXISTING_CLUSTER"] = "1"
        else:
            env.pop("MESHDEMO_EXISTING_CLUSTER", None)
        return env

    def open(self) -> Runner:
        if self.session is None:
            # the step files, outputs and logs of the previous run go: they are not history
            shutil.rmtree(self.run_dir / "session", ignore_errors=True)
            shutil.rmtree(self.run_dir / FAILED_RUN_DIR, ignore_errors=True)
            # in memory when possible: a step's files live for one step (see scratch_dir)
            self.workdir = scratch_dir(f"meshdemo-{self.run_id}-") or self.run_dir / "session"
            state = self.state_file if self.resume and self.state_file.is_file() else None
            self.session_restored = state is not None
            self.session = BashSession(
                self.workdir,
                cwd=self.project.root,
                env=self.environment(),
                state=state,
                pinned=PINNED_ENV,
            ).start()
            self._emit(Event(EventKind.RUN_START))
        return self

    def close(self, *, keep_session: bool = False) -> None:
        """Stop background steps (recording their logs) and every process of the run.

        ``keep_session``: copy what the session left into ``.meshdemo/failed-run/`` first.
        """
        session, self.session = self.session, None
        if session is None:
            return
        with _no_interrupt():
            try:
                for pgid, log in session.stop_backgrounds().items():
                    result, capture = self._backgrounds.pop(pgid)
                    result.output = mask(log)
                    if capture is not None:
                        capture.output = result.output
                        self._write(capture)
            finally:
                session.close()
                # the shell's last state, for `meshdemo run --from` (resume=True) next time
                if session.saved_state.is_file():
                    write_atomically(self.state_file, session.saved_state.read_bytes())
                    self.state_file.chmod(0o600)
                if keep_session:
                    self._keep_session(skip=session.saved_state)
                if self.workdir.parent != self.run_dir:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Runner:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close(keep_session=exc[0] is not None or self.failure is not None)

    def _keep_session(self, *, skip: Path) -> None:
        """Masked copies of the session's files, without its saved state (the environment)."""
        target = self.run_dir / FAILED_RUN_DIR
        shutil.rmtree(target, ignore_errors=True)
        for source in sorted(self.workdir.rglob("*")):
            if not source.is_file() or source == skip:
                continue
            copy = target / source.relative_to(self.workdir)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(mask(source.read_text(encoding="utf-8", errors="replace")))

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    @property
    def image_root(self) -> Path:
        """Where screenshots go: their page's folder, or the run directory with --no-capture."""
        return self.project.docs_dir if self.capture else self.run_dir / "screenshots"

    def _write(self, capture: Capture) -> None:
        if self.capture:
            self.store.write(capture)

    # -- policy ---------------------------------------------------------------------------------

    def skip_reason(self, step: Step) -> tuple[str, str] | None:
        """(status, note) when ``step`` is not to run, decided without running anything."""
        options = step.options
        if options.skip:
            return StepStatus.SKIPPED, f"skipped: {options.skip}"
        if options.provision and self.existing_cluster:
            return (
                StepStatus.SKIPPED,
                "provisioning step skipped: the run targets an existing cluster",
            )
        if options.teardown:
            if self.cleanup is CleanupPolicy.NEVER:
                return StepStatus.SKIPPED, "teardown skipped (--cleanup never)"
            if self.failure is not None and self.cleanup is CleanupPolicy.ON_SUCCESS:
                return (
                    StepStatus.SKIPPED,
                    f"teardown skipped: {self.failure.step.id} failed and --cleanup on-success "
                    "keeps the cluster to look at",
                )
            return None
        if self.failure is not None:
            return StepStatus.NOT_RUN, f"not run: {self.failure.step.id} failed before it"
        return None

    # -- running --------------------------------------------------------------------------------

    def execute(self, step: Step) -> StepResult:
        """Run (or skip) one step, record its capture, and remember a failure."""
        self.open()
        decided = self.skip_reason(step)
        if decided is not None:
            result = StepResult(step, decided[0], note=decided[1])
        else:
            self._emit(Event(EventKind.STEP_START, step=step))
            result = self._run_step(step)
        self.results.append(result)
        if not result.ok and result.status != StepStatus.NOT_RUN and self.failure is None:
            self.failure = result
        self._emit(Event(EventKind.STEP_END, step=step, result=result))
        return result

    def _skip_if(self, step: Step) -> StepResult | None:
        test = step.options.skip_if
        if not test:
            return None
        assert self.session is not None
        probe = self.session.run(test, name=f"{step.id}.skip-if", timeout=step.options.timeout)
        if probe.outcome == Outcome.SHELL_EXITED:
            self.session.restart()
        if probe.outcome == Outcome.EXITED and probe.status == 0:
            return StepResult(step, StepStatus.SKIPPED, note=f"skipped: skip-if `{test}` held")
        return None

    def _run_step(self, step: Step) -> StepResult:
        assert self.session is not None
        skipped = self._skip_if(step)
        if skipped is not None:
            return skipped
        shot = step.kind == Kind.SCREENSHOT
        result = self._screenshot(step) if shot else self._attempts(step)
        if result.status != StepStatus.NOT_RUN and not (step.options.background and result.ok):
            self._record(result)
        return result

    def _record(self, result: StepResult) -> Capture:
        step = result.step
        capture = Capture(
            id=step.id,
            kind=str(step.kind),
            page=step.page,
            line=step.line,
            command=step.command,
            command_hash=step.command_hash,
            status=result.status,
            exit_status=result.exit_status,
            started_at=result.started_at or _now(),
            duration=round(result.duration, 3),
            output=result.output,
            attempts=result.attempts,
            note=result.note,
            run_id=self.run_id,
            artifact=result.artifact,
            masks=result.masks,
        )
        self.captures[step.id] = capture
        self._write(capture)
        return capture

    def _shell_command(self, step: Step) -> str:
        if step.kind == Kind.PYTHON:
            folder = self.workdir / "python"
            folder.mkdir(parents=True, exist_ok=True)
            script = folder / f"{step.id}.py"
            script.write_text(step.command if step.command.endswith("\n") else step.command + "\n")
            return f'"$MESHDEMO_PYTHON" {shlex.quote(str(script))}\n'
        return step.command

    def _attempts(self, step: Step) -> StepResult:
        options = step.options
        command = self._shell_command(step)
        first_start: str | None = None
        total = 0.0
        result = StepResult(step, StepStatus.FAILED)
        for attempt in range(1, max(1, options.retry) + 1):
            if attempt > 1:
                time.sleep(options.retry_delay)
            result = self._attempt(step, command)
            first_start = first_start or result.started_at
            total += result.duration
            result.attempts = attempt
            if result.ok or result.status == StepStatus.SHELL_EXITED:
                break
        result.started_at = first_start
        result.duration = total
        if result.attempts > 1 and result.status != StepStatus.PASSED:
            result.note = f"{result.note or 'failed'} (after {result.attempts} attempts)"
        return result

    def _attempt(self, step: Step, command: str) -> StepResult:
        assert self.session is not None
        options = step.options
        tick = (lambda: self._emit(Event(EventKind.TICK, step=step))) if self.on_event else None
        if options.background:
            run = self.session.run_background(command, name=step.id, check=self.background_check)
            if run.outcome == Outcome.STARTED:
                result = StepResult(
                    step,
                    StepStatus.PASSED,
                    started_at=run.started_at,
                    duration=run.duration,
                    note="running in the background; stopped at the end of the run",
                )
                capture = self._record(result)
                assert run.pgid is not None
                self._backgrounds[run.pgid] = (result, capture)
                return result
        else:
            run = self.session.run(
                command, name=step.id, timeout=options.timeout, stream=options.stream, tick=tick
            )
        return self._judge(step, run)

    def _judge(self, step: Step, run: StepRun) -> StepResult:
        options = step.options
        output = run.output
        if step.kind == Kind.PYTHON:
            output = _relabel(output, self.workdir / "python" / f"{step.id}.py", step)
        elif run.step_file is not None:
            output = _relabel(output, run.step_file, step)
        result = StepResult(
            step,
            StepStatus.FAILED,
            exit_status=run.status,
            output=mask(output),
            started_at=run.started_at,
            duration=run.duration,
        )
        if run.outcome == Outcome.TIMED_OUT:
            result.status = StepStatus.TIMED_OUT
            result.note = f"timed out after {options.timeout:g} s; its processes were killed"
            return result
        if run.outcome == Outcome.SHELL_EXITED:
            assert self.session is not None
            result.status = StepStatus.SHELL_EXITED
            result.note = (
                f"the step ended the shell (status {run.status}); a new shell continues "
                "with the exported variables, functions and directory it had"
            )
            self.session.restart()
            return result
        if run.outcome == Outcome.STOPPED:
            result.status = StepStatus.PASSED
            result.note = f"stopped after {options.stream:g} s, as asked"
            return result
        expected_exit = options.exit
        if expected_exit is not None and run.status != expected_exit:
            result.note = f"exit status {run.status}, expected {expected_exit}"
            return result
        if step.expected is not None:
            comparison = compare(
                step.expected.text, result.output, step.expected.match, options.tolerance
            )
            if not comparison.matched:
                result.note = (
                    f"output does not match the expected output at {step.page}:"
                    f"{step.expected.line} ({step.expected.match}): {comparison.detail}"
                )
                return result
        result.status = StepStatus.PASSED
        return result

    def _screenshot(self, step: Step) -> StepResult:
        options = step.options
        started_at, begin = _now(), time.monotonic()
        result = StepResult(step, StepStatus.FAILED, started_at=started_at, attempts=1)
        image_rel = Path(step.page).parent / (options.image or f"{step.id}.png")
        image = self.image_root / image_rel
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

    # -- the whole run --------------------------------------------------------------------------

    def tool_versions(self) -> dict[str, str]:
        config = (self.project.extra or {}).get("meshdemo") or {}
        tools = config.get("tool_versions") or {}
        versions: dict[str, str] = {}
        if not isinstance(tools, dict) or not tools:
            return versions
        self.open()
        assert self.session is not None
        for name, command in tools.items():
            run = self.session.run(
                str(command), name=f"version-{name}", timeout=TOOL_VERSION_TIMEOUT
            )
            text = mask(run.output).strip()
            if run.outcome == Outcome.SHELL_EXITED:
                self.session.restart()
            if run.outcome != Outcome.EXITED or run.status != 0 or not text:
                versions[str(name)] = "unavailable"
            else:
                versions[str(name)] = text[:500]
        return versions

    def run(self, steps: Sequence[Step]) -> RunResult:
        """Run ``steps`` in order; always ends every process the run started."""
        interrupted = False
        try:
            self.open()
            for step in steps:
                self.execute(step)
        except KeyboardInterrupt:
            interrupted = True
        return self.finish(steps, interrupted=interrupted)

    def finish(self, steps: Sequence[Step], *, interrupted: bool = False) -> RunResult:
        """End the run: tool versions, every process stopped, run.json; the run's result.

        ``steps`` are the steps the run was meant to run: those never reached are listed as
        not run (interrupted, for the one Ctrl-C stopped).
        """
        versions: dict[str, str] = {}
        try:
            if not interrupted:
                versions = self.tool_versions()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.close(keep_session=interrupted or self.failure is not None)
        was_interrupted = interrupted
        by_id = {r.step.id: r for r in self.results}
        results: list[StepResult] = []
        for step in steps:
            found = by_id.get(step.id)
            if found is None:
                status = StepStatus.INTERRUPTED if interrupted else StepStatus.NOT_RUN
                found = StepResult(
                    step, status, note="interrupted (Ctrl-C)" if interrupted else None
                )
                interrupted = False  # only the step that was running
            results.append(found)
        status = RunStatus.PASSED
        if was_interrupted or any(r.status == StepStatus.INTERRUPTED for r in results):
            status = RunStatus.INTERRUPTED
        elif self.failure is not None:
            status = RunStatus.FAILED
        result = RunResult(self.run_id, status, results)
        result.record = RunRecord(
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=_now(),
            status=status,
            tool_versions=versions,
            steps=[
                {
                    "id": r.step.id,
                    "page": r.step.page,
                    "line": r.step.line,
                    "status": r.status,
                    "duration": round(r.duration, 3),
                    "attempts": r.attempts,
                    "note": r.note,
                }
                for r in results
            ],
        )
        with _no_interrupt():
            if self.capture:
                self.store.write_run(result.record)
            keep_run(self.project, result.record, self.captures.values(), self.image_root)
        self._emit(Event(EventKind.RUN_END, run=result))
        return result


# -- choosing steps -----------------------------------------------------------------------------


def _page_matches(project: Project, page: str, wanted: str) -> bool:
    candidate = Path(wanted)
    if candidate.as_posix() == page:
        return True
    with contextlib.suppress(ValueError, OSError):
        return candidate.resolve().relative_to(project.docs_dir.resolve()).as_posix() == page
    return False


def select_steps(
    project: Project,
    *,
    from_id: str | None = None,
    to_id: str | None = None,
    only: Sequence[str] | None = None,
) -> list[Step]:
    """The steps of a run: ``--from``/``--to`` bound the run order, ``--only`` keeps pages.

    An id or page the project does not have is a MeshdemoError (exit status 2).
    """
    from meshdemo.errors import MeshdemoError

    steps = project.steps
    if not steps:  # nothing to bound or choose from: the caller says there is nothing to run
        return []
    ids = [s.id for s in steps]
    for option, value in (("--from", from_id), ("--to", to_id)):
        if value is not None and value not in ids:
            raise MeshdemoError(
                f"{option} {value}: no step has this id (see `meshdemo list`)", project.config_file
            )
    start = ids.index(from_id) if from_id else 0
    end = ids.index(to_id) if to_id else len(ids) - 1
    if start > end:
        raise MeshdemoError(f"--from {from_id} comes after --to {to_id} in run order")
    chosen = steps[start : end + 1]
    if only:
        pages = [p.path for p in project.pages]
        keep: set[str] = set()
        for wanted in only:
            found = [p for p in pages if _page_matches(project, p, wanted)]
            if not found:
                raise MeshdemoError(
                    f"--only {wanted}: no such page in the nav (pages: {', '.join(pages)})",
                    project.config_file,
                )
            keep.update(found)
        chosen = [s for s in chosen if s.page in keep]
    return chosen

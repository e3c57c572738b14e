"""Run a guide's steps in order in one bash session: the orchestration.

The runner decides *which* step runs and *what becomes of* its result; it does not run steps
itself nor judge them:

* which steps run: the skip policy (:mod:`meshdemo.run.policy`), ``skip-if`` tests in the
  session, retries (``retry`` repeats a step until it passes);
* running one attempt of a step: its kind's executor (:mod:`meshdemo.run.executors`), which
  judges what the session saw with the pure :func:`meshdemo.run.verdict.judge`; short plain
  steps in a row are sent to the shell ahead, in batches (:meth:`Runner._send_ahead`), and
  still taken, judged and recorded one at a time;
* what stays: captures and ``run.json`` (:mod:`meshdemo.run.record`), written only with
  ``capture=True`` (``False`` writes nothing under ``docs/``: no captures, no run.json, and
  screenshots go to the run directory instead of the page's image path). Everything a step
  printed is masked of secrets (:mod:`meshdemo.run.masking`) before it is stored, returned, or
  shown;
* the run's life (:mod:`meshdemo.run.life`): the project held for this run alone, the session
  opened once and closed whatever ends the run (a failure, a signal, an error of the engine or
  the disk), every process it started stopped, the run recorded.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from meshdemo.captures import (
    Capture,
    CaptureStore,
    encode_capture,
    encode_record,
    output_digest,
    sync_to_disk,
    write_atomically,
)
from meshdemo.cluster.kubeconfig import private_kubeconfig
from meshdemo.errors import MeshdemoError
from meshdemo.history import keep_run
from meshdemo.model import Kind, Project, Step
from meshdemo.run import policy, record
from meshdemo.run.executors import StepContext, executor_for, now, result_of
from meshdemo.run.life import (
    Ownership,
    RunBroken,
    check_writable,
    deferred_signals,
    describe,
    on_shell_start,
    signal_of,
)
from meshdemo.run.options import RunOptions
from meshdemo.run.output import shown_output
from meshdemo.run.results import Event, RunResult, StepResult
from meshdemo.run.session import BashSession, scratch_dir
from meshdemo.status import EventKind, Outcome, RunStatus, StepStatus

__all__ = ["Event", "RunResult", "Runner", "StepResult", "select_steps"]

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
# Short steps in a row are sent to the shell together (BashSession.queue), as many as short
# steps came before them, up to this: a trivial step then costs bash a third of a round trip
MAX_BATCH = 32


class Runner:
    """Runs steps of ``project`` in one session. Use as a context manager, or ``run(steps)``."""

    def __init__(
        self,
        project: Project,
        options: RunOptions | None = None,
        *,
        on_event: Callable[[Event], None] | None = None,
        background_check: float = BACKGROUND_CHECK,
        record_later: bool = True,
    ):
        """``record_later``: a passed step's capture is recorded while the next step runs
        (see :meth:`_record`); False records each before :meth:`execute` returns, for a caller
        that reports each step on its own (a test item owns its step's capture)."""
        self.project = project
        self.options = options = options or RunOptions()
        self.cleanup = options.cleanup
        self.capture = options.capture
        self.resume = options.resume
        self.existing_cluster = options.existing_cluster
        self.on_event = on_event
        self.background_check = background_check
        self.record_later = record_later
        self.session_restored = False
        self.run_dir = project.run_dir
        # bad --kubeconfig/--context fail here, before anything runs
        self.kubeconfig = private_kubeconfig(self.run_dir, options.kubeconfig, options.context)
        self.store = CaptureStore(project.captures_dir)
        # (secrets, not uuid: importing uuid imports platform, ~2 ms at every run's start)
        self.run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        self.started_at = now()
        self.results: list[StepResult] = []
        self.failure: StepResult | None = None
        self.session: BashSession | None = None
        self._backgrounds: dict[int, tuple[StepResult, Capture]] = {}
        self.captures: dict[str, Capture] = {}  # what this run recorded, for the run history
        self.encoded: dict[str, bytes] = {}  # the same, encoded (written once, kept once)
        self.digests: dict[str, str] = {}  # the same, their outputs' digests (for run.json)
        self.workdir = self.run_dir / "session"
        self.state_file = self.run_dir / STATE_FILE
        self.ownership = Ownership(self.run_dir, self.run_id)
        self.error: str | None = None  # what broke the run off, when something did
        # passed steps whose captures are made while the next step runs (see _record)
        self._waiting: list[StepResult] = []
        self._broken_meanwhile: RunBroken | None = None
        self.running: Step | None = None  # the step being executed (a signal may stop it)

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
        """Take the project (RunBusy while another run holds it), check that captures can be
        written, start the session. Whatever fails on the way is undone."""
        if self.session is not None:
            return self
        self.ownership.acquire()
        try:
            if self.capture:
                check_writable(self.project.captures_dir)
            # the step files, outputs and logs of the previous run go: they are not history
            shutil.rmtree(self.run_dir / "session", ignore_errors=True)
            shutil.rmtree(self.run_dir / FAILED_RUN_DIR, ignore_errors=True)
            # in memory when possible: a step's files live for one step (see scratch_dir); a
            # short name: bash reads the path of the session's control a byte at a time
            self.workdir = scratch_dir("meshdemo-") or self.run_dir / "session"
            self.ownership.update(scratch=self.workdir)
            state = self.state_file if self.resume and self.state_file.is_file() else None
            self.session_restored = state is not None
            self.session = BashSession(
                self.workdir,
                cwd=self.project.root,
                env=self.environment(),
                state=state,
                pinned=PINNED_ENV,
                on_start=on_shell_start(self.ownership),
            )
            self.session.start()
        except BaseException:
            self.close()
            raise
        self._emit(Event(EventKind.RUN_START))
        return self

    def close(self, *, keep_session: bool = False, release: bool = True) -> None:
        """Stop background steps (recording their logs) and every process of the run.

        ``keep_session``: copy what the session left into ``.meshdemo/failed-run/`` first.
        ``release``: give the project back (``finish`` does it after writing run.json).
        """
        if self._waiting:
            with contextlib.suppress(RunBroken):  # an engine error ends the run: keep what ran
                self._record_waiting()
        session, self.session = self.session, None
        try:
            if session is not None:
                with deferred_signals():
                    self._close_session(session, keep_session=keep_session)
        finally:
            if release:
                self.ownership.release()

    def _close_session(self, session: BashSession, *, keep_session: bool) -> None:
        try:
            for pgid, (log, dropped) in session.stop_backgrounds().items():
                result, capture = self._backgrounds.pop(pgid)
                result.output = shown_output(log, dropped)
                capture.output = result.output
                self._write(capture)
        finally:
            session.close()
            try:
                # the shell's last state, for `meshdemo run --from` (resume=True) next time
                if session.saved_state.is_file():
                    write_atomically(self.state_file, session.saved_state.read_bytes(), mode=0o600)
                if keep_session:
                    record.keep_session(
                        self.workdir, self.run_dir / FAILED_RUN_DIR, skip=session.saved_state
                    )
            finally:
                if self.workdir.parent != self.run_dir:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Runner:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close(keep_session=exc[0] is not None or self.failure is not None)

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    @property
    def image_root(self) -> Path:
        """Where screenshots go: their page's folder, or the run directory with --no-capture."""
        return self.project.docs_dir if self.capture else self.run_dir / "screenshots"

    def _record(self, result: StepResult) -> Capture | None:
        """Record ``result``'s capture; that of a passed step whose output is still to be
        made (masked, cut) is recorded while the next step runs (StepContext.meanwhile), or
        when the run ends, whichever comes first. Captures are recorded in run order."""
        if self.record_later and result.ok and result.output_pending:
            self._waiting.append(result)
            return None
        self._record_waiting()
        return self._record_now(result)

    def _record_now(self, result: StepResult) -> Capture:
        capture = record.capture_of(result, self.run_id)
        self.captures[result.step.id] = capture
        self._write(capture)
        return capture

    def _record_waiting(self) -> None:
        """Record the captures waiting (see :meth:`_record`), in order; RunBroken (after
        trying the rest) when one cannot be. A Ctrl-C leaves the rest waiting."""
        failed: Exception | None = None
        while self._waiting:
            result = self._waiting[0]
            try:
                self._record_now(result)
            except Exception as error:
                if failed is None:
                    failed = error
                    step = result.step
                    self.error = self.error or (
                        f"the run broke off at {step.id} ({step.location}): {describe(error)}"
                    )
            del self._waiting[0]
        if failed is not None:
            raise RunBroken(self.error or describe(failed)) from failed

    @property
    def _meanwhile(self) -> Callable[[], None] | None:
        """What a session step does while it runs: record the captures waiting, if any."""
        return self._record_meanwhile if self._waiting else None

    def _record_meanwhile(self) -> None:
        # while a step runs: an error is raised once that step is done (see execute)
        try:
            self._record_waiting()
        except RunBroken as broken:
            self._broken_meanwhile = broken

    def _written_folders(self) -> list[Path]:
        """The folders this run wrote into, one per file system."""
        folders = [self.run_dir]
        if self.capture:
            folders.insert(0, self.store.directory)
        seen: set[int] = set()
        found = []
        for folder in folders:
            with contextlib.suppress(OSError):
                device = folder.stat().st_dev
                if device not in seen:
                    seen.add(device)
                    found.append(folder)
        return found

    def _write(self, capture: Capture) -> None:
        self.encoded[capture.id] = encoded = encode_capture(capture)
        self.digests[capture.id] = output_digest(capture.output)
        if self.capture:
            self.store.write(capture, encoded)

    # -- policy ---------------------------------------------------------------------------------

    def skip_reason(self, step: Step) -> tuple[str, str] | None:
        """(status, note) when ``step`` is not to run, decided without running anything."""
        return policy.skip_reason(
            step,
            cleanup=self.cleanup,
            existing_cluster=self.existing_cluster,
            failed=self.failure.step if self.failure is not None else None,
        )

    # -- running --------------------------------------------------------------------------------

    def execute(self, step: Step) -> StepResult:
        """Run (or skip) one step, record its capture, and remember a failure.

        An error outside the guide (a capture that cannot be written, a shell that does not
        start) breaks the run off: RunBroken, with the reason; later steps are not run.
        """
        if self.error is not None:
            result = StepResult(step, StepStatus.NOT_RUN, note=f"not run: {self.error}")
            self.results.append(result)
            return result
        self.running = step
        try:
            self.open()
            decided = self.skip_reason(step)
            if decided is not None or not executor_for(step).in_session:
                # no session step to record them during: now, so that a page served
                # meanwhile (a presenter's `mkdocs serve`) shows them at once
                self._record_waiting()
            if decided is not None:
                result = StepResult(step, StepStatus(decided[0]), note=decided[1])
            else:
                self._emit(Event(EventKind.STEP_START, step=step))
                result = self._run_step(step)
        except (KeyboardInterrupt, MeshdemoError):
            raise
        except Exception as error:
            self.error = f"the run broke off at {step.id} ({step.location}): {describe(error)}"
            raise RunBroken(self.error) from error
        self.running = None
        self._conclude(result)
        if self._broken_meanwhile is not None:
            # the capture of an earlier step could not be recorded while this one ran
            raise self._broken_meanwhile
        return result

    def _conclude(self, result: StepResult) -> None:
        """A step is over: its result kept, a first failure remembered, the end reported."""
        self.results.append(result)
        if not result.ok and result.status != StepStatus.NOT_RUN and self.failure is None:
            self.failure = result
        self._emit(Event(EventKind.STEP_END, step=result.step, result=result))

    def _batchable(self, step: Step) -> bool:
        """Can ``step`` be sent ahead (see :meth:`_send_ahead`)? A plain bash step, run once,
        whose verdict bash can tell (its exit status is 0, or any), that the policy runs."""
        options = step.options
        return (
            step.kind == Kind.BASH
            and not options.background
            and options.stream is None
            and options.retry <= 1
            and not options.skip_if
            and options.exit in (0, None)
            and self.skip_reason(step) is None
        )

    def _send_ahead(self, steps: Sequence[Step], index: int) -> None:
        """While steps end within SHORT_STEP (50 ms), send the next ones to the shell at once:
        it runs them one after the other while this process records and reports each (the
        runner still takes them one at a time, see BashSession.queue). A batch stops in the
        shell at the first step that fails; a step with an expected output (judged here, not
        in bash) ends it."""
        session = self.session
        if session is None or not self.record_later or self.failure or self.error:
            return
        if session.short_streak == 0 or session.queued:
            return
        batch: list[Step] = []
        for step in steps[index : index + min(MAX_BATCH, session.short_streak + 1)]:
            if not self._batchable(step):
                break
            batch.append(step)
            if step.expected is not None:
                break
        if len(batch) > 1:
            session.queue([(s.command, s.id, s.options.exit == 0) for s in batch])

    def _context(self, step: Step) -> StepContext:
        assert self.session is not None
        tick = (lambda: self._emit(Event(EventKind.TICK, step=step))) if self.on_event else None
        return StepContext(
            session=self.session,
            workdir=self.workdir,
            image_root=self.image_root,
            tick=tick,
            background_check=self.background_check,
            started_background=self._started_background,
            meanwhile=self._meanwhile,
        )

    def _started_background(self, pgid: int, result: StepResult) -> None:
        self._record_waiting()
        self._backgrounds[pgid] = (result, self._record_now(result))

    def _skip_if(self, step: Step) -> StepResult | None:
        test = step.options.skip_if
        if not test:
            return None
        assert self.session is not None
        probe = self.session.run(
            test,
            name=f"{step.id}.skip-if",
            timeout=step.options.timeout,
            meanwhile=self._meanwhile,
        )
        if probe.outcome == Outcome.EXITED and probe.status == 0:
            return StepResult(step, StepStatus.SKIPPED, note=f"skipped: skip-if `{test}` held")
        return None

    def _run_step(self, step: Step) -> StepResult:
        skipped = self._skip_if(step)
        if skipped is not None:
            return skipped
        result = self._attempts(step)
        if result.status != StepStatus.NOT_RUN and not (step.options.background and result.ok):
            self._record(result)
        return result

    def _attempts(self, step: Step) -> StepResult:
        """Run ``step`` until it passes, at most ``retry`` times (``retry-delay`` apart)."""
        options = step.options
        executor = executor_for(step)
        first_start: str | None = None
        total = 0.0
        result = StepResult(step, StepStatus.FAILED)
        for attempt in range(1, max(1, options.retry) + 1):
            if attempt > 1:
                time.sleep(options.retry_delay)
            result = executor.run(step, self._context(step))
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

    # -- the whole run --------------------------------------------------------------------------

    def tool_versions(self) -> dict[str, str]:
        config = (self.project.extra or {}).get("meshdemo") or {}
        tools = config.get("tool_versions") or {}
        if not isinstance(tools, dict) or not tools:
            return {}
        self.open()
        assert self.session is not None
        return record.tool_versions(self.session, tools)

    def run(self, steps: Sequence[Step]) -> RunResult:
        """Run ``steps`` in order; always ends every process the run started.

        A run that could not start (another run holds the project, captures cannot be
        written) raises MeshdemoError and writes nothing.
        """
        signum: int | None = None
        try:
            self.open()
            for index, step in enumerate(steps):
                self._send_ahead(steps, index)
                self.execute(step)
        except KeyboardInterrupt as stop:
            signum = signal_of(stop)
            with deferred_signals():
                self._ran_ahead(steps)
        except RunBroken:  # the reason is in self.error
            with deferred_signals():
                self._ran_ahead(steps)
        except BaseException:
            self.close()
            raise
        return self.finish(steps, signum=signum)

    def _ran_ahead(self, steps: Sequence[Step]) -> None:
        """After a Ctrl-C or an error of ours in a batch (see _send_ahead): the steps bash
        ended past the one this process was waiting for ran, and are reported and recorded as
        such; the step bash was stopped in is the interrupted one (after an error: not run)."""
        if self.session is None or not self.session.queued:
            return
        by_id = {step.id: step for step in steps}
        for name, run in self.session.stop_batch():
            step = by_id.get(name)
            if run is None or step is None or any(r.step.id == name for r in self.results):
                break
            if step is not self.running:
                self._emit(Event(EventKind.STEP_START, step=step))
            result = result_of(step, run, run.step_file)
            result.attempts = 1
            with contextlib.suppress(RunBroken):  # self.error says it
                self._record(result)
            self._conclude(result)
        self.running = None

    def finish(
        self,
        steps: Sequence[Step],
        *,
        interrupted: bool = False,
        signum: int | None = None,
    ) -> RunResult:
        """End the run: tool versions, every process stopped, run.json; the run's result.

        ``steps`` are the steps the run was meant to run: those never reached are listed as
        not run (interrupted, for the one a signal stopped: ``signum``, or SIGINT when only
        ``interrupted`` is said).
        """
        if interrupted and signum is None:
            signum = signal.SIGINT
        if not self.ownership.held:
            # the run never took the project (another run holds it): nothing of it to record
            return self._result(steps, signum, {})
        versions: dict[str, str] = {}
        try:
            with deferred_signals(), contextlib.suppress(RunBroken):  # self.error says it
                self._record_waiting()
            try:
                if signum is None and self.error is None:
                    versions = self.tool_versions()
            except KeyboardInterrupt as stop:
                signum = signal_of(stop)
            except Exception as error:
                self.error = self.error or f"the run broke off: {describe(error)}"
            finally:
                try:
                    keep = signum is not None or self.failure is not None or bool(self.error)
                    self.close(keep_session=keep, release=False)
                except Exception as error:
                    self.error = self.error or f"the run broke off: {describe(error)}"
            result = self._result(steps, signum, versions)
            assert result.record is not None
            with deferred_signals():
                try:
                    encoded_record = encode_record(result.record)
                    if self.capture:
                        # the times of the captures left as they were (same content)
                        self.store.write_times(self.captures.values())
                        self.store.write_run(result.record, encoded_record)
                    keep_run(
                        self.project,
                        result.record,
                        self.captures.values(),
                        self.image_root,
                        self.encoded,
                        self.store if self.capture else None,
                        encoded_record,
                    )
                    # captures are written without a flush each; one for the whole run
                    for folder in self._written_folders():
                        sync_to_disk(folder)
                except OSError as error:
                    result.error = self.error = self.error or (
                        f"the run could not be recorded: {describe(error)}"
                    )
                    result.status = RunStatus.ERROR if signum is None else result.status
        finally:
            self.ownership.release()
        self._emit(Event(EventKind.RUN_END, run=result))
        return result

    def _result(
        self, steps: Sequence[Step], signum: int | None, versions: dict[str, str]
    ) -> RunResult:
        by_id = {r.step.id: r for r in self.results}
        results: list[StepResult] = []
        stopped = signum
        for step in steps:
            found = by_id.get(step.id)
            if found is None:
                if stopped is not None:
                    why = "Ctrl-C" if stopped == signal.SIGINT else signal.Signals(stopped).name
                    found = StepResult(step, StepStatus.INTERRUPTED, note=f"interrupted ({why})")
                    stopped = None  # only the step that was running
                else:
                    note = f"not run: {self.error}" if self.error else None
                    found = StepResult(step, StepStatus.NOT_RUN, note=note)
            results.append(found)
        status = RunStatus.PASSED
        if signum is not None or any(r.status == StepStatus.INTERRUPTED for r in results):
            status = RunStatus.INTERRUPTED
        elif self.error is not None:
            status = RunStatus.ERROR
        elif self.failure is not None:
            status = RunStatus.FAILED
        result = RunResult(self.run_id, status, results, error=self.error, signal=signum)
        result.record = record.run_record(
            self.run_id,
            started_at=self.started_at,
            finished_at=now(),
            status=status,
            versions=versions,
            results=results,
            error=self.error,
            digests=self.digests,
        )
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

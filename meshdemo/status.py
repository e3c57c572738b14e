"""The engine's vocabulary of states, one ``StrEnum`` each, shared by every layer.

Values are the strings written into captures and ``run.json`` and shown to users, so a
member compares equal to its text (``StepStatus.PASSED == "passed"``) and reads back from a
file with ``StepStatus(text)``.
"""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    """How one step of a run ended, as captures, ``run.json`` and reports say it."""

    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed-out"
    SHELL_EXITED = "shell-exited"  # the step ended the shell (exit, exec, kill $$)
    INTERRUPTED = "interrupted"  # Ctrl-C, or a stop request, while it ran
    SKIPPED = "skipped"  # by design (skip, skip-if, provision, teardown policy): never ran
    NOT_RUN = "not-run"  # never reached: a step before it failed (run.json only)

    @property
    def ok(self) -> bool:
        """Does the run go on after it?"""
        return self in (StepStatus.PASSED, StepStatus.SKIPPED)

    @property
    def failed(self) -> bool:
        """Did the step itself fail (as opposed to being skipped, stopped or never reached)?"""
        return self in (StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.SHELL_EXITED)

    @property
    def ran(self) -> bool:
        """Did the step run at all (so it has a duration and attempts)?"""
        return self not in (StepStatus.SKIPPED, StepStatus.NOT_RUN)


class RunStatus(StrEnum):
    """How a whole run ended."""

    PASSED = "passed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a signal stopped it (Ctrl-C, SIGTERM, SIGHUP)
    ERROR = "error"  # broken off for a reason outside the guide (an I/O error, no shell)


class Outcome(StrEnum):
    """How a command sent to the bash session ended, as the session saw it."""

    EXITED = "exited"  # ran to its end; the exit status says how
    TIMED_OUT = "timed-out"  # killed after its timeout
    STOPPED = "stopped"  # a bounded stream, stopped after its time, as asked
    SHELL_EXITED = "shell-exited"  # the command ended the shell itself
    STARTED = "started"  # a background step, left running


class EventKind(StrEnum):
    """What a runner tells its listener (live progress, the pytest plugin)."""

    RUN_START = "run-start"
    STEP_START = "step-start"
    TICK = "tick"  # a few times a second while a step runs
    STEP_END = "step-end"
    RUN_END = "run-end"


class CleanupPolicy(StrEnum):
    """When teardown steps run: ``--cleanup`` of ``run`` and ``demo``, ``--meshdemo-cleanup``."""

    ALWAYS = "always"  # even after a failure: the cluster is destroyed anyway
    ON_SUCCESS = "on-success"  # only when every step before passed: a failure keeps it
    NEVER = "never"  # the cluster stays (the live demo)


class Verdict(StrEnum):
    """A prerequisite check's answer (``meshdemo demo``)."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"

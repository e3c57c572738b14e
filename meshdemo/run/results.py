"""What a run produces: a result per step, the run's result, and the events a listener sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meshdemo.captures import RunRecord
from meshdemo.model import Step
from meshdemo.status import EventKind, RunStatus, StepStatus


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
    # what makes ``output`` when it is first read (see ``output_later``)
    _make_output: Callable[[], str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def output_later(self, make: Callable[[], str]) -> None:
        """``output`` is ``make()``, worked out when it is first read: the runner masks a
        passed step's output while the next step runs, and whoever reads it sooner gets it
        masked all the same."""
        self._make_output = make

    @property
    def output_pending(self) -> bool:
        return self._make_output is not None

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
    error: str | None = None  # RunStatus.ERROR: what broke the run off (not a step)
    signal: int | None = None  # RunStatus.INTERRUPTED: the signal that stopped it

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


# (``_output``, where the property keeps the value, is no field: the type checker does not
# know it)
def _get_output(result: StepResult) -> str:
    make = result._make_output
    if make is not None:
        result._output = make()  # type: ignore[attr-defined]
        result._make_output = None
    return result._output  # type: ignore[attr-defined,no-any-return]


def _set_output(result: StepResult, value: str) -> None:
    result._output = value  # type: ignore[attr-defined]
    result._make_output = None


# ``output`` stays a field of the constructor and of ``repr``; reading it goes through
# ``_get_output``, so an output made later (``output_later``) is never seen unmade
StepResult.output = property(_get_output, _set_output)  # type: ignore[assignment]

"""What a run produces: a result per step, the run's result, and the events a listener sees."""

from __future__ import annotations

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

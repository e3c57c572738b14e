"""Replaying a recorded run: which steps, in what order, at what pace, and who can follow.

A replay reads a :class:`~meshdemo.history.RecordedRun` and nothing else: it runs no command
and needs no cluster, so a talk goes on when the network does not. This module holds what
every face of a replay shares:

* :func:`plan`: the run's steps in run order, each with its capture (or why there is none),
  narrowed by ``--from``/``--to``/``--only`` like ``meshdemo run``;
* the pacing: each step's pause before it (the gap the run left between two steps) and its
  recorded duration, both scaled by the replay speed;
* :class:`ReplayProgress`: where a replay says how far it got, in
  ``.meshdemo/replay/progress.json``, so a served site can follow it. The file names the
  replay's process; a reader ignores a file whose process is gone (a replay killed hard),
  and a replay removes it when it ends, even after Ctrl-C. Nothing is written under docs/.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from meshdemo.captures import Capture, write_atomically
from meshdemo.errors import MeshdemoError
from meshdemo.history import RecordedRun
from meshdemo.model import Project
from meshdemo.status import StepStatus

MAX_GAP = 3.0  # seconds: longer pauses between two steps of a run are not worth waiting for
PROGRESS_DIR = "replay"  # under .meshdemo/: watched by `mkdocs serve`
PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class ReplayStep:
    """One step of the recorded run, as the replay shows it."""

    id: str
    page: str
    line: int
    status: StepStatus
    command: str  # as it ran; as the page shows it now when the run never captured it
    capture: Capture | None  # None: this run never captured the step (not run, skipped...)
    note: str | None = None
    gap: float = 0.0  # seconds between the end of the step before and this one's start

    @property
    def location(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def duration(self) -> float:
        return self.capture.duration if self.capture is not None else 0.0


def _moment(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None


def plan(
    run: RecordedRun,
    project: Project | None = None,
    *,
    from_id: str | None = None,
    to_id: str | None = None,
    only: list[str] | None = None,
) -> list[ReplayStep]:
    """The steps of ``run`` to replay, in run order. Unknown ids or pages: MeshdemoError."""
    captures = run.captures()
    commands = {step.id: step.command for step in project.steps} if project else {}
    entries = [entry for entry in run.record.steps if entry.get("id")]
    ids = [str(entry["id"]) for entry in entries]
    for option, value in (("--from", from_id), ("--to", to_id)):
        if value is not None and value not in ids:
            raise MeshdemoError(f"{option} {value}: the run {run.label} has no such step")
    start = ids.index(from_id) if from_id else 0
    end = ids.index(to_id) if to_id else len(ids) - 1
    if start > end:
        raise MeshdemoError(f"--from {from_id} comes after --to {to_id} in the run")
    chosen = entries[start : end + 1]
    if only:
        pages = list(dict.fromkeys(str(entry.get("page")) for entry in entries))
        for wanted in only:
            if wanted not in pages:
                raise MeshdemoError(
                    f"--only {wanted}: the run {run.label} has no step on that page "
                    f"(pages: {', '.join(pages)})"
                )
        chosen = [entry for entry in chosen if entry.get("page") in only]

    steps: list[ReplayStep] = []
    previous_end: datetime | None = None
    for entry in chosen:
        step_id = str(entry["id"])
        capture = captures.get(step_id)
        try:
            status = StepStatus(entry.get("status") or StepStatus.NOT_RUN)
        except ValueError:
            status = StepStatus.NOT_RUN
        gap = 0.0
        began = _moment(capture.started_at) if capture else None
        if began is not None and previous_end is not None:
            gap = min(MAX_GAP, max(0.0, (began - previous_end).total_seconds()))
        if began is not None and capture is not None:
            previous_end = began + timedelta(seconds=capture.duration)
        command = capture.command if capture else commands.get(step_id, "")
        steps.append(
            ReplayStep(
                id=step_id,
                page=str(entry.get("page") or "?"),
                line=int(entry.get("line") or 0),
                status=status,
                command=command,
                capture=capture,
                note=entry.get("note") or (capture.note if capture else None),
                gap=gap,
            )
        )
    return steps


def scaled(seconds: float, speed: float) -> float:
    """A recorded time at ``speed`` (2: twice as fast; 0: no wait at all)."""
    return 0.0 if speed <= 0 else seconds / speed


# -- following a replay from the served site -----------------------------------------------


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot): tells it from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return int(raw[raw.rindex(b")") + 2 :].split()[19])


@dataclass
class ReplayProgress:
    """How far a replay got: read by the site while ``mkdocs serve`` runs."""

    run_id: str
    run_root: str  # the recorded run's folder (its captures/ and images)
    run_started_at: str
    steps: list[str]  # ids, in replay order
    played: list[str] = field(default_factory=list)  # ids whose output has been shown
    current: str | None = None  # the step being replayed now
    pid: int = 0
    pid_start: int | None = None

    @staticmethod
    def path(project_run_dir: Path) -> Path:
        return Path(project_run_dir) / PROGRESS_DIR / PROGRESS_FILE

    def write(self, run_dir: Path) -> None:
        if not self.pid:
            self.pid, self.pid_start = os.getpid(), _start_ticks(os.getpid())
        data = json.dumps(asdict(self), indent=1) + "\n"
        write_atomically(self.path(run_dir), data.encode())

    @staticmethod
    def clear(run_dir: Path) -> None:
        with contextlib.suppress(OSError):
            ReplayProgress.path(run_dir).unlink()

    @classmethod
    def read(cls, run_dir: Path) -> ReplayProgress | None:
        """The progress of a replay that is running now; None when there is none."""
        try:
            data: dict[str, Any] = json.loads(cls.path(run_dir).read_text(encoding="utf-8"))
            progress = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None
        if not progress.pid or _start_ticks(progress.pid) != progress.pid_start:
            return None  # its replay is gone (killed before it could clear the file)
        return progress


class ReplayView:
    """What a served page shows of a running replay: the replayed run's outputs so far.

    A step of the replay is *played* (its output was shown: the page shows the replayed
    capture), *current* (being typed or waited for) or *pending* (not reached yet); a step
    the replay does not include is none of these, and the page shows it as usual.
    """

    def __init__(self, progress: ReplayProgress, run: RecordedRun):
        self.progress = progress
        self.run = run
        self._captures = run.captures()
        self._pages = {str(e.get("id")): str(e.get("page")) for e in run.record.steps}

    @classmethod
    def active(cls, run_dir: Path) -> ReplayView | None:
        """The replay running now for the project whose run directory is ``run_dir``."""
        from meshdemo.history import read_run

        progress = ReplayProgress.read(run_dir)
        if progress is None:
            return None
        try:
            return cls(progress, read_run(Path(progress.run_root)))
        except MeshdemoError:
            return None

    def state(self, step_id: str) -> str | None:
        if step_id in self.progress.played:
            return "played"
        if step_id == self.progress.current:
            return "current"
        return "pending" if step_id in self.progress.steps else None

    def capture(self, step_id: str) -> Capture | None:
        """The replayed capture of a played step (None before it is played, or never taken)."""
        return self._captures.get(step_id) if self.state(step_id) == "played" else None

    @property
    def current_page(self) -> str | None:
        """The page of the step being replayed (or of the last one played)."""
        return self._pages.get(self.at or "")

    @property
    def at(self) -> str | None:
        """The step being replayed, or the last one played (None before the first)."""
        played = self.progress.played
        return self.progress.current or (played[-1] if played else None)

    @property
    def position(self) -> tuple[int, int]:
        """(steps played, steps in the replay)."""
        return len(self.progress.played), len(self.progress.steps)

"""Drift between two recorded runs: what changed, step by step, beyond what always varies.

A step *drifted* when, between the old run and the new one:

* its **output** changed once normalised (:mod:`meshdemo.run.normalize`, the rules the
  expected-output checks use: pod hashes, ages, IPs, durations and timestamps never count;
  percentages and rates count only beyond the ``tolerance`` its page declares);
* its **status** changed (passed → failed, ran → not run...);
* its **duration** changed by more than ``seconds`` *and* by more than ``ratio`` of the old one;
* its **screenshot** changed: more than ``pixels`` of the image differ, not counting the
  regions the page masks (``mask="selector"``: their boxes are recorded when the shot is taken).

Steps only one of the runs has are listed, not counted as drift (a run of one page against a
run of the whole guide).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from meshdemo.captures import Capture, output_digest
from meshdemo.history import HISTORY_DIR, History, RecordedRun
from meshdemo.model import Project
from meshdemo.status import StepStatus

MAX_DIFF_LINES = 40  # lines of an output's diff kept in the report
_EARLIER: dict[Path, tuple[tuple[tuple[str, int], ...], EarlierOutputs]] = {}


class Thresholds(NamedTuple):
    seconds: float = 5.0  # a duration change this small is noise...
    ratio: float = 0.5  # ...and so is one within this share of the old duration
    pixels: float = 0.01  # share of the compared pixels that may differ
    channel: int = 24  # a pixel differs when a colour channel moved more than this (0-255)


class Change(StrEnum):
    OUTPUT = "output"
    STATUS = "status"
    DURATION = "duration"
    SCREENSHOT = "screenshot"


@dataclass
class StepDrift:
    """One step as both runs saw it."""

    id: str
    page: str
    line: int
    old_status: str
    new_status: str
    old_duration: float | None = None
    new_duration: float | None = None
    changes: list[Change] = field(default_factory=list)
    output_diff: list[str] = field(default_factory=list)  # unified diff, normalised
    pixel_share: float | None = None  # screenshots: the share of pixels that differ
    side_by_side: Path | None = None  # screenshots: old | new | difference, when drifted
    note: str | None = None

    @property
    def location(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def drifted(self) -> bool:
        return bool(self.changes)


@dataclass
class DriftReport:
    old: RecordedRun
    new: RecordedRun
    steps: list[StepDrift]
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[StepDrift]:
        return [step for step in self.steps if step.drifted]


def _ran(entry: dict, capture: Capture | None) -> float | None:
    if capture is not None:
        return float(capture.duration)
    status = entry.get("status")
    if status in (StepStatus.SKIPPED, StepStatus.NOT_RUN, None):
        return None
    return float(entry.get("duration") or 0.0)


def output_drift(old: str, new: str, tolerance: float | None) -> list[str]:
    """The normalised outputs' differences as a unified diff; [] when they agree."""
    # imported here: a site build reads the kept runs for every page, and compares outputs
    # only of steps that an earlier run captured too
    import difflib

    from meshdemo.run.normalize import compare, normalize_keeping_numbers

    if old == new or compare(old, new, "exact", tolerance).matched:
        return []
    seen: dict[str, str] = {}
    before = normalize_keeping_numbers(old, seen).strip("\n").splitlines()
    after = normalize_keeping_numbers(new, seen).strip("\n").splitlines()
    lines = list(difflib.unified_diff(before, after, "old", "new", n=1, lineterm=""))[2:]
    if len(lines) > MAX_DIFF_LINES:
        more = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"... ({more} more lines)"]
    return lines or ["(the percentages moved beyond the tolerance)"]


def duration_drift(old: float, new: float, thresholds: Thresholds) -> bool:
    change = abs(new - old)
    return change > thresholds.seconds and change > thresholds.ratio * old


def compare_runs(
    old: RecordedRun,
    new: RecordedRun,
    project: Project | None = None,
    thresholds: Thresholds | None = None,
    images: Path | None = None,
) -> DriftReport:
    """Compare ``new`` with ``old``; side-by-side images of drifted shots go into ``images``."""
    thresholds = thresholds or Thresholds()
    tolerances = {s.id: s.options.tolerance for s in project.steps} if project else {}
    old_entries = {str(e["id"]): e for e in old.record.steps if e.get("id")}
    new_entries = [e for e in new.record.steps if e.get("id")]
    old_captures, new_captures = old.captures(), new.captures()
    report = DriftReport(old, new, [])
    report.only_old = [i for i in old_entries if i not in {str(e["id"]) for e in new_entries}]
    for entry in new_entries:
        step_id = str(entry["id"])
        before = old_entries.get(step_id)
        if before is None:
            report.only_new.append(step_id)
            continue
        was, now = old_captures.get(step_id), new_captures.get(step_id)
        step = StepDrift(
            id=step_id,
            page=str(entry.get("page") or "?"),
            line=int(entry.get("line") or 0),
            old_status=str(before.get("status")),
            new_status=str(entry.get("status")),
            old_duration=_ran(before, was),
            new_duration=_ran(entry, now),
        )
        if step.old_status != step.new_status:
            step.changes.append(Change.STATUS)
        timed = step.old_duration is not None and step.new_duration is not None
        if timed and duration_drift(step.old_duration, step.new_duration, thresholds):  # type: ignore[arg-type]
            step.changes.append(Change.DURATION)
        if was is not None and now is not None:
            if now.kind == "screenshot":
                _compare_shots(step, old, was, new, now, thresholds, images)
            else:
                step.output_diff = output_drift(was.output, now.output, tolerances.get(step_id))
                if step.output_diff:
                    step.changes.append(Change.OUTPUT)
        report.steps.append(step)
    return report


class OutputChange(NamedTuple):
    """A step whose output differs from what the same step printed in an earlier run."""

    before: Capture  # the step's capture in the latest earlier kept run that has one
    diff: list[str]


class EarlierOutputs:
    """The kept runs, to tell whether a shown capture changed since the run before it.

    Each run's captures are read once, when first needed (a site build asks for every step).
    """

    def __init__(self, history: History):
        self.runs = history.runs()  # oldest first
        self._captures: dict[str, dict[str, Capture]] = {}
        self._digest_maps: dict[str, dict[str, str]] = {}
        # what change() found, kept with the runs (a rebuild of `mkdocs serve` asks again)
        self._changes: dict[tuple[str, str | None, str, float | None], OutputChange | None] = {}

    @classmethod
    def of(cls, run_dir: Path) -> EarlierOutputs | None:
        """The kept runs under ``run_dir``, read again only when the history changed."""
        folder = Path(run_dir) / HISTORY_DIR
        try:
            state = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()))
        except OSError:
            return None
        cached = _EARLIER.get(folder)
        if cached is None or cached[0] != state:
            cached = _EARLIER[folder] = (state, cls(History(folder)))
        return cached[1]

    def _of(self, run: RecordedRun) -> dict[str, Capture]:
        if run.run_id not in self._captures:
            self._captures[run.run_id] = run.captures()
        return self._captures[run.run_id]

    def _digests(self, run: RecordedRun) -> dict[str, str]:
        """step id -> the digest of its captured output, as the run record keeps them."""
        if run.run_id not in self._digest_maps:
            self._digest_maps[run.run_id] = {
                str(entry["id"]): str(entry["output_digest"])
                for entry in run.record.steps
                if entry.get("id") and entry.get("output_digest")
            }
        return self._digest_maps[run.run_id]

    def change(self, capture: Capture, tolerance: float | None = None) -> OutputChange | None:
        """How ``capture``'s output differs from the step's in the latest run before its own."""
        if capture.kind == "screenshot":
            return None
        digest: str | None = None
        for run in reversed(self.runs):
            if run.run_id == capture.run_id:  # the run that took it knows its digest
                digest = self._digests(run).get(capture.id)
                continue
            if run.record.started_at >= capture.started_at:
                continue
            kept = self._digests(run).get(capture.id)
            if kept is not None:
                # the run captured this step: the same output needs none of its captures read
                digest = digest or output_digest(capture.output)
                if kept == digest:
                    return None
            before = self._of(run).get(capture.id)
            if before is None:
                continue
            # a capture is told by its step and run: the same run wrote the same output
            key = (capture.id, capture.run_id or capture.started_at, run.run_id, tolerance)
            if key not in self._changes:
                diff = output_drift(before.output, capture.output, tolerance)
                self._changes[key] = OutputChange(before, diff) if diff else None
            return self._changes[key]
        return None


def _compare_shots(
    step: StepDrift,
    old: RecordedRun,
    was: Capture,
    new: RecordedRun,
    now: Capture,
    thresholds: Thresholds,
    images: Path | None,
) -> None:
    from meshdemo.pixels import ImageDifference, difference, side_by_side

    before, after = old.image(was), new.image(now)
    if before is None or after is None:
        step.note = f"no screenshot image in the {'old' if before is None else 'new'} run"
        return
    masks = [*(was.masks or []), *(now.masks or [])]
    found: ImageDifference = difference(before, after, masks, channel=thresholds.channel)
    step.pixel_share = found.share
    if found.share > thresholds.pixels:
        step.changes.append(Change.SCREENSHOT)
        if images is not None:
            step.side_by_side = side_by_side(before, after, found, images / f"{step.id}.png")

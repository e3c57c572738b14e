"""What a run leaves: a capture per step, the run record, the tool versions it ran with, and
(after a failure) a masked copy of its shell session for diagnostics."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from meshdemo.captures import Capture, RunRecord
from meshdemo.run.executors import now
from meshdemo.run.masking import mask
from meshdemo.run.results import StepResult
from meshdemo.run.session import BashSession
from meshdemo.status import Outcome

TOOL_VERSION_TIMEOUT = 10.0


def capture_of(result: StepResult, run_id: str) -> Capture:
    """The capture of ``result``; one that never started (a skipped step) is dated now."""
    step = result.step
    return Capture(
        id=step.id,
        kind=str(step.kind),
        page=step.page,
        line=step.line,
        command=step.command,
        command_hash=step.command_hash,
        status=result.status,
        exit_status=result.exit_status,
        started_at=result.started_at or now(),
        duration=round(result.duration, 3),
        output=result.output,
        attempts=result.attempts,
        note=result.note,
        run_id=run_id,
        artifact=result.artifact,
        masks=result.masks,
    )


def run_record(
    run_id: str,
    *,
    started_at: str,
    finished_at: str,
    status: str,
    versions: Mapping[str, str],
    results: Sequence[StepResult],
    error: str | None = None,
    digests: Mapping[str, str] | None = None,
) -> RunRecord:
    """The run record; ``digests``: step id -> the ``output_digest`` of the capture the run
    recorded (:func:`meshdemo.captures.output_digest`), which the step's line gets."""
    digests = digests or {}
    return RunRecord(
        run_id=run_id,
        started_at=started_at,
        finished_at=finished_at,
        status=status,
        tool_versions=dict(versions),
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
            | ({"output_digest": digests[r.step.id]} if r.step.id in digests else {})
            for r in results
        ],
        error=error,
    )


def tool_versions(session: BashSession, tools: Mapping[str, object]) -> dict[str, str]:
    """``{name: first 500 characters of what its command printed}``, or "unavailable"."""
    versions: dict[str, str] = {}
    for name, command in tools.items():
        run = session.run(str(command), name=f"version-{name}", timeout=TOOL_VERSION_TIMEOUT)
        text = mask(run.output).strip()
        if run.outcome != Outcome.EXITED or run.status != 0 or not text:
            versions[str(name)] = "unavailable"
        else:
            versions[str(name)] = text[:500]
    return versions


def keep_session(workdir: Path, target: Path, *, skip: Path) -> None:
    """Masked copies of a session's files into ``target``, without ``skip`` (its saved state:
    the environment)."""
    shutil.rmtree(target, ignore_errors=True)
    for source in sorted(workdir.rglob("*")):
        if not source.is_file() or source == skip:
            continue
        copy = target / source.relative_to(workdir)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(mask(source.read_text(encoding="utf-8", errors="replace")))

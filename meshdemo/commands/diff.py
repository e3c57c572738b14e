"""``meshdemo diff``: what drifted between two recorded runs, step by step.

``meshdemo diff`` compares the last two kept runs; ``meshdemo diff OLD`` compares OLD with the
last one; ``meshdemo diff OLD NEW`` those two. A run is named by its id (or the start of it),
``docs`` (the captures the pages show) or ``git:REV`` (the captures committed at a revision,
e.g. ``git:HEAD`` in CI: the last verified run). ``--format markdown`` writes the report for
a CI job summary or a pull request body.

Exit status, like ``diff``: 0 nothing drifted, 1 something did, 2 bad input.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meshdemo.drift import DriftReport, StepDrift, Thresholds, compare_runs
from meshdemo.errors import MeshdemoError, display_path
from meshdemo.history import History, RecordedRun, resolve
from meshdemo.model import Project
from meshdemo.report import duration
from meshdemo.site.blocks import when

DIFF_DIR = "diff"  # under .meshdemo/: the side-by-side images of drifted screenshots
KEEP_DIFFS = 10  # folders of side-by-side images kept there, the newest


def _prune(folder: Path, keep: int = KEEP_DIFFS) -> None:
    """Only the newest comparisons' images stay: each diff of two new runs makes a folder."""
    if not folder.is_dir():
        return
    found = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in found[: max(0, len(found) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def _runs(
    project: Project, old: str | None, new: str | None, scratch: Path
) -> tuple[RecordedRun, RecordedRun]:
    if old is None:
        runs = History.of(project).runs()
        if len(runs) < 2:
            raise MeshdemoError(
                f"{'only one run' if runs else 'no run'} kept: a diff needs two (run the guide"
                " again, or name a run "
                "to compare with: docs, git:HEAD, an id)",
                project.run_dir / "history",
            )
        return runs[-2], runs[-1]
    return resolve(project, old, scratch / "old"), resolve(project, new, scratch / "new")


def _times(step: StepDrift) -> str:
    if step.old_duration is None or step.new_duration is None:
        return "—"
    return f"{duration(step.old_duration)} → {duration(step.new_duration)}"


def _what(step: StepDrift) -> str:
    parts = []
    for change in step.changes:
        if change == "status":
            parts.append(f"status {step.old_status} → {step.new_status}")
        elif change == "screenshot" and step.pixel_share is not None:
            parts.append(f"screenshot ({step.pixel_share:.1%} of pixels)")
        else:
            parts.append(str(change))
    return ", ".join(parts)


def _title(report: DriftReport) -> str:
    count = len(report.drifted)
    return (
        f"{count} of {len(report.steps)} steps drifted between the run of "
        f"{when(report.old.record.started_at)} ({report.old.label}) and the run of "
        f"{when(report.new.record.started_at)} ({report.new.label})"
    )


def print_text(console: Console, report: DriftReport) -> None:
    console.print(escape(_title(report)), highlight=False)
    table = Table(show_edge=False, pad_edge=False)
    for column in ("step", "page:line", "output", "status", "duration", "drift"):
        table.add_column(column, no_wrap=column != "drift")
    for step in report.steps:
        style = "bold red" if step.drifted else ""
        output = "changed" if "output" in step.changes else "same"
        if "screenshot" in step.changes:
            output = "changed (image)"
        status = step.new_status
        if step.old_status != step.new_status:
            status = f"{step.old_status} → {step.new_status}"
        table.add_row(
            escape(step.id),
            escape(step.location),
            output,
            escape(status),
            _times(step),
            escape(_what(step)) or "[green]no[/]",
            style=style,
        )
    console.print(table)
    for step in report.drifted:
        if step.output_diff:
            console.print(f"\n[bold]{escape(step.id)}[/] {escape(step.location)}: output")
            for line in step.output_diff:
                colour = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")
                text = escape(line)
                console.print(f"[{colour}]{text}[/]" if colour else text, highlight=False)
        if step.side_by_side is not None:
            console.print(
                f"\n[bold]{escape(step.id)}[/]: old | new | changes: "
                f"{escape(display_path(step.side_by_side))}",
                soft_wrap=True,
            )
    for label, ids in (("only in the old run", report.only_old), ("only in the new run",
                                                                 report.only_new)):  # fmt: skip
        if ids:
            console.print(f"[dim]{label}: {escape(', '.join(ids))}[/]")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: DriftReport) -> str:
    """The report for a job summary or a pull request body (GitHub-flavoured Markdown)."""
    drifted = report.drifted
    mark = "⚠️" if drifted else "✅"
    lines = [f"### {mark} Drift: {_cell(_title(report))}", ""]
    if drifted:
        lines += ["| Step | Page | What changed | Duration |", "|---|---|---|---|"]
        for step in drifted:
            lines.append(
                f"| `{step.id}` | {_cell(step.location)} | {_cell(_what(step))} | {_times(step)} |"
            )
        lines.append("")
        for step in drifted:
            if step.output_diff:
                lines += [
                    f"<details><summary><code>{step.id}</code>: output</summary>",
                    "",
                    "```diff",
                    *step.output_diff,
                    "```",
                    "",
                    "</details>",
                    "",
                ]
            if step.side_by_side is not None:
                shown = display_path(step.side_by_side)
                lines += [f"`{step.id}`: old, new and changes side by side in `{shown}`", ""]
    else:
        lines += ["Every step's normalised output, status, duration and screenshot as before.", ""]
    if report.only_old or report.only_new:
        lines.append(
            f"Not compared: {len(report.only_old)} steps only in the old run, "
            f"{len(report.only_new)} only in the new one."
        )
    return "\n".join(lines).rstrip() + "\n"


def main(args: argparse.Namespace) -> int:
    from meshdemo.guide.project import load_project

    project = load_project(args.config_file)
    thresholds = Thresholds(seconds=args.seconds, ratio=args.ratio, pixels=args.pixels)
    with tempfile.TemporaryDirectory(prefix="meshdemo-diff-") as scratch:
        old, new = _runs(project, args.old, args.new, Path(scratch))
        images = project.run_dir / DIFF_DIR / f"{old.run_id}..{new.run_id}"
        report = compare_runs(old, new, project, thresholds, images)
    _prune(images.parent)
    if args.format == "markdown":
        print(markdown(report), end="")
    else:
        print_text(Console(highlight=False), report)
    return 1 if report.drifted else 0

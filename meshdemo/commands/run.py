"""``meshdemo run``: run the guide's steps in one bash session, live, and capture them.

Exit status: 0 when every step passed (or was skipped), 1 when one failed (its page:line, id,
command and the tail of its output are printed, with how to resume or tear down), 2 when the run
could not start or go on for a reason outside the guide (bad input, another run of the project
in progress, captures that cannot be written, an I/O error mid-run: the message says which),
128+N after signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). Whatever ends the run, every process
it started is stopped first.

``--cleanup-stale`` only cleans up after a run that did not end cleanly (killed with SIGKILL,
or a machine that went down): its processes stopped, its scratch folder removed. Every command
does the same on its way anyway; this one does nothing else.
"""

from __future__ import annotations

import argparse
import signal
from dataclasses import replace
from pathlib import Path

from meshdemo.console import Printer, console_for_output, escape
from meshdemo.model import Step
from meshdemo.report import LiveReport, report_failure, run_and_summarise
from meshdemo.run.life import exit_status, reclaim
from meshdemo.run.options import from_arguments
from meshdemo.run.runner import Runner, RunResult, select_steps
from meshdemo.status import RunStatus


def dry_run(console: Printer, runner: Runner, steps: list[Step]) -> int:
    """What would run, one line a step (plain aligned text: greppable; commands: `list`).

    Each line: id, page:line, what the run would do, and the step's options as the page
    writes them (those left at their default are not shown).
    """
    from meshdemo.guide.options import describe

    console.print("Dry run: nothing is executed.")
    id_width = max(len(step.id) for step in steps)
    where_width = max(len(step.location) for step in steps)
    for step in steps:
        decided = runner.skip_reason(step)
        plan = decided[1] if decided else "run"
        if not decided and step.options.skip_if:
            plan = f"run unless `{step.options.skip_if}`"
        options = describe(step.options, step.kind)
        line = f"{step.id:<{id_width}}  {step.location:<{where_width}}  {plan}"
        line += f"  {options}" if options else ""
        console.print(escape(line), soft_wrap=True)
    return 0


def cleanup_stale(console: Printer, run_dir: Path) -> int:
    said = reclaim(run_dir, busy_ok=False)
    for line in said:
        console.print(f"[yellow]Cleaned up[/]: {escape(line)}")
    if not said:
        console.print("Nothing to clean up: no run of this project was left behind.")
    return 0


def report_end(console: Printer, result: RunResult) -> int | None:
    """What ``run`` and ``demo`` say when a run was stopped or broken off; its exit status
    (None when the run ran to its end, passed or failed)."""
    if result.status is RunStatus.INTERRUPTED:
        signum = result.signal or signal.SIGINT
        why = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        console.print(
            f"[bold magenta]Interrupted[/] ({why}): every process of the run was stopped."
        )
        return exit_status(signum)
    if result.status is RunStatus.ERROR:
        console.print(f"[bold red]Error[/]: {escape(result.error or 'the run broke off')}")
        console.print("Every process of the run was stopped; the steps after it were not run.")
        return 2
    return None


def main(args: argparse.Namespace) -> int:
    from meshdemo.guide.project import load_project

    console = console_for_output(highlight=False)
    if args.cleanup_stale:
        return cleanup_stale(console, Path(args.config_file).parent / ".meshdemo")
    project = load_project(args.config_file)
    steps = select_steps(project, from_id=args.from_id, to_id=args.to_id, only=args.only)
    if not steps:
        console.print("No steps to run.")
        return 0
    options = from_arguments(args)
    if args.dry_run:
        options = replace(options, capture=False)
    report = LiveReport(console)
    runner = Runner(project, options, on_event=report)
    if args.dry_run:
        return dry_run(console, runner, steps)
    result = run_and_summarise(console, runner, steps, report)
    if runner.resume and runner.session_restored:
        console.print(f"[dim]shell state restored from {escape(str(runner.state_file))}[/]")
    if not options.capture:
        console.print("[dim]--no-capture: nothing was written under docs/[/]")
    ended = report_end(console, result)
    if ended is not None:
        return ended
    if result.failed is not None:
        report_failure(console, project, result, args.config_file, options)
        return 1
    return 0

"""``meshdemo run``: run the guide's steps in one bash session, live, and capture them.

Exit status: 0 when every step passed (or was skipped), 1 when one failed (its page:line, id,
command and the tail of its output are printed, with how to resume or tear down), 2 for bad
input (nothing run), 130 after Ctrl-C (every process of the run stopped first).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from rich.console import Console
from rich.markup import escape

from meshdemo.model import Step
from meshdemo.report import LiveReport, report_failure, run_and_summarise
from meshdemo.run.options import from_arguments
from meshdemo.run.runner import Runner, select_steps
from meshdemo.status import RunStatus


def dry_run(console: Console, runner: Runner, steps: list[Step]) -> int:
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


def main(args: argparse.Namespace) -> int:
    from meshdemo.guide.pages import load_project

    console = Console(highlight=False)
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
    if result.status is RunStatus.INTERRUPTED:
        console.print("[bold magenta]Interrupted[/]: every process of the run was stopped.")
        return 130
    if result.failed is not None:
        report_failure(console, project, result, args.config_file, options)
        return 1
    return 0

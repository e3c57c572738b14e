"""``meshdemo run``: run the guide's steps in one bash session, live, and capture them.

Exit status: 0 when every step passed (or was skipped), 1 when one failed (its page:line, id,
command and the tail of its output are printed, with how to resume or tear down), 2 for bad
input (nothing run), 130 after Ctrl-C (every process of the run stopped first).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from meshdemo.model import Project, Step
from meshdemo.run.runner import Event, Runner, RunResult, StepResult, select_steps
from meshdemo.status import EventKind, RunStatus, StepStatus

STYLES = {
    StepStatus.PASSED: ("green", "✓"),
    StepStatus.SKIPPED: ("yellow", "-"),
    StepStatus.FAILED: ("bold red", "✗"),
    StepStatus.TIMED_OUT: ("bold red", "⏱"),
    StepStatus.SHELL_EXITED: ("bold red", "✗"),
    StepStatus.INTERRUPTED: ("bold magenta", "!"),
    StepStatus.NOT_RUN: ("dim", "·"),
}
TAIL_LINES = 20


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


class LiveReport:
    """A spinner with the running step and its elapsed time; a line per finished step."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task: int | None = None

    def __enter__(self) -> LiveReport:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        if event.kind == EventKind.STEP_START and event.step is not None:
            step = event.step
            self._drop()
            self.task = self.progress.add_task(
                f"[bold]{escape(step.id)}[/] [dim]{escape(step.location)}[/]", total=None
            )
        elif event.kind == EventKind.STEP_END and event.result is not None:
            self._drop()
            self.console.print(result_line(event.result), highlight=False)

    def _drop(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)  # type: ignore[arg-type]
            self.task = None


def result_line(result: StepResult) -> str:
    style, mark = STYLES.get(result.status, ("", "?"))
    step = result.step
    text = f"[{style}]{mark} {escape(step.id)}[/] [dim]{escape(step.location)}[/]"
    if result.status not in (StepStatus.SKIPPED, StepStatus.NOT_RUN):
        text += f" {_duration(result.duration)}"
    if result.attempts > 1:
        text += f" ({result.attempts} attempts)"
    if result.note:
        text += f" [dim]— {escape(result.note)}[/]"
    return text


def summary_table(result: RunResult) -> Table:
    table = Table(title=f"Run {result.run_id}: {result.status}", title_justify="left")
    for column in ("step", "page:line", "status", "duration", "attempts"):
        right = column in ("duration", "attempts")
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    for step_result in result.results:
        style, _ = STYLES.get(step_result.status, ("", "?"))
        ran = step_result.status not in (StepStatus.SKIPPED, StepStatus.NOT_RUN)
        table.add_row(
            step_result.step.id,
            step_result.step.location,
            f"[{style}]{step_result.status}[/]",
            _duration(step_result.duration) if ran else "",
            str(step_result.attempts) if ran else "",
        )
    return table


def rerun_command(args: argparse.Namespace, *extra: str, command: str = "run") -> str:
    """The ``meshdemo COMMAND`` line that repeats this invocation's target with ``extra``."""
    words = ["meshdemo", command]
    if args.config_file != "mkdocs.yml":
        words += ["-f", args.config_file]
    if args.kubeconfig:
        words += ["--kubeconfig", args.kubeconfig, "--context", args.context or ""]
    return shlex.join([*words, *extra])


def teardown_command(project: Project, args: argparse.Namespace) -> str | None:
    """``meshdemo run`` of just the pages holding teardown steps, or None when there are none."""
    pages = list(dict.fromkeys(s.page for s in project.steps if s.options.teardown))
    if not pages:
        return None
    only = [word for page in pages for word in ("--only", page)]
    return rerun_command(args, *only, "--cleanup", "always")


def report_failure(
    console: Console,
    project: Project,
    result: RunResult,
    args: argparse.Namespace,
    *,
    command: str = "run",
) -> None:
    """Where the run broke (page:line, id, command, output tail) and how to go on from there."""
    failed = result.failed
    if failed is None:
        return
    step = failed.step
    console.print()
    console.print(
        f"[bold red]{escape(step.location)}[/]: step [bold]{escape(step.id)}[/] "
        f"{escape(failed.status)}" + (f" — {escape(failed.note)}" if failed.note else ""),
        highlight=False,
    )
    console.print("[bold]command:[/]")
    for line in step.command.rstrip("\n").splitlines():
        console.print(f"  {escape(line)}", highlight=False)
    tail = failed.tail(TAIL_LINES)
    if tail:
        console.print(f"[bold]last {TAIL_LINES} lines of output:[/]")
        for line in tail.splitlines():
            console.print(f"  {escape(line)}", highlight=False, markup=True)
    else:
        console.print("[dim](no output)[/]")
    console.print()
    resume = rerun_command(args, "--from", step.id, command=command)
    console.print(f"Fix it, then resume with:  [bold]{escape(resume)}[/]")
    teardown = teardown_command(project, args)
    if teardown:
        console.print(f"Or tear everything down:    [bold]{escape(teardown)}[/]")


def dry_run(console: Console, runner: Runner, steps: list[Step]) -> int:
    """What would run, one line a step (plain aligned text: greppable; commands: `list`)."""
    console.print("Dry run: nothing is executed.")
    id_width = max(len(step.id) for step in steps)
    where_width = max(len(step.location) for step in steps)
    for step in steps:
        decided = runner.skip_reason(step)
        plan = decided[1] if decided else "run"
        if not decided and step.options.skip_if:
            plan = f"run unless `{step.options.skip_if}`"
        line = f"{step.id:<{id_width}}  {step.location:<{where_width}}  {plan}"
        console.print(escape(line), soft_wrap=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_and_summarise(
    console: Console, runner: Runner, steps: list[Step], report: LiveReport
) -> RunResult:
    """Run the steps with live progress, then print the summary table and the tool versions.

    Shared by ``meshdemo run`` and ``meshdemo demo`` so both stop, report and clean up alike.
    """
    # a stop request (CI cancelling a job) ends the run as Ctrl-C does: every process stopped
    signal.signal(signal.SIGTERM, _interrupt)
    begin = time.monotonic()
    target = "an existing cluster" if runner.existing_cluster else "the run's own cluster"
    console.print(
        f"Running {len(steps)} steps of {escape(str(runner.project.config_file))} against "
        f"{target} (KUBECONFIG={escape(str(runner.kubeconfig))})"
    )
    with report:
        result = runner.run(steps)
    console.print()
    console.print(summary_table(result))
    console.print(f"{result.status} in {_duration(time.monotonic() - begin)}")
    versions = result.record.tool_versions if result.record else {}
    if versions:
        shown = ", ".join(f"{name}: {text.splitlines()[0]}" for name, text in versions.items())
        console.print(f"[dim]tools: {escape(shown)}[/]")
    return result


def main(args: argparse.Namespace) -> int:
    from meshdemo.guide.pages import load_project

    console = Console(highlight=False)
    project = load_project(args.config_file)
    steps = select_steps(project, from_id=args.from_id, to_id=args.to_id, only=args.only)
    if not steps:
        console.print("No steps to run.")
        return 0
    capture = not args.no_capture and not args.dry_run
    report = LiveReport(console)
    runner = Runner(
        project,
        kubeconfig=args.kubeconfig,
        context=args.context,
        cleanup=args.cleanup,
        capture=capture,
        on_event=report,
        # resuming: start from the shell state the last run ended with (its exports, PATH, cd)
        resume=args.from_id is not None,
    )
    if args.dry_run:
        return dry_run(console, runner, steps)
    result = run_and_summarise(console, runner, steps, report)
    if runner.resume and runner.session_restored:
        console.print(f"[dim]shell state restored from {escape(str(runner.state_file))}[/]")
    if not capture:
        console.print("[dim]--no-capture: nothing was written under docs/[/]")
    if result.status is RunStatus.INTERRUPTED:
        console.print("[bold magenta]Interrupted[/]: every process of the run was stopped.")
        return 130
    if result.failed is not None:
        report_failure(console, project, result, args)
        return 1
    return 0

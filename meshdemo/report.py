"""How a run is reported to people: live progress, the summary, the failure and what to do next.

One module for every face: ``meshdemo run`` and ``meshdemo demo`` print through a rich
``Console`` on a terminal, and plain lines elsewhere (:mod:`meshdemo.console`: rich is
imported only for a terminal); the pytest plugin's failure report uses the same plain lines,
and under GitHub Actions the plugin also annotates a failing step at its page and line and
writes the table of steps into the job summary.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from meshdemo.console import PlainConsole, Printer, escape
from meshdemo.model import Project, Step
from meshdemo.run.life import stop_signals
from meshdemo.run.options import RunOptions
from meshdemo.run.runner import Event, Runner, RunResult, StepResult
from meshdemo.status import EventKind, StepStatus

if TYPE_CHECKING:
    from rich.table import Table

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
_COLOUR = re.compile(r"\x1b\[[0-9;:]*m")  # SGR: colours and weights, harmless to drop
# every other control character (escape sequences start with ESC or a C1 control), tab kept
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def for_terminal(text: str) -> str:
    """Text a step printed, made safe to show on the user's terminal: colours dropped, every
    other control character shown as an escape (``\\x1b[2J``) instead of acting (clearing the
    screen, moving the cursor, retitling the window)."""
    text = _COLOUR.sub("", text)
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def duration(seconds: float) -> str:
    """A step's or a run's time, as people read it."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


class LiveReport:
    """On a terminal: a spinner with the running step and its elapsed time, a line per finished
    step. Elsewhere (a pipe, a CI log): one plain line per finished step, written directly
    (no live display, no markup to render: a step costs microseconds, not a redraw)."""

    def __init__(self, console: Printer):
        self.console = console
        self.live = console.is_terminal
        self.progress = None
        if self.live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,  # type: ignore[arg-type]
                transient=True,
            )
        self.task: int | None = None

    def __enter__(self) -> LiveReport:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, event: Event) -> None:
        if event.kind == EventKind.STEP_END and event.result is not None:
            if self.live:
                self._drop()
                self.console.print(result_line(event.result), highlight=False)
            else:
                self.console.file.write(plain_result_line(event.result) + "\n")
        elif self.progress and event.kind == EventKind.STEP_START and event.step is not None:
            step = event.step
            self._drop()
            self.task = self.progress.add_task(
                f"[bold]{escape(step.id)}[/] [dim]{escape(step.location)}[/]", total=None
            )

    def _drop(self) -> None:
        if self.task is not None and self.progress is not None:
            self.progress.remove_task(self.task)  # type: ignore[arg-type]
            self.task = None


def _result_parts(result: StepResult) -> tuple[str, str, str]:
    """(mark, what follows the location, note) of a finished step's line."""
    _, mark = STYLES.get(result.status, ("", "?"))
    after = ""
    if result.status not in (StepStatus.SKIPPED, StepStatus.NOT_RUN):
        after += f" {duration(result.duration)}"
    if result.attempts > 1:
        after += f" ({result.attempts} attempts)"
    return mark, after, for_terminal(result.note) if result.note else ""


def result_line(result: StepResult) -> str:
    """A finished step as rich markup (the terminal)."""
    style, _ = STYLES.get(result.status, ("", "?"))
    mark, after, note = _result_parts(result)
    step = result.step
    text = f"[{style}]{mark} {escape(step.id)}[/] [dim]{escape(step.location)}[/]{after}"
    return text + (f" [dim]— {escape(note)}[/]" if note else "")


def plain_result_line(result: StepResult) -> str:
    """A finished step as plain text (a pipe, a log)."""
    mark, after, note = _result_parts(result)
    step = result.step
    return f"{mark} {step.id} {step.location}{after}" + (f" — {note}" if note else "")


SUMMARY_ROWS = 12  # a run of more steps is summarised: what did not pass, then the slowest
SLOWEST = 5


def summary_rows(results: Sequence[StepResult]) -> tuple[list[StepResult], str | None]:
    """The rows of the summary table, and a line on what they leave out (None: all shown).

    Short runs show every step; long ones the steps that did not pass, then the slowest
    that did, in run order: a table of a few rows, never one of hundreds.
    """
    if len(results) <= SUMMARY_ROWS:
        return list(results), None
    quiet = (StepStatus.PASSED, StepStatus.SKIPPED, StepStatus.NOT_RUN)
    loud = [r for r in results if r.status not in quiet]
    passed = [r for r in results if r.status == StepStatus.PASSED]
    slowest = sorted(passed, key=lambda r: r.duration, reverse=True)[:SLOWEST]
    shown = {id(r) for r in [*loud, *slowest]}
    rows = [r for r in results if id(r) in shown]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    said = ", ".join(f"{n} {status}" for status, n in counts.items())
    return rows, f"{len(results)} steps: {said}; shown: the {len(slowest)} slowest" + (
        " and every step that did not pass" if loud else ""
    )


SUMMARY_COLUMNS = ("step", "page:line", "status", "duration", "attempts")


def _summary_cells(result: StepResult) -> list[str]:
    ran = result.status not in (StepStatus.SKIPPED, StepStatus.NOT_RUN)
    return [
        result.step.id,
        result.step.location,
        str(result.status),
        duration(result.duration) if ran else "",
        str(result.attempts) if ran else "",
    ]


def summary_table(result: RunResult) -> Table:
    from rich.table import Table

    rows, left_out = summary_rows(result.results)
    table = Table(
        title=f"Run {result.run_id}: {result.status}",
        title_justify="left",
        caption=left_out,
        caption_justify="left",
    )
    for column in SUMMARY_COLUMNS:
        right = column in ("duration", "attempts")
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    for step_result in rows:
        style, _ = STYLES.get(step_result.status, ("", "?"))
        cells = _summary_cells(step_result)
        cells[2] = f"[{style}]{cells[2]}[/]"
        table.add_row(*cells)
    return table


def summary_lines(result: RunResult) -> list[str]:
    """The summary as plain aligned columns (a pipe, a log): the rows of the table."""
    rows, left_out = summary_rows(result.results)
    cells = [list(SUMMARY_COLUMNS), *(_summary_cells(r) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(SUMMARY_COLUMNS))]
    right = {3, 4}
    lines = [f"Run {result.run_id}: {result.status}"]
    for row in cells:
        aligned = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(aligned).rstrip())
    return lines + ([left_out] if left_out else [])


def print_summary(console: Printer, result: RunResult) -> None:
    """The summary: a table on a terminal, plain aligned lines elsewhere."""
    if isinstance(console, PlainConsole):
        console.file.write("\n".join(summary_lines(result)) + "\n")
    else:
        console.print(summary_table(result))


def program() -> list[str]:
    """How the user called meshdemo, as words to paste: ``meshdemo`` when that is what PATH
    finds, else the path they used (``.venv/bin/meshdemo``) or ``python -m meshdemo``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "meshdemo"
    if Path(argv0).name in ("__main__.py", "-m", "-c"):
        return [_near(sys.executable), "-m", "meshdemo"]
    found = shutil.which("meshdemo")
    if found and Path(found).resolve() == Path(argv0).resolve():
        return ["meshdemo"]
    return [_near(argv0)]


def _near(path: str) -> str:
    """``path`` relative to the current folder when it is inside it (short, still pasteable)."""
    try:
        relative = Path(path).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path
    return relative.as_posix() if "/" in relative.as_posix() else f"./{relative}"


def rerun_command(
    config_file: str | Path, options: RunOptions, *extra: str, command: str = "run"
) -> str:
    """The ``meshdemo COMMAND`` line that repeats a run's target with ``extra``, as the user
    can paste it (see :func:`program`)."""
    words = [*program(), command]
    if str(config_file) != "mkdocs.yml":
        words += ["-f", str(config_file)]
    if options.kubeconfig:
        words += ["--kubeconfig", options.kubeconfig, "--context", options.context or ""]
    return shlex.join([*words, *extra])


def teardown_command(project: Project, config_file: str | Path, options: RunOptions) -> str | None:
    """``meshdemo run`` of just the pages holding teardown steps, or None when there are none."""
    pages = list(dict.fromkeys(s.page for s in project.steps if s.options.teardown))
    if not pages:
        return None
    only = [word for page in pages for word in ("--only", page)]
    return rerun_command(config_file, options, *only, "--cleanup", "always")


def failure_lines(failed: StepResult, tail_lines: int = TAIL_LINES) -> list[str]:
    """Where a step broke, as plain lines: page:line, id, status, command, output tail (what
    the step printed, safe for a terminal: see :func:`for_terminal`)."""
    step = failed.step
    lines = [
        f"{step.location}: step {step.id} {failed.status}"
        + (f" — {failed.note}" if failed.note else ""),
        "command:",
        *(f"    {line}" for line in step.command.rstrip("\n").splitlines()),
    ]
    tail = failed.tail(tail_lines)
    lines.append(f"last {tail_lines} lines of output:" if tail else "(no output)")
    lines.extend(f"    {line}" for line in tail.splitlines())
    return [for_terminal(line) for line in lines]


def report_failure(
    console: Printer,
    project: Project,
    result: RunResult,
    config_file: str | Path,
    options: RunOptions,
    *,
    command: str = "run",
) -> None:
    """Where the run broke (page:line, id, command, output tail) and how to go on from there."""
    failed = result.failed
    if failed is None:
        return
    head, *rest = failure_lines(failed)
    console.print()
    location, _, what = head.partition(": ")
    console.print(f"[bold red]{escape(location)}[/]: {escape(what)}", highlight=False)
    for line in rest:
        bold = not line.startswith(" ")
        console.print(f"[bold]{escape(line)}[/]" if bold else escape(line), highlight=False)
    console.print()
    resume = rerun_command(config_file, options, "--from", failed.step.id, command=command)
    # soft_wrap: a command is never broken across lines, so a copy of it pastes whole
    console.print(f"Fix it, then resume with:  [bold]{escape(resume)}[/]", soft_wrap=True)
    teardown = teardown_command(project, config_file, options)
    if teardown and cluster_may_exist(project, result, options):
        console.print(f"Or tear everything down:    [bold]{escape(teardown)}[/]", soft_wrap=True)


def cluster_may_exist(project: Project, result: RunResult, options: RunOptions) -> bool:
    """Could there be a cluster of the run's own to tear down? Not when the run targets an
    existing cluster (not ours to destroy), nor when every step that creates one was in this
    run and none of them ran or found one already there (``skip-if``)."""
    if options.existing_cluster:
        return False
    creating = [step for step in project.steps if step.options.provision]
    if not creating:
        return True  # the guide does not say which step creates it: assume one may exist
    by_id = {r.step.id: r for r in result.results}
    for step in creating:
        found = by_id.get(step.id)
        if found is None or StepStatus(found.status).ran:
            return True  # created by an earlier run, or by this one (even if it failed)
        if found.status == StepStatus.SKIPPED and "skip-if" in (found.note or ""):
            return True  # skipped because the cluster is already there
    return False


def run_and_summarise(
    console: Printer, runner: Runner, steps: list[Step], report: LiveReport
) -> RunResult:
    """Run the steps with live progress, then print the summary table and the tool versions.

    Shared by ``meshdemo run`` and ``meshdemo demo`` so both stop, report and clean up alike:
    SIGINT, SIGTERM (a CI cancel) and SIGHUP (a closed terminal) stop the run, every process
    stopped first (:mod:`meshdemo.run.life`). Another run of the project in progress is refused
    (RunBusy) before anything is printed; what a dead run left is cleaned up, and said.
    """
    for said in runner.ownership.acquire().reclaimed:
        console.print(f"[yellow]Cleaned up[/]: {escape(said)}")
    begin = time.monotonic()
    target = "an existing cluster" if runner.existing_cluster else "the run's own cluster"
    console.print(
        f"Running {len(steps)} steps of {escape(str(runner.project.config_file))} against "
        f"{target} (KUBECONFIG={escape(str(runner.kubeconfig))})"
    )
    with stop_signals(), report:
        result = runner.run(steps)
    console.print()
    print_summary(console, result)
    console.print(f"{result.status} in {duration(time.monotonic() - begin)}")
    versions = result.record.tool_versions if result.record else {}
    if versions:
        shown = ", ".join(f"{name}: {text.splitlines()[0]}" for name, text in versions.items())
        console.print(f"[dim]tools: {escape(shown)}[/]")
    return result


# ---- GitHub Actions ----------------------------------------------------------------------------
# Workflow commands printed on stdout become annotations: `::error file=F,line=N,title=T::M`
# shows M at line N of F in the pull request's diff and the run's page. The job summary is
# Markdown appended to the file named by $GITHUB_STEP_SUMMARY.

GITHUB_MARKS = {
    StepStatus.PASSED: "✅",
    StepStatus.SKIPPED: "⏭️",
    StepStatus.FAILED: "❌",
    StepStatus.TIMED_OUT: "⏱️",
    StepStatus.SHELL_EXITED: "❌",
    StepStatus.INTERRUPTED: "⚠️",
    StepStatus.NOT_RUN: "·",
}
ANNOTATION_TAIL_LINES = 10


def on_github_actions(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def _command_message(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit escapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _command_property(text: str) -> str:
    return _command_message(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(failed: StepResult, workspace: Path) -> str:
    """The ``::error`` workflow command that shows a failed step at its fence.

    ``workspace``: the checkout ($GITHUB_WORKSPACE) the file path is made relative to, as
    GitHub wants it.
    """
    step = failed.step
    source = Path(step.source) if step.source else Path(step.page)
    try:
        path = source.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        path = source.as_posix()
    title = f"step {step.id} {failed.status}" + (f": {failed.note}" if failed.note else "")
    # the title says what the first line would: page:line is where the annotation stands
    message = "\n".join(failure_lines(failed, ANNOTATION_TAIL_LINES)[1:])
    return (
        f"::error file={_command_property(path)},line={step.line},"
        f"title={_command_property(title)}::{_command_message(message)}"
    )


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, no column breaks."""
    return " ".join(text.split()).replace("|", "\\|")


def github_summary(results: Sequence[StepResult], title: str) -> str:
    """The job summary: the verdict, a row per step (status, duration, attempts), and where the
    first failure broke with its output's tail."""
    failed = next((r for r in results if StepStatus(r.status).failed), None)
    interrupted = any(r.status == StepStatus.INTERRUPTED for r in results)
    if failed is not None:
        verdict = f"failed at `{failed.step.id}` ({failed.step.location})"
    elif interrupted:
        verdict = "interrupted"
    else:
        verdict = "passed"
    total = sum(r.duration for r in results if StepStatus(r.status).ran)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    lines = [
        f"### {_cell(title)}: {verdict}",
        "",
        "| | step | page:line | status | duration | attempts |",
        "| --- | --- | --- | --- | ---: | ---: |",
    ]
    rows, left_out = summary_rows(results)
    said = None  # a note said on the row before (the same "not run: X failed" on every row)
    for result in rows:
        status = StepStatus(result.status)
        text = result.note or ""
        if status is StepStatus.NOT_RUN:
            text = text.removeprefix("not run: ")
            text, said = ("" if text == said else text), text
        else:
            said = None
        note = f" — {text}" if text else ""
        lines.append(
            f"| {GITHUB_MARKS.get(status, '?')} | `{_cell(result.step.id)}` "
            f"| {_cell(result.step.location)} | {_cell(status + note)} "
            f"| {duration(result.duration) if status.ran else ''} "
            f"| {result.attempts if status.ran else ''} |"
        )
    if left_out:
        lines += ["", _cell(left_out)]
    lines += ["", ", ".join(f"{n} {s}" for s, n in counts.items()) + f" in {duration(total)}"]
    if failed is not None:
        lines += [
            "",
            f"<details open><summary>{_cell(failed.step.location)}: "
            f"step {_cell(failed.step.id)} {failed.status}</summary>",
            "",
            "```text",
            *failure_lines(failed)[1:],
            "```",
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"

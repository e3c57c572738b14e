"""``meshdemo replay``: play a recorded run in the terminal, step by step, running nothing.

Each step: a replay marker, the command typed out, a pause as long as the step took (scaled
by ``--speed``; ``--step`` waits for Enter instead), then its captured output, in colour.
Steps the run never captured are shown as such. While it plays, a served site follows (see
:class:`meshdemo.replay.ReplayProgress`).

Exit status: 0 when the replay ended, 2 for bad input (no run, unknown step), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import IO

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from meshdemo.history import RecordedRun, resolve
from meshdemo.model import Project
from meshdemo.replay import ReplayProgress, ReplayStep, plan, scaled
from meshdemo.report import STYLES, duration
from meshdemo.site.blocks import when

TYPING = 0.02  # seconds a character, at speed 1
MAX_TYPING = 1.5  # seconds for a whole command, however long
MARK = "[bold reverse magenta] REPLAY [/]"
# (first line, continuation lines) of a command as typed, by step kind
PROMPTS = {"bash": ("$ ", "> "), "python": (">>> ", "... "), "screenshot": ("📷 ", "   ")}


def header(run: RecordedRun, steps: list[ReplayStep]) -> Panel:
    record = run.record
    source = "" if run.label == record.run_id else f", as kept in {escape(run.label)}"
    lines = [
        f"[bold]Replay of the run {escape(record.run_id)}[/], recorded {when(record.started_at)}"
        f" ({escape(str(record.status or 'unfinished'))}){source}",
        f"{len(steps)} of its {len(record.steps)} steps. Nothing is executed: every output "
        "below is what that run printed.",
    ]
    if record.tool_versions:
        shown = ", ".join(
            f"{name} {next(iter(str(text).splitlines()), '?')}"
            for name, text in record.tool_versions.items()
        )
        lines.append(f"[dim]versions: {escape(shown)}[/]")
    return Panel("\n".join(lines), title=MARK, title_align="left", border_style="magenta")


class Player:
    """Shows ``steps`` on ``console`` at ``speed``, or one per Enter read from ``keys``."""

    def __init__(
        self,
        console: Console,
        *,
        speed: float = 1.0,
        step_mode: bool = False,
        keys: IO[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str | None, str | None], None] | None = None,
    ):
        self.console = console
        self.speed = speed
        self.step_mode = step_mode
        self.keys = keys if keys is not None else sys.stdin
        self.sleep = sleep
        self.progress = progress or (lambda current, played: None)

    def play(self, steps: list[ReplayStep]) -> bool:
        """True when every step was shown; False when the presenter quit (``q`` or EOF)."""
        for number, step in enumerate(steps, 1):
            self.progress(step.id, None)
            if not self.show(step, f"{number}/{len(steps)}"):
                return False
            self.progress(None, step.id)
        return True

    def show(self, step: ReplayStep, position: str) -> bool:
        console = self.console
        console.print()
        console.print(
            f"{MARK} [bold]{position}[/] {escape(step.id)} [dim]{escape(step.location)}[/]",
            highlight=False,
        )
        if step.capture is None:
            self._not_captured(step)
            return True
        if not self.step_mode:
            self.sleep(scaled(step.gap, self.speed))
        self._type(step.command, PROMPTS.get(step.capture.kind, PROMPTS["bash"]))
        if self.step_mode:
            if not self._wait_for_enter():
                return False
        else:
            self._wait(step)
        output = step.capture.output
        if output.strip():
            console.print(Text.from_ansi(output.rstrip("\n")), highlight=False, soft_wrap=True)
        console.print(self._result(step), highlight=False)
        return True

    def _not_captured(self, step: ReplayStep) -> None:
        style, mark = STYLES.get(step.status, ("dim", "·"))
        why = f" — {escape(step.note)}" if step.note else ""
        for line in step.command.rstrip("\n").split("\n") if step.command else []:
            self.console.print(Text(f"  {line}", style="dim"), soft_wrap=True)
        self.console.print(
            f"[{style}]{mark} {step.status}[/]: not captured in that run{why}", highlight=False
        )

    def _type(self, command: str, prompts: tuple[str, str]) -> None:
        """The command as a terminal shows it typed: a prompt, continuation lines after PS2."""
        first, more = prompts
        lines = command.rstrip("\n").split("\n")
        delay = scaled(min(TYPING, MAX_TYPING / max(1, len(command))), self.speed)
        for number, line in enumerate(lines):
            prompt = Text(first if number == 0 else more, style="bold green")
            if delay <= 0:
                self.console.print(prompt + Text(line), highlight=False, soft_wrap=True)
                continue
            self.console.print(prompt, end="", highlight=False)
            for char in line:
                self.console.print(char, end="", markup=False, highlight=False, soft_wrap=True)
                self.sleep(delay)
            self.console.print()

    def _wait_for_enter(self) -> bool:
        self.console.print("[dim]  Enter: show its output · q Enter: stop[/]", end="")
        self.console.file.flush()
        line = self.keys.readline()
        self.console.print()
        return bool(line) and line.strip().lower() != "q"

    def _wait(self, step: ReplayStep) -> None:
        pause = scaled(step.duration, self.speed)
        if pause <= 0:
            return
        if not self.console.is_terminal:
            self.sleep(pause)
            return
        with self.console.status(f"[dim]replaying: ran {duration(step.duration)}[/]"):
            self.sleep(pause)

    def _result(self, step: ReplayStep) -> str:
        capture = step.capture
        assert capture is not None
        status = step.status
        style, mark = STYLES.get(status, ("", "?"))
        exit_text = f", exit {capture.exit_status}" if capture.exit_status is not None else ""
        note = f" — {escape(capture.note)}" if capture.note else ""
        return (
            f"[{style}]{mark} {status}[/] in {duration(capture.duration)}{exit_text}"
            f" [dim](recorded {when(capture.started_at)}){note}[/]"
        )


def _run_to_replay(project: Project, reference: str | None) -> RecordedRun:
    """The run asked for; by default the last kept one, else the captures the pages show."""
    from meshdemo.errors import MeshdemoError

    if reference is not None:
        return resolve(project, reference)
    try:
        return resolve(project, None)
    except MeshdemoError:
        return resolve(project, "docs")


def main(args: argparse.Namespace) -> int:
    from meshdemo.guide.project import load_project

    project = load_project(args.config_file)
    run = _run_to_replay(project, args.run)
    steps = plan(run, project, from_id=args.from_id, to_id=args.to_id, only=args.only)
    console = Console(highlight=False)
    console.print(header(run, steps))
    progress = ReplayProgress(
        run_id=run.run_id,
        run_root=str(run.root.resolve()),
        run_started_at=run.record.started_at,
        steps=[step.id for step in steps],
    )

    def follow(current: str | None, played: str | None) -> None:
        progress.current = current
        if played is not None:
            progress.played.append(played)
        progress.write(project.run_dir)

    player = Player(console, speed=args.speed, step_mode=args.step, progress=follow)
    try:
        follow(None, None)
        finished = player.play(steps)
    except KeyboardInterrupt:
        console.print()
        console.print(f"{MARK} stopped (Ctrl-C)")
        return 130
    finally:
        ReplayProgress.clear(project.run_dir)
    console.print()
    if finished:
        console.print(f"{MARK} end of the replay of {escape(run.run_id)}: nothing was executed.")
    else:
        console.print(f"{MARK} stopped.")
    return 0

"""Per-step overhead of running trivial steps three ways, in one run, as a table.

* meshdemo's BashSession: one long-lived bash, a step file + ``source`` + a marker line each,
  with its scratch files in memory (/dev/shm, as runs do) and on the project's disk, sent one
  at a time and in batches (``BashSession.queue``, as a run sends short steps);
* the whole engine: ``Runner.execute`` a step at a time, and ``Runner.run`` (batches), from
  the first step's start to the last step's end;
* ``bash -c`` per step: a fresh process per step (what a naive runner does; no shared state),
  through subprocess.run and through the sh package;
* prysk: a ``.t`` file with the same commands, run by the prysk CLI (one shell for the file).

Usage: ``.venv/bin/python benchmarks/step_overhead.py [STEPS]`` (default 300). The step is
``x=$((x+1))`` (a builtin: the figure is pure overhead); the session's count is checked at the
end, so the steps really ran, in one shell.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sh
from rich.console import Console
from rich.table import Table

from meshdemo.model import Kind, Page, Project, Step
from meshdemo.run.options import RunOptions
from meshdemo.run.runner import Event, Runner
from meshdemo.run.session import BashSession, scratch_dir
from meshdemo.status import EventKind

STEP = "x=$((x+1))"


def bench_session(steps: int, workdir: Path, scratch: Path | None = None) -> float:
    with BashSession(scratch or workdir / "session", cwd=workdir) as session:
        session.run("x=0")
        begin = time.perf_counter()
        for _ in range(steps):
            result = session.run(STEP, timeout=10)
            assert result.status == 0
        elapsed = time.perf_counter() - begin
        assert session.run('echo "$x"').output.strip() == str(steps)
    return elapsed


def bench_session_batches(steps: int, workdir: Path, batch: int = 32) -> float:
    scratch = scratch_dir("meshdemo-bench-")
    try:
        with BashSession(scratch or workdir / "session", cwd=workdir) as session:
            session.run("x=0")
            begin = time.perf_counter()
            for first in range(0, steps, batch):
                names = [f"s{n}" for n in range(first, min(steps, first + batch))]
                session.queue([(STEP, name, True) for name in names])
                for name in names:
                    assert session.run(STEP, name=name, timeout=10).status == 0
            elapsed = time.perf_counter() - begin
            assert session.run('echo "$x"').output.strip() == str(steps)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return elapsed


def bench_session_in_memory(steps: int, workdir: Path) -> float:
    scratch = scratch_dir("meshdemo-bench-")
    if scratch is None:
        return float("nan")
    try:
        return bench_session(steps, workdir, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _project(steps: int, workdir: Path) -> tuple[Project, list[Step]]:
    project_root = workdir / "project"
    (project_root / "docs").mkdir(parents=True, exist_ok=True)
    plan = [
        Step(id=f"s{n}", kind=Kind.BASH, page="bench.md", line=n, command=STEP)
        for n in range(steps)
    ]
    project = Project(
        config_file=project_root / "mkdocs.yml",
        root=project_root,
        docs_dir=project_root / "docs",
        pages=(Page("bench.md", project_root / "docs" / "bench.md", None, "", tuple(plan)),),
    )
    return project, plan


def bench_runner(steps: int, workdir: Path) -> float:
    """The whole engine per step: options, masking, judging (captures off: no docs/ writes)."""
    project, plan = _project(steps, workdir)
    runner = Runner(project, RunOptions(capture=False))
    with runner:
        begin = time.perf_counter()
        for step in plan:
            assert runner.execute(step).status == "passed"
        elapsed = time.perf_counter() - begin
    return elapsed


def bench_runner_run(steps: int, workdir: Path) -> float:
    """The same through ``Runner.run``, which sends short steps in batches: from the first
    step's start to the last step's end (the run's own start and end left out)."""
    project, plan = _project(steps, workdir)
    marks: list[float] = []

    def on_event(event: Event) -> None:
        if event.kind in (EventKind.STEP_START, EventKind.STEP_END):
            marks.append(time.perf_counter())

    result = Runner(project, RunOptions(capture=False), on_event=on_event).run(plan)
    assert result.status == "passed" and len(marks) == 2 * steps
    return marks[-1] - marks[0]


def bench_popen(steps: int, workdir: Path) -> float:
    begin = time.perf_counter()
    for _ in range(steps):
        subprocess.run(["bash", "--noprofile", "--norc", "-c", STEP], cwd=workdir, check=True)
    return time.perf_counter() - begin


def bench_bash_c(steps: int, workdir: Path) -> float:
    bash = sh.Command("bash")
    begin = time.perf_counter()
    for _ in range(steps):
        bash("--noprofile", "--norc", "-c", STEP, _cwd=str(workdir))
    return time.perf_counter() - begin


def bench_prysk(steps: int, workdir: Path) -> float:
    test = workdir / "steps.t"
    lines = ["  $ x=0"]
    lines += [f"  $ {STEP}" for _ in range(steps)]
    lines += ['  $ echo "$x"', f"  {steps}"]
    test.write_text("\n".join(lines) + "\n")
    prysk = sh.Command(str(Path(sys.executable).with_name("prysk")))
    begin = time.perf_counter()
    prysk("--shell=/bin/bash", str(test), _cwd=str(workdir))  # raises unless the test passes
    return time.perf_counter() - begin


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    table = Table(title=f"{steps} trivial steps (`{STEP}`)", title_justify="left")
    for column in ("runner", "total", "per step"):
        table.add_column(column, justify="left" if column == "runner" else "right")
    with tempfile.TemporaryDirectory(prefix="meshdemo-bench-", dir=Path.cwd()) as tmp:
        workdir = Path(tmp)
        for name, bench in (
            ("BashSession, step files in /dev/shm (what runs use)", bench_session_in_memory),
            ("BashSession, step files on disk (project/.meshdemo)", bench_session),
            ("BashSession, in /dev/shm, batches of 32 (BashSession.queue)", bench_session_batches),
            ("Runner.execute, a step at a time (whole engine, captures off)", bench_runner),
            ("Runner.run, short steps in batches (whole engine, captures off)", bench_runner_run),
            ("bash -c per step (subprocess.run)", bench_popen),
            ("bash -c per step (sh package)", bench_bash_c),
            ("prysk (one .t file)", bench_prysk),
        ):
            elapsed = bench(steps, workdir)
            table.add_row(name, f"{elapsed * 1000:.0f} ms", f"{elapsed / steps * 1000:.3f} ms")
    Console().print(table)


if __name__ == "__main__":
    main()

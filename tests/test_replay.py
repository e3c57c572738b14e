"""``meshdemo replay`` of real runs of the runnable fixture: everything shown, nothing run."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from meshdemo.captures import Capture, RunRecord
from meshdemo.commands.replay import Player
from meshdemo.errors import MeshdemoError
from meshdemo.guide.pages import load_project
from meshdemo.history import History, read_run
from meshdemo.replay import MAX_GAP, ReplayProgress, ReplayView, plan
from meshdemo.run.processes import processes
from meshdemo.status import StepStatus

FIXTURE = Path(__file__).parent / "fixtures" / "runnable"
# every program the fixture's commands name, and what a replay must never reach for
TRIPWIRES = ("bash", "sh", "echo", "ls", "grep", "mkdir", "rm", "test", "python3", "docker",
             "kubectl", "kind", "linkerd", "git")  # fmt: skip


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    target = tmp_path / "guide"
    shutil.copytree(FIXTURE, target)
    return target


def meshdemo(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshdemo", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def tripwired(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose PATH holds only programs that record being started."""
    folder, record = tmp_path / "tripwires", tmp_path / "started.txt"
    folder.mkdir()
    for name in TRIPWIRES:
        program = folder / name
        program.write_text(f"#!/bin/sh\necho {name} >> {record}\nexit 0\n")
        program.chmod(0o755)
    return {"PATH": str(folder)}, record


def test_speed_0_prints_every_command_and_output_in_order_and_runs_nothing(
    guide: Path, tmp_path: Path
) -> None:
    run = meshdemo(guide, "run", env={"FAIL_AT_MAYBE": "1"})
    assert run.returncode == 1, run.stdout + run.stderr
    env, started = tripwired(tmp_path)
    done = meshdemo(guide, "replay", "--speed", "0", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert not started.exists(), f"the replay started {started.read_text()}"
    record = json.loads((guide / "docs" / "captures" / "run.json").read_text())
    assert f"Replay of the run {record['run_id']}" in out
    assert "(failed)" in out and "Nothing is executed" in out
    assert "bash 5." in out  # the versions the run recorded
    # every step, in run order, with its replay marker, its command and its output
    expected_in_order = [
        "REPLAY  1/7 create-cluster setup.md:",
        '$ mkdir -p "$MESHDEMO_RUN_DIR/cluster"',
        "> export DEMO_NAME=books",
        "REPLAY  2/7 greet setup.md:",
        '$ echo "hello $DEMO_NAME"',
        "hello books",
        "REPLAY  3/7 count use.md:",
        "1",
        "REPLAY  4/7 python-sees-kubeconfig use.md:",
        ">>> import os",
        "python sees True",
        "REPLAY  5/7 maybe-fail use.md:",
        '$ test -z "$FAIL_AT_MAYBE"',
        "✗ failed in",
        "exit status 1, expected 0",
        "REPLAY  6/7 after use.md:",
        "· not-run: not captured in that run — not run: maybe-fail failed before it",
        "REPLAY  7/7 delete-cluster cleanup.md:",
        "- skipped: not captured in that run — teardown skipped",
        "end of the replay",
    ]
    position = 0
    for text in expected_in_order:
        found = out.find(text, position)
        assert found != -1, f"{text!r} missing after position {position}:\n{out}"
        position = found + len(text)
    assert out.count("REPLAY ") == 1 + 7 + 1  # the header, each step, the end
    assert not (guide / ".meshdemo" / "replay" / "progress.json").exists()


def test_the_captures_of_docs_are_replayed_when_no_run_was_kept(guide: Path) -> None:
    assert meshdemo(guide, "run").returncode == 0
    shutil.rmtree(guide / ".meshdemo" / "history")
    done = meshdemo(guide, "replay", "--speed", "0", "--only", "setup.md")
    assert done.returncode == 0, done.stderr
    assert "as kept in docs" in done.stdout
    assert "REPLAY  2/2 greet setup.md:10" in done.stdout
    assert "count" not in done.stdout


def test_bad_input_exits_2_and_names_the_problem(guide: Path) -> None:
    none = meshdemo(guide, "replay", "--speed", "0")
    assert none.returncode == 2
    assert "no run recorded here" in none.stderr
    assert meshdemo(guide, "run").returncode == 0
    unknown = meshdemo(guide, "replay", "--from", "nope")
    assert unknown.returncode == 2
    assert "--from nope: the run" in unknown.stderr and "has no such step" in unknown.stderr
    speed = meshdemo(guide, "replay", "--speed", "fast")
    assert speed.returncode == 2 and "--speed" in speed.stderr


def _read_until(fd: int, wanted: str, seen: bytearray, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while wanted.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} in:\n{seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side closed
                chunk = b""
            assert chunk, f"ended before {wanted!r}:\n{seen.decode(errors='replace')}"
            seen.extend(chunk)
    text = seen.decode(errors="replace")
    del seen[: seen.index(wanted.encode()) + len(wanted)]
    return text


def test_step_mode_advances_on_enter_in_a_terminal(guide: Path) -> None:
    assert meshdemo(guide, "run").returncode == 0
    controller, terminal = pty.openpty()
    replay = subprocess.Popen(
        [sys.executable, "-m", "meshdemo", "replay", "--step", "--to", "count"],
        cwd=guide,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        for command, output in (
            ("mkdir -p", None),
            ('echo "hello $DEMO_NAME"', "hello books"),
            ('ls "$MESHDEMO_RUN_DIR"', "passed"),
        ):
            shown = _read_until(controller, "Enter: show its output", seen)
            this_step = shown[shown.rindex("REPLAY") :]
            assert command in this_step
            if output is not None:
                assert output not in this_step, "the output came before Enter"
            # waiting for Enter, the replay has started no process at all
            children = [p for p in processes().values() if p.ppid == replay.pid]
            assert children == []
            os.write(controller, b"\n")
            if output is not None:
                _read_until(controller, output, seen)
        _read_until(controller, "end of the replay", seen)
        assert replay.wait(timeout=30) == 0
    finally:
        if replay.poll() is None:
            os.killpg(replay.pid, signal.SIGKILL)
            replay.wait()
        os.close(controller)


def test_step_mode_stops_on_q_and_ctrl_c_clears_the_progress(guide: Path) -> None:
    assert meshdemo(guide, "run").returncode == 0
    progress = guide / ".meshdemo" / "replay" / "progress.json"
    replay = subprocess.Popen(
        [sys.executable, "-m", "meshdemo", "replay", "--step"],
        cwd=guide,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert replay.stdin is not None
    deadline = time.monotonic() + 30
    state = None
    while state is None or state.current is None:  # waiting for Enter at the first step
        assert time.monotonic() < deadline and replay.poll() is None
        time.sleep(0.05)
        state = ReplayProgress.read(guide / ".meshdemo")
    assert state.current == "create-cluster" and state.played == []
    assert progress.exists()
    replay.send_signal(signal.SIGINT)
    out, _ = replay.communicate(timeout=30)
    assert replay.returncode == 130
    assert "stopped (Ctrl-C)" in out
    assert not progress.exists()

    quit_early = subprocess.run(
        [sys.executable, "-m", "meshdemo", "replay", "--step"],
        cwd=guide,
        input="\nq\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert quit_early.returncode == 0
    assert "REPLAY  2/7 greet" in quit_early.stdout and "hello books" not in quit_early.stdout
    assert "stopped." in quit_early.stdout


def test_progress_of_a_replay_killed_hard_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    progress = ReplayProgress("r", str(tmp_path), "2026-01-01T00:00:00Z", ["a"], pid=gone.pid)
    progress.pid_start = 1
    progress.write(tmp_path)
    assert ReplayProgress.path(tmp_path).exists()
    assert ReplayProgress.read(tmp_path) is None
    mine = ReplayProgress("r", str(tmp_path), "2026-01-01T00:00:00Z", ["a"], current="a")
    mine.write(tmp_path)
    assert ReplayProgress.read(tmp_path) == mine


def _capture(step_id: str, started_at: str, duration: float, output: str = "") -> Capture:
    return Capture(
        id=step_id,
        kind="bash",
        page="p.md",
        line=1,
        command=f"run {step_id}",
        command_hash="h",
        status=StepStatus.PASSED,
        exit_status=0,
        started_at=started_at,
        duration=duration,
        output=output,
        run_id="r1",
    )


def test_the_recorded_pace_is_kept_scaled_by_the_speed(tmp_path: Path) -> None:
    captures = [
        _capture("first", "2026-01-01T10:00:00.000+00:00", 2.0, "\x1b[32mgreen\x1b[0m\n"),
        _capture("second", "2026-01-01T10:00:02.500+00:00", 4.0),  # 0.5 s after the first
        _capture("third", "2026-01-01T10:01:00.000+00:00", 1.0),  # a long pause: capped
    ]
    record = RunRecord(
        "r1",
        "2026-01-01T10:00:00Z",
        status="passed",
        steps=[
            {"id": c.id, "page": "p.md", "line": 1, "status": "passed", "duration": c.duration}
            for c in captures
        ]
        + [{"id": "never", "page": "p.md", "line": 9, "status": "not-run", "duration": 0}],
    )
    kept = History(tmp_path / "h").keep(record, captures, tmp_path)
    assert kept is not None
    steps = plan(kept)
    assert [(s.id, s.gap, s.duration) for s in steps] == [
        ("first", 0.0, 2.0),
        ("second", 0.5, 4.0),
        ("third", MAX_GAP, 1.0),
        ("never", 0.0, 0.0),
    ]
    waits: list[float] = []
    console = Console(
        file=io.StringIO(), record=True, width=100, color_system="truecolor", force_terminal=True
    )
    Player(console, speed=2, sleep=waits.append).play(steps)
    typing = [w for w in waits if w < 0.02]  # the keystrokes
    assert [w for w in waits if w >= 0.02] == [1.0, 0.25, 2.0, MAX_GAP / 2, 0.5]
    assert typing and sum(typing) <= 3 * 1.5 / 2
    text = console.export_text(clear=False)
    assert "green" in text and "\x1b" not in text
    assert "\x1b[32mgreen" in console.export_text(styles=True)  # ANSI output stays coloured
    assert "never" in text and "not captured in that run" in text

    instant: list[float] = []
    Player(Console(file=io.StringIO()), speed=0, sleep=instant.append).play(steps)
    assert set(instant) <= {0.0}


def test_plan_narrows_like_run_and_refuses_unknown_pages(tmp_path: Path, guide: Path) -> None:
    assert meshdemo(guide, "run").returncode == 0
    project = load_project(guide / "mkdocs.yml")
    [kept] = History.of(project).runs()
    only_use = plan(kept, project, only=["use.md"])
    assert [s.id for s in only_use] == ["count", "python-sees-kubeconfig", "maybe-fail", "after"]
    assert [s.id for s in plan(kept, project, from_id="greet", to_id="count")] == [
        "greet",
        "count",
    ]
    with pytest.raises(
        MeshdemoError, match=r"--only nope\.md: the run .* has no step on that page"
    ):
        plan(kept, project, only=["nope.md"])
    with pytest.raises(MeshdemoError, match="comes after"):
        plan(kept, project, from_id="count", to_id="greet")
    assert read_run(guide / "docs").run_id == kept.run_id


def test_a_served_page_sees_the_replay_as_far_as_it_got(tmp_path: Path) -> None:
    captures = [
        _capture("first", "2026-01-01T10:00:00.000+00:00", 1.0, "one\n"),
        _capture("second", "2026-01-01T10:00:01.000+00:00", 1.0, "two\n"),
    ]
    steps = [{"id": c.id, "page": "p.md", "line": 1, "status": "passed"} for c in captures]
    steps.append({"id": "third", "page": "q.md", "line": 1, "status": "not-run"})
    kept = History(tmp_path / "h").keep(RunRecord("r1", "x", steps=steps), captures, tmp_path)
    assert kept is not None
    run_dir = tmp_path / ".meshdemo"
    assert ReplayView.active(run_dir) is None  # no replay running
    ReplayProgress(
        "r1", str(kept.root), "x", ["first", "second", "third"], played=["first"], current="second"
    ).write(run_dir)
    view = ReplayView.active(run_dir)
    assert view is not None
    assert [view.state(s) for s in ("first", "second", "third", "other")] == [
        "played",
        "current",
        "pending",
        None,
    ]
    played = view.capture("first")
    assert played is not None and played.output == "one\n"
    assert view.capture("second") is None  # its output has not appeared yet
    assert view.current_page == "p.md" and view.position == (1, 3)
    ReplayProgress.clear(run_dir)
    assert ReplayView.active(run_dir) is None

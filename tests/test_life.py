"""The run's ownership record: what a dead run left is cleaned up, nothing else is touched."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from meshdemo.run.life import LOCK_FILE, Ownership, RunBusy, reclaim
from meshdemo.run.processes import boot_ticks, is_alive


def record(run_dir: Path, **fields: object) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    owner = {
        "pid": 999999,
        "started_at": "2026-01-01T00:00:00+00:00",
        "command": "meshdemo run",
        "run_id": "dead-run",
        "scratch": "",
        "shells": [],
        "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        "start_ticks": 0,
        **fields,
    }
    (run_dir / LOCK_FILE).write_text(json.dumps(owner))


@pytest.fixture
def bystander():
    """A process that is no run's: its session is our own, its environment has no run id."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize(
    "fields",
    [
        {"boot_id": "an-earlier-boot"},  # after a reboot every recorded pid is someone else's
        {"start_ticks": 10**15},  # a process older than the run is not the run's
    ],
    ids=["other-boot", "older-than-the-run"],
)
def test_a_recorded_pid_given_out_again_is_left_alone(
    tmp_path: Path, bystander: subprocess.Popen[bytes], fields: dict
) -> None:
    record(tmp_path / ".meshdemo", shells=[bystander.pid], **fields)
    said = reclaim(tmp_path / ".meshdemo")
    assert said and "left 0 processes" in said[0]
    assert is_alive(bystander.pid)
    assert (tmp_path / ".meshdemo" / LOCK_FILE).read_text() == ""


def test_a_dead_runs_shell_session_is_stopped(tmp_path: Path) -> None:
    leftover = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        record(tmp_path / ".meshdemo", shells=[leftover.pid], start_ticks=boot_ticks() - 100)
        said = reclaim(tmp_path / ".meshdemo")
        assert "left 1 process: stopped them" in said[0]
        leftover.wait(timeout=5)
    finally:
        leftover.kill()
        leftover.wait()


def test_a_live_owner_is_named_and_never_cleaned_up(tmp_path: Path) -> None:
    held = Ownership(tmp_path / ".meshdemo", "live-run").acquire()
    try:
        assert reclaim(tmp_path / ".meshdemo") == []
        with pytest.raises(RunBusy, match=r"in progress \(pid \d+, started "):
            reclaim(tmp_path / ".meshdemo", busy_ok=False)
        with pytest.raises(RunBusy, match="another run of this project is in progress"):
            Ownership(tmp_path / ".meshdemo", "second-run").acquire()
    finally:
        held.release()
    assert (tmp_path / ".meshdemo" / LOCK_FILE).read_text() == ""
    Ownership(tmp_path / ".meshdemo", "third-run").acquire().release()


def test_a_run_refused_for_another_records_nothing(tmp_path: Path) -> None:
    from meshdemo.model import Kind, Page, Project, Step
    from meshdemo.run.runner import Runner

    (tmp_path / "docs").mkdir()
    step = Step(id="a", kind=Kind.BASH, page="p.md", line=1, command="true")
    project = Project(
        config_file=tmp_path / "mkdocs.yml",
        root=tmp_path,
        docs_dir=tmp_path / "docs",
        pages=(Page("p.md", tmp_path / "docs" / "p.md", None, "", (step,)),),
    )
    held = Ownership(project.run_dir, "the-other-run").acquire()
    try:
        runner = Runner(project)
        with pytest.raises(RunBusy):
            runner.execute(step)
        runner.finish([step])  # as the pytest plugin does at the end of its session
    finally:
        held.release()
    assert not (project.captures_dir / "run.json").exists()
    assert not (project.run_dir / "history").exists()

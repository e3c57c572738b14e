"""Steps sent ahead in a batch (BashSession.queue) against a real bash: each still a step of
its own (output, status, state), and a batch never runs a step it should not."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from meshdemo.run.processes import is_alive
from meshdemo.run.session import BashSession
from meshdemo.status import Outcome


@pytest.fixture
def session(tmp_path: Path):
    with BashSession(tmp_path / "run", cwd=tmp_path) as shell:
        yield shell


def test_a_batch_keeps_each_step_apart(session: BashSession, tmp_path: Path) -> None:
    steps = [
        ("x=41; echo one", "a", True),
        ("echo two >&2; x=$((x + 1))", "b", True),
        ('echo "x is $x"; cd /', "c", True),
        ("pwd", "d", True),
    ]
    session.queue(steps)
    assert session.queued == 4
    runs = [session.run(command, name=name) for command, name, _ in steps]
    assert [r.output for r in runs] == ["one\n", "two\n", "x is 42\n", "/\n"]
    assert [r.status for r in runs] == [0, 0, 0, 0]
    assert session.queued == 0
    # the times are bash's: each step begins when the one before it ended
    assert all(r.duration >= 0 for r in runs)
    assert [r.started_at for r in runs] == sorted(r.started_at for r in runs)
    # the session goes on one step at a time after the batch
    assert session.run("echo after").output == "after\n"


def test_a_failed_gated_step_ends_the_batch_in_the_shell(
    session: BashSession, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    session.queue([("echo first; false", "a", True), (f"touch {ran}", "b", True)])
    first = session.run("echo first; false", name="a")
    assert (first.status, first.output) == (1, "first\n")
    assert session.queued == 0  # the rest is dropped: bash did not run it
    time.sleep(0.2)
    assert not ran.exists()
    assert session.run("echo next").output == "next\n"


def test_a_step_whose_status_does_not_matter_lets_the_batch_go_on(
    session: BashSession,
) -> None:
    session.queue([("exit_is_any() { return 3; }; exit_is_any", "a", False), ("echo b", "b", True)])
    assert session.run("exit_is_any() { return 3; }; exit_is_any", name="a").status == 3
    assert session.run("echo b", name="b").output == "b\n"


def test_set_e_still_ends_the_shell_inside_a_batch(session: BashSession, tmp_path: Path) -> None:
    """The batch's test of the status must not turn `set -e` off (a `source … ||` would)."""
    after = tmp_path / "after"
    steps = [("set -e", "a", True), (f"false; touch {after}", "b", True), ("echo c", "c", True)]
    session.queue(steps)
    assert session.run("set -e", name="a").status == 0
    second = session.run(f"false; touch {after}", name="b")
    assert second.outcome == Outcome.SHELL_EXITED
    assert not after.exists()
    assert session.queued == 0
    assert session.run("echo new shell").output == "new shell\n"


def test_a_timeout_in_a_batch_stops_the_rest(session: BashSession, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    shell = session.pid
    session.queue([("sleep 30", "slow", False), (f"touch {ran}", "b", True)])
    began = time.monotonic()
    slow = session.run("sleep 30", name="slow", timeout=0.5)
    assert slow.outcome == Outcome.TIMED_OUT
    assert time.monotonic() - began < 5
    assert session.queued == 0
    time.sleep(0.2)
    assert not ran.exists()  # not even a step whose status does not matter goes on
    assert session.run("echo next").output == "next\n"
    assert session.pid == shell  # the step was stopped, not the shell


def test_exit_in_a_batch_starts_a_new_shell_for_what_follows(
    session: BashSession, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    session.queue([("export KEPT=yes; exit 4", "a", True), (f"touch {ran}", "b", True)])
    first = session.run("export KEPT=yes; exit 4", name="a")
    assert (first.outcome, first.status, first.state_saved) == (Outcome.SHELL_EXITED, 4, True)
    assert not ran.exists()
    assert session.run('echo "$KEPT"').output == "yes\n"


def test_a_step_asked_for_out_of_order_halts_the_batch(
    session: BashSession, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    shell = session.pid
    session.queue([("sleep 0.3", "a", True), (f"touch {ran}", "b", True)])
    other = session.run("echo other", name="other")
    assert other.output == "other\n"
    assert session.queued == 0
    assert session.pid == shell  # the batch came to its end: no shell had to be stopped
    assert not ran.exists()  # halted: the step running then ended, the next did not begin


def test_closing_mid_batch_runs_no_further_line(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with BashSession(tmp_path / "run", cwd=tmp_path) as session:
        session.queue([(f"sleep 2; touch {first}", "a", True), (f"touch {second}", "b", True)])
        time.sleep(0.3)  # bash is in the first step's sleep
    time.sleep(0.3)
    assert not first.exists() and not second.exists()


def test_a_process_a_batch_step_leaves_behind_prints_into_no_later_step(
    session: BashSession,
) -> None:
    steps = [
        ("(sleep 0.2; echo late) &", "a", True),
        ("sleep 0.5; echo second", "b", True),
        ("echo third", "c", True),
    ]
    session.queue(steps)
    runs = [session.run(command, name=name) for command, name, _ in steps]
    assert [r.output for r in runs] == ["", "second\n", "third\n"]


def test_a_batch_step_read_late_has_not_timed_out(session: BashSession) -> None:
    """A step is timed by bash's clock: its marker, there before this process looks, counts
    even when its deadline has passed meanwhile (this process busy elsewhere)."""
    steps = [("echo a", "a", True), ("echo b", "b", True)]
    session.queue(steps)
    time.sleep(0.5)  # both ended long ago
    late = session.run("echo a", name="a", timeout=0.1)
    assert (late.outcome, late.output) == (Outcome.EXITED, "a\n")
    assert late.duration < 0.1
    assert session.run("echo b", name="b", timeout=0.1).outcome == Outcome.EXITED


def test_a_background_step_after_a_batch_halts_it_first(
    session: BashSession, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    session.queue([("sleep 0.2", "a", True), (f"touch {ran}", "b", True)])
    started = session.run_background("sleep 30", name="bg")
    assert started.outcome == Outcome.STARTED
    assert not ran.exists() and session.queued == 0
    session.stop_backgrounds()


def test_a_timeout_stops_the_step_not_what_an_earlier_step_of_its_batch_left_running(
    session: BashSession, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    steps = [
        (f"sleep 30 >/dev/null 2>&1 & echo $! >{pid_file}", "leaves", True),
        ("sleep 0.1", "pause", True),
        ("sleep 30", "slow", False),
    ]
    session.queue(steps)
    session.run(steps[0][0], name="leaves")
    session.run("sleep 0.1", name="pause")
    assert session.run("sleep 30", name="slow", timeout=0.5).outcome == Outcome.TIMED_OUT
    left = int(pid_file.read_text())
    assert is_alive(left)  # as when each step is sent alone


def test_stopping_a_batch_tells_a_step_that_exited_124_from_the_one_it_stopped(
    session: BashSession, tmp_path: Path
) -> None:
    """124 is what the stop's trap returns, and what `timeout` returns: a step that ended with
    it before the stop ran; the step the stop came to is the one it stopped."""
    ran = tmp_path / "ran"
    session.queue([("timeout 0.05 sleep 5", "a", True), (f"touch {ran}", "b", True)])
    time.sleep(1)  # `timeout` ends a with 124; a is gated: the batch ends there
    ended = session.stop_batch()
    assert [name for name, _ in ended] == ["a"]
    run = ended[0][1]
    assert run is not None and run.status == 124 and run.outcome == Outcome.EXITED
    assert not ran.exists()

    session.queue([("sleep 5", "c", True), (f"touch {ran}", "d", True)])
    time.sleep(0.3)
    assert session.stop_batch() == [("c", None)]
    assert not ran.exists()
    assert session.run("echo on").output == "on\n"  # the same session goes on

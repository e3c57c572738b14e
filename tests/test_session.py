"""BashSession against a real bash: state, ordering, timeouts, escaped processes, the end."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from meshdemo.run.processes import is_alive
from meshdemo.run.session import BashSession, StepRun
from meshdemo.status import Outcome


@pytest.fixture
def session(tmp_path: Path):
    with BashSession(tmp_path / "run", cwd=tmp_path) as shell:
        yield shell


def wait_gone(pids: list[int], seconds: float = 3.0) -> list[int]:
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(is_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if is_alive(p)]


def wait_for_files(*files: Path) -> None:
    end = time.monotonic() + 3
    while time.monotonic() < end and not all(f.exists() and f.read_text() for f in files):
        time.sleep(0.02)


def read_pids(*files: Path) -> list[int]:
    return [int(f.read_text().strip()) for f in files]


def test_state_persists_between_steps(session: BashSession, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    session.run('export EXPORTED=e; plain=p; greet() { echo hi "$1"; }; cd sub')
    session.run('PATH="/opt/meshdemo-test/bin:$PATH"')
    result = session.run('echo "$EXPORTED $plain"; greet you; pwd; echo "${PATH%%:*}"')
    assert result.outcome == Outcome.EXITED
    assert result.status == 0
    assert result.output.splitlines() == [
        "e p",
        "hi you",
        str(tmp_path / "sub"),
        "/opt/meshdemo-test/bin",
    ]


def test_pipefail_and_exit_status(session: BashSession) -> None:
    assert session.run("false | true").status == 1
    assert session.run("(exit 7)").status == 7
    assert session.run("true").status == 0


def test_stdin_is_empty(session: BashSession) -> None:
    result = session.run("cat; echo done", timeout=5)
    assert result.outcome == Outcome.EXITED
    assert result.output == "done\n"
    # the control pipe was not eaten: the session still answers
    assert session.run("echo still here").output == "still here\n"


def test_stdout_and_stderr_in_order(session: BashSession) -> None:
    result = session.run("echo one; echo two >&2; echo three; echo four >&2")
    assert result.output == "one\ntwo\nthree\nfour\n"


def test_timeout_kills_the_step_tree_and_keeps_state(session: BashSession, tmp_path: Path) -> None:
    a, b = tmp_path / "a.pid", tmp_path / "b.pid"
    result = session.run(
        "export KEPT=yes\n"
        f"sleep 60 & echo $! > {a}\n"
        f"sh -c 'sleep 61 & echo $! > {b}; wait'\n"
        "echo must-not-run\n",
        timeout=2,
    )
    assert result.outcome == Outcome.TIMED_OUT
    assert result.status == 124
    assert "must-not-run" not in result.output
    assert wait_gone(read_pids(a, b)) == []
    after = session.run('echo "$KEPT"; pwd')
    assert after.output.splitlines() == ["yes", str(tmp_path)]


def test_timeout_of_a_busy_builtin_loop(session: BashSession) -> None:
    result = session.run("n=0; while :; do n=$((n+1)); done", timeout=0.5)
    assert result.outcome == Outcome.TIMED_OUT
    assert session.run('[ "$n" -gt 0 ] && echo counted').output == "counted\n"


def test_exit_ends_the_shell_without_hanging(session: BashSession) -> None:
    session.run("export SURVIVES=1; cd /; gone=1")
    result = session.run("echo before; exit 3; echo after", timeout=5)
    assert result.outcome == Outcome.SHELL_EXITED
    assert result.status == 3
    assert result.output == "before\n"
    assert not session.alive
    session.restart()
    # exported variables and cwd come back; unexported ones are documented as lost
    assert session.run('echo "$SURVIVES" "${gone:-unset}"; pwd').output == "1 unset\n/\n"


def test_kill_of_the_shell_is_reported(session: BashSession) -> None:
    result = session.run("kill $$", timeout=5)
    assert result.outcome == Outcome.SHELL_EXITED
    assert result.status == 143


def test_background_step_is_stopped_with_its_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    shell = BashSession(tmp_path / "run", cwd=tmp_path).start()
    try:
        started = shell.run_background(
            f"echo serving; sleep 60 & echo $! > {pidfile}; wait", check=0.3
        )
        assert started.outcome == Outcome.STARTED
        assert started.pgid is not None
        # the next steps run while it runs, and its output stays out of theirs
        assert shell.run("echo next").output == "next\n"
        child = read_pids(pidfile)[0]
        assert is_alive(child)
        log, dropped = shell.stop_background(started.pgid)
        assert (log, dropped) == ("serving\n", 0)
        assert wait_gone([child, started.pgid]) == []
    finally:
        shell.close()


def test_background_step_that_fails_at_once(session: BashSession) -> None:
    result = session.run_background("echo oops; exit 4", check=0.5)
    assert result.outcome == Outcome.EXITED
    assert result.status == 4
    assert result.output == "oops\n"


def test_escaped_processes_end_with_the_session(tmp_path: Path) -> None:
    pidfile, jobfile = tmp_path / "escaped.pid", tmp_path / "job.pid"
    shell = BashSession(tmp_path / "run", cwd=tmp_path).start()
    try:
        # setsid forks when called by a group leader, so the escaped process writes its own pid
        shell.run(f"setsid nohup sh -c 'echo $$ > {pidfile}; exec sleep 60' >/dev/null 2>&1 &")
        shell.run(f"sleep 62 & echo $! > {jobfile}")
        shell.run_background("sleep 63")
        wait_for_files(pidfile, jobfile)
        pids = read_pids(pidfile, jobfile)
        assert all(is_alive(p) for p in pids)
    finally:
        shell.close()
    assert wait_gone(pids) == []
    assert not shell.alive


def test_stream_is_stopped_after_its_time(session: BashSession) -> None:
    result = session.run("echo tick; sleep 30; echo never", stream=0.5, timeout=10)
    assert result.outcome == Outcome.STOPPED
    assert result.output.startswith("tick\n")
    assert "never" not in result.output
    assert session.run("echo ok").status == 0


def test_stream_that_ends_by_itself_reports_its_status(session: BashSession) -> None:
    result = session.run("echo short; false", stream=5)
    assert result.outcome == Outcome.EXITED
    assert result.status == 1


def test_a_late_abort_signal_never_cuts_the_next_step(session: BashSession) -> None:
    import os
    import signal

    assert session.pid is not None
    os.kill(session.pid, signal.SIGUSR1)  # no abort file names a step: the trap does nothing
    assert session.run("echo a; echo b").output == "a\nb\n"


def test_interrupted_step_runs_no_further_line(tmp_path: Path) -> None:
    after = tmp_path / "after"
    shell = BashSession(tmp_path / "run", cwd=tmp_path).start()

    def interrupt() -> None:
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            shell.run(f"sleep 30\ntouch {after}", tick=interrupt)
    finally:
        shell.close()
    assert not after.exists()
    # the shell ended normally and saved its state on the way out
    assert "cd " in shell.saved_state.read_text()


def test_a_saved_state_starts_a_new_session(tmp_path: Path) -> None:
    with BashSession(tmp_path / "one", cwd=tmp_path) as first:
        first.run("export TOOL_HOME=/opt/tool KUBECONFIG=/old; helper() { echo helped; }; cd /")
    saved = tmp_path / "state.sh"
    saved.write_bytes(first.saved_state.read_bytes())
    env = {**os.environ, "KUBECONFIG": "/new"}
    with BashSession(
        tmp_path / "two", cwd=tmp_path, env=env, state=saved, pinned=["KUBECONFIG"]
    ) as second:
        output = second.run('echo "$TOOL_HOME $KUBECONFIG"; helper; pwd').output
    assert output == "/opt/tool /new\nhelped\n/\n"


def test_the_subreaper_flag_lasts_only_while_a_session_is_open(tmp_path: Path) -> None:
    import ctypes

    from meshdemo.run import processes as module

    def flag() -> int:
        value = ctypes.c_int(-1)
        assert module._prctl(module.PR_GET_CHILD_SUBREAPER, ctypes.byref(value))
        return value.value

    before = flag()
    shell = BashSession(tmp_path / "run", cwd=tmp_path).start()
    assert flag() == 1
    shell.close()
    assert flag() == before


def test_children_this_process_started_itself_are_left_alone(tmp_path: Path) -> None:
    import subprocess

    shell = BashSession(tmp_path / "run", cwd=tmp_path).start()
    # started by the caller (a test's server, say) while the session is open: not the run's
    server = subprocess.Popen(["sleep", "60"])
    try:
        shell.run("sleep 61 &")
        shell.close()
        assert is_alive(server.pid)
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize(
    ("command", "saved"),
    [("exit 3", True), ("exec true", False), ("kill -9 $$", False)],
    ids=["exit-saves-state", "exec-saves-nothing", "kill-9-saves-nothing"],
)
def test_a_shell_that_ended_says_whether_it_saved_its_state(
    session: BashSession, command: str, saved: bool
) -> None:
    session.run("export BEFORE=1")
    result = session.run(f"export DURING=1; {command}", timeout=5)
    assert result.outcome == Outcome.SHELL_EXITED and result.shell_ended
    assert result.state_saved is saved
    after = session.run('echo "${DURING:-lost}"').output
    assert after == ("1\n" if saved else "lost\n")


def test_every_step_has_a_fresh_marker(session: BashSession, tmp_path: Path) -> None:
    session.run("set -v")  # the control lines are echoed into the session log from now on
    session.run("true")
    log = (tmp_path / "run" / "session.log").read_text()
    markers = [
        line.split("'%s %s %s\\n' ")[1].split()[0]
        for line in log.splitlines()
        if "printf" in line and "'%s %s %s\\n' " in line
    ]
    assert len(markers) >= 1 and len(set(markers)) == len(markers)
    # printing an earlier step's marker cannot end a later step
    result = session.run(f"echo {markers[0]} 0; false")
    assert result.status == 1


def test_a_deadline_before_the_step_began_still_times_it_out(session: BashSession) -> None:
    # The deadline passes before bash has even set the step's trap: the abort is repeated
    # until the step has started and is stopped, never misreported as a dead shell.
    outcomes = []
    began = time.monotonic()
    for _ in range(4):
        outcomes.append(session.run("sleep 30", timeout=1e-6).outcome)
    assert outcomes == [Outcome.TIMED_OUT] * 4
    assert time.monotonic() - began < 8  # four aborts, none waiting out the shell's grace
    assert session.run("echo alive", timeout=5).output.strip() == "alive"


def test_quick_steps_poll_for_their_end_and_a_slow_one_does_not_keep_polling(
    session: BashSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshdemo.run import session as module

    monkeypatch.setattr(module, "_SPARE_CPU", True)
    # the slow steps are well over this; a trivial one is far under it, but how long it takes
    # is the machine's: whether the step after it polls is read from its measured time
    monkeypatch.setattr(module, "QUICK_STEP", 0.25)
    polled: list[float] = []
    real = session._read_marker

    def read_marker(*args: object, **kwargs: object) -> str | None:
        polled.append(float(args[4]) if len(args) > 4 else 0.0)  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    def next_polls(run: StepRun) -> float:
        return module.SPIN if run.duration < module.QUICK_STEP else 0.0

    monkeypatch.setattr(session, "_read_marker", read_marker)
    ticks: list[float] = []
    quick = [session.run(f"echo {n}") for n in range(3)]
    slow = session.run("sleep 0.6; echo slow", tick=lambda: ticks.append(time.monotonic()))
    after = session.run("echo after")
    assert [run.output for run in quick] == ["0\n", "1\n", "2\n"] and slow.output == "slow\n"
    assert after.output == "after\n"
    # every step polls after a quick one (the first too); the step after a slow one sleeps
    assert polled == [module.SPIN, *(next_polls(run) for run in quick), 0.0]
    assert polled.count(module.SPIN) >= 2  # (and trivial steps were quick here)
    assert len(ticks) >= 2  # a slow step still reports its progress while it runs
    # a step polls after the caller's work meanwhile too, and one that took no time by bash's
    # clock is quick however long that work kept this process from reading its end
    session.run("sleep 0.5")
    worked = session.run("true", meanwhile=lambda: time.sleep(0.4))
    session.run("true", meanwhile=lambda: None)
    assert worked.duration < module.QUICK_STEP
    assert polled[-3:] == [next_polls(after), 0.0, module.SPIN]
    monkeypatch.setattr(module, "_SPARE_CPU", False)  # one CPU: bash needs it, never poll
    session.run("true")
    session.run("true")
    assert polled[-2:] == [0.0, 0.0]


def test_output_read_before_the_shell_opens_its_fifo_is_not_taken_for_its_end(
    tmp_path: Path,
) -> None:
    from meshdemo.run.session import StepOutput

    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    output = StepOutput(str(fifo))
    output.drain()  # read before the shell has started the step: nothing yet, not the end
    assert not output.eof
    writer = os.open(fifo, os.O_WRONLY)
    os.write(writer, b"printed late\n")
    os.close(writer)
    output.drain()
    assert not output.eof  # the step has not ended yet (no marker): more may come
    output.release()
    output.drain()
    assert output.eof and output.tail.text() == "printed late\n"
    os.close(output.fd)


@pytest.mark.parametrize("monitor", ["", "set -m; "], ids=["plain", "job-control"])
def test_a_background_job_that_ends_between_steps_is_not_reported_in_a_later_step(
    session: BashSession, tmp_path: Path, monitor: str
) -> None:
    # with job control on, bash reports a job killed by a signal ("[1]+  Terminated  sleep 60")
    assert session.run("echo before").output == "before\n"
    pid_file = tmp_path / "job.pid"
    assert session.run(f"{monitor}sleep 60 & echo $! > {pid_file}").status == 0
    wait_for_files(pid_file)
    os.kill(read_pids(pid_file)[0], 15)
    time.sleep(0.2)
    assert session.run("echo after").output == "after\n"
    assert session.run("echo again").output == "again\n"


def test_a_step_prints_into_the_last_steps_fifo_only_when_no_process_holds_it(
    session: BashSession,
) -> None:
    where = "readlink /proc/$BASHPID/fd/1"
    first = session.run(where).output
    assert first.startswith("/") and session.run(where).output == first  # reused
    assert session.run("(sleep 0.5; echo late) &").status == 0  # it holds that FIFO
    third = session.run(where).output
    assert third != first  # a new FIFO: the late output cannot reach this step
    time.sleep(0.8)
    assert session.run("echo next").output == "next\n"
    assert "late" not in third


def test_a_step_that_removes_the_fifos_leaves_the_next_one_its_own(session: BashSession) -> None:
    assert session.run('rm -f "$(readlink /proc/$BASHPID/fd/1)"').status == 0
    assert session.run("echo still").output == "still\n"


def test_meanwhile_runs_while_the_step_runs(session: BashSession, tmp_path: Path) -> None:
    """The caller's work is done after the step is sent and before it ends: the step waits
    for a file that only ``meanwhile`` makes."""
    flag = tmp_path / "made-meanwhile"
    waits = f"for _ in $(seq 200); do [ -e {flag} ] && break; sleep 0.01; done; ls {flag}"
    run = session.run(waits, timeout=10, meanwhile=flag.touch)
    assert (run.outcome, run.status) == (Outcome.EXITED, 0)
    assert run.output == f"{flag}\n"


def test_an_error_meanwhile_is_raised_once_the_step_ended(
    session: BashSession, tmp_path: Path
) -> None:
    def broken() -> None:
        raise OSError("no space left")

    done = tmp_path / "done"
    with pytest.raises(OSError, match="no space left"):
        session.run(f"sleep 0.2; echo finished > {done}", timeout=10, meanwhile=broken)
    assert done.read_text() == "finished\n"  # the step ran to its end first
    # and the session goes on, its protocol in step
    run = session.run("echo next")
    assert (run.status, run.output) == (0, "next\n")


def test_a_ctrl_c_meanwhile_stops_at_once_and_the_session_still_closes(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def interrupted() -> None:
        raise KeyboardInterrupt

    session = BashSession(tmp_path / "run", cwd=tmp_path)
    session.start()
    begin = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        session.run(f"sleep 3130 & echo $! > {pid_file}; wait", timeout=60, meanwhile=interrupted)
    assert time.monotonic() - begin < 5
    wait_for_files(pid_file)
    session.close()
    assert wait_gone(read_pids(pid_file)) == []


def test_a_steps_duration_leaves_out_the_work_done_meanwhile(session: BashSession) -> None:
    """bash says when the step ended: a quick step is not charged for the caller's work."""
    run = session.run("true", meanwhile=lambda: time.sleep(0.3))
    assert (run.outcome, run.status) == (Outcome.EXITED, 0)
    assert run.duration < 0.1, run.duration
    # a step can take that clock away (or set a bogus one): the status is still read, and
    # the duration is the time the marker was read
    run = session.run("unset EPOCHREALTIME; EPOCHREALTIME=12", meanwhile=lambda: time.sleep(0.3))
    assert (run.outcome, run.status) == (Outcome.EXITED, 0)
    assert run.duration >= 0.3
    run = session.run("exit_with() { return $1; }; exit_with 3", meanwhile=lambda: None)
    assert run.status == 3


def test_the_end_time_bash_gives_is_read_with_either_decimal_point() -> None:
    from meshdemo.run.session import _since

    assert _since(100.0, "100.25") == pytest.approx(0.25)
    assert _since(100.0, "100,25") == pytest.approx(0.25)  # LC_NUMERIC=de_DE and the like
    assert _since(100.0, "") == float("inf")
    assert _since(100.0, "12") == float("inf")  # before the step began: not its end

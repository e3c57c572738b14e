"""What the engine guarantees, whatever a guide, a terminal or a CI runner throws at it:
each proved with ``meshdemo run`` (or ``pytest --meshdemo``) on real bash, on a copy of the
engine fixture project (tests/fixtures/engine) whose page each test writes."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli import engine_guide, environment, meshdemo, start_meshdemo

from meshdemo.report import SUMMARY_COLUMNS
from meshdemo.run.processes import is_alive


def wait_gone(pids: list[int], seconds: float = 5.0) -> list[int]:
    """The ``pids`` still alive after up to ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(is_alive(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if is_alive(pid)]


# -- secrets and the terminal ---------------------------------------------------------------


def test_secrets_are_masked_in_captures_and_terminal_and_escapes_neutralised(
    tmp_path: Path,
) -> None:
    # the secrets are decoded at run time, so only the output can carry them
    guide = engine_guide(
        tmp_path / "guide",
        (
            ".bash #leak",
            'echo "MYSQL_ROOT_PASSWORD=$(echo cjAwdC1wdy14 | base64 -d)"\n'
            'echo "url: postgres://admin:$(echo cHctZGItOQ== | base64 -d)@db:5432/app"\n'
            "printf 'clear: \\033[2J done\\n'\n"
            "exit 4",
        ),
    )
    done = meshdemo("run", cwd=guide)
    assert done.returncode == 1, done.stdout + done.stderr
    capture = json.loads((guide / "docs" / "captures" / "leak.json").read_text())
    for secret in ("r00t-pw-x", "pw-db-9"):
        assert secret not in capture["output"]
        assert secret not in done.stdout + done.stderr
    assert "MYSQL_ROOT_PASSWORD=[masked]" in done.stdout
    assert "postgres://admin:[masked]@db" in done.stdout
    # the escape that would clear the screen is shown, not sent to the terminal
    assert "\x1b[2J" not in done.stdout
    assert "clear: \\x1b[2J done" in done.stdout


def captures(guide: Path) -> dict[str, dict]:
    folder = guide / "docs" / "captures"
    return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}


# -- a timeout always holds -----------------------------------------------------------------


def test_a_step_that_replaces_the_shell_is_stopped_at_its_deadline(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    guide = engine_guide(
        tmp_path / "guide",
        (".bash #setup", "export KEPT=yes"),
        ('.bash #replace timeout="2"', f"echo $$ >> {pids}; exec sleep 3112"),
        ('.bash #closed timeout="2"', f"echo $$ >> {pids}; exec >&- 2>&- </dev/null; sleep 3113"),
        ('.bash #teardown teardown="true"', 'echo "teardown sees ${KEPT:-nothing}"'),
    )
    begin = time.monotonic()
    done = meshdemo("run", "--cleanup", "always", cwd=guide, timeout=60)
    assert time.monotonic() - begin < 30, "the run waited for the step instead of its deadline"
    assert done.returncode == 1, done.stdout + done.stderr
    found = captures(guide)
    assert found["replace"]["status"] == "timed-out"
    assert "replaced" in found["replace"]["note"]
    # exec skipped the EXIT trap: the note said so, and the new shell has no KEPT
    assert found["teardown"]["output"] == "teardown sees nothing\n"
    started = [int(pid) for pid in pids.read_text().split()]
    assert started and wait_gone(started) == []


def test_a_step_that_closes_its_descriptors_is_stopped_at_its_deadline(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    guide = engine_guide(
        tmp_path / "guide",
        (
            '.bash #closed timeout="2"',
            f"sleep 3114 & echo $! >> {pids}; exec >&- 2>&- </dev/null; sleep 3113",
        ),
        (".bash #after", "echo after"),
    )
    done = meshdemo("run", cwd=guide, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    found = captures(guide)
    assert found["closed"]["status"] == "timed-out"
    assert "after" not in found
    assert wait_gone([int(pid) for pid in pids.read_text().split()]) == []


# -- the protocol cannot be broken from inside ----------------------------------------------

HOSTILE = (
    # everything the session's protocol uses, shadowed or locked, and the shell made verbose
    "source() { echo faked; }\n"
    "printf() { echo faked; }\n"
    "jobs() { echo faked; }\n"
    "trap() { echo faked; }\n"
    "shopt -s expand_aliases\n"
    "alias source='echo faked' printf='echo faked' builtin='echo faked'\n"
    'for name in $(compgen -v); do readonly "$name" 2>/dev/null; done\n'
    "set -vx\n"
)


def test_a_step_cannot_fake_results_or_break_the_protocol(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    guide = engine_guide(
        tmp_path / "guide",
        (".bash #hostile", HOSTILE),
        (".bash #really-runs", f"echo really > {ran}; echo done"),
        ('.bash #exit-three exit="3"', "(exit 3)"),
        (".bash #fails", "false"),
        (".bash #never", "echo never"),
    )
    done = meshdemo("run", cwd=guide)
    assert done.returncode == 1, done.stdout + done.stderr
    found = captures(guide)
    assert ran.read_text() == "really\n"
    statuses = {name: found[name]["status"] for name in ("really-runs", "exit-three", "fails")}
    assert statuses == {"really-runs": "passed", "exit-three": "passed", "fails": "failed"}
    assert "never" not in found
    for capture in found.values():
        # set -vx shows the step's own lines, never the session's
        assert "builtin" not in capture.get("output", "")
        assert "faked" not in capture.get("output", "")
    # resumed from the saved state (which holds the shadowing functions), steps still run
    ran.unlink()
    again = meshdemo("run", "--from", "really-runs", "--to", "exit-three", cwd=guide)
    assert again.returncode == 0, again.stdout + again.stderr
    assert ran.read_text() == "really\n"


# -- output is bounded while the run lasts --------------------------------------------------

SCRATCH_USAGE = (
    # the session's scratch folder, from this background step's own log file
    'me=$BASHPID; scratch=$(dirname "$(dirname "$(readlink /proc/$me/fd/1)")")\n'
    'while :; do du -sk "$scratch" | cut -f1 >> "$MESHDEMO_RUN_DIR/usage"; sleep 0.1; done\n'
)


def test_a_two_second_yes_stream_stays_bounded_in_memory_and_on_disk(tmp_path: Path) -> None:
    guide = engine_guide(
        tmp_path / "guide",
        ('.bash #watch background="true"', SCRATCH_USAGE),
        ('.bash #flood stream="2"', "yes"),
        (
            ".bash #left",
            'me=$BASHPID; out=$(readlink /proc/$me/fd/1); ls "${out%/*}"; echo "${out##*/}"',
        ),
    )
    process = start_meshdemo("run", cwd=guide)
    peak_rss = 0
    while process.poll() is None:
        # (IndexError: the process ended since poll(), and a zombie's status has no VmRSS)
        with contextlib.suppress(OSError, IndexError):
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak_rss = max(peak_rss, int(status.split("VmRSS:")[1].split()[0]))
        time.sleep(0.05)
    out, err = process.communicate()
    assert process.returncode == 0, out + err
    found = captures(guide)
    flood = found["flood"]["output"]
    assert flood.startswith("[... ") and "bytes of output left out ...]" in flood
    assert len(flood.encode()) < 520 * 1024
    usage = [int(kb) for kb in (guide / ".meshdemo" / "usage").read_text().split()]
    assert len(usage) >= 10 and max(usage) < 4096, usage  # KiB; unbounded, it grew by GBs
    assert peak_rss < 300 * 1024, peak_rss  # KiB
    # what is left of the steps' outputs when a step runs: the FIFO it prints into only
    listed, own = found["left"]["output"].split("\n")[:-2], found["left"]["output"].split()[-1]
    assert listed == [own], found["left"]["output"]


# -- whatever ends a run, nothing it started survives, and the user gets a clear message -----

ESCAPING = (
    # a background job with a child, and a process that leaves the shell's session
    lambda pids: (
        '.bash #serve background="true"',
        f"sleep 3120 & echo $! >> {pids}; echo $$ >> {pids}; wait",
    ),
    lambda pids: (
        ".bash #escape",
        f"setsid nohup sh -c 'echo $$ >> {pids}; exec sleep 3121' >/dev/null 2>&1 &",
    ),
)


def started(pids: Path, count: int) -> list[int]:
    end = time.monotonic() + 10
    while time.monotonic() < end:
        found = [int(p) for p in pids.read_text().split()] if pids.exists() else []
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pids} never listed {count} processes")


def test_a_capture_that_cannot_be_written_stops_the_run_cleanly(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    guide = engine_guide(
        tmp_path / "guide",
        *(make(pids) for make in ESCAPING),
        (".bash #boom", "echo the capture of this step cannot be written"),
        (".bash #later", "echo later"),
        (".bash #last", "echo last"),
    )
    (guide / "docs" / "captures" / "boom.json").mkdir(parents=True)  # os.replace onto it fails
    done = meshdemo("run", cwd=guide)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "the run broke off at boom (index.md:" in done.stdout
    assert "Is a directory" in done.stdout
    assert wait_gone(started(pids, 3)) == []
    record = json.loads((guide / "docs" / "captures" / "run.json").read_text())
    assert record["status"] == "error" and "boom" in record["error"]
    # boom's capture is written while the next step runs: that step ends, and is recorded;
    # the run goes no further
    statuses = {s["id"]: s["status"] for s in record["steps"]}
    assert (statuses["boom"], statuses["later"], statuses["last"]) == (
        "passed",
        "passed",
        "not-run",
    )
    assert json.loads((guide / "docs" / "captures" / "later.json").read_text())["output"] == (
        "later\n"
    )
    assert not list(Path("/dev/shm").glob(f"meshdemo-{record['run_id']}-*"))
    # captures are project files: readable by all
    assert (guide / "docs" / "captures" / "run.json").stat().st_mode & 0o777 == 0o644


def test_a_shell_that_cannot_be_started_again_stops_the_run_cleanly(tmp_path: Path) -> None:
    # a test double of bash: the real one the first time, a failing one after
    doubles = tmp_path / "bin"
    doubles.mkdir()
    first = tmp_path / "first-start-done"
    (doubles / "bash").write_text(
        f'#!/bin/sh\n[ -e {first} ] && exit 1\ntouch {first}\nexec /bin/bash "$@"\n'
    )
    (doubles / "bash").chmod(0o755)
    guide = engine_guide(
        tmp_path / "guide",
        (".bash #leave", "exit 3"),
        ('.bash #teardown teardown="true"', "echo teardown"),
    )
    env = {"PATH": f"{doubles}:/usr/bin:/bin"}
    done = meshdemo("run", "--cleanup", "always", cwd=guide, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "the run broke off at teardown" in done.stdout and "did not start" in done.stdout
    record = json.loads((guide / "docs" / "captures" / "run.json").read_text())
    assert record["status"] == "error"


def test_captures_that_cannot_be_written_are_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "ran"
    guide = engine_guide(tmp_path / "guide", (".bash #first", f"touch {ran}"))
    (guide / "docs" / "captures").write_text("a file where the captures folder goes\n")
    done = meshdemo("run", cwd=guide)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "captures cannot be written here" in done.stderr and "--no-capture" in done.stderr
    assert not ran.exists()
    assert meshdemo("run", "--no-capture", cwd=guide).returncode == 0
    assert ran.exists()


# -- a run killed with SIGKILL is cleaned up by the next command ------------------------------


def killed_run(tmp_path: Path) -> tuple[Path, list[int], str]:
    """A real meshdemo run killed with SIGKILL while its background step, that step's child,
    an escaped process and a foreground step run: (guide, their pids, its scratch folder)."""
    pids, ready = tmp_path / "pids", tmp_path / "ready"
    guide = engine_guide(
        tmp_path / "guide",
        *(make(pids) for make in ESCAPING),
        (".bash #hang", f"sleep 3122 & echo $! >> {pids}; touch {ready}; wait"),
    )
    process = start_meshdemo("run", cwd=guide)
    try:
        found = started(pids, 4)
        end = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < end:
            time.sleep(0.05)
        owner = json.loads((guide / ".meshdemo" / "run.lock").read_text())
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert all(is_alive(pid) for pid in found), "the leftovers should outlive a SIGKILL"
    assert Path(owner["scratch"]).is_dir()
    return guide, found, owner["scratch"]


@pytest.mark.parametrize(
    "command", [["run", "--cleanup-stale"], ["list"]], ids=["cleanup-stale", "any-command"]
)
def test_what_a_sigkilled_run_left_is_stopped_by_the_next_command(
    tmp_path: Path, command: list[str]
) -> None:
    guide, leftovers, scratch = killed_run(tmp_path)
    done = meshdemo(*command, cwd=guide)
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "did not end cleanly" in said and "stopped them" in said and scratch in said
    assert "Nothing to clean up" not in said
    assert wait_gone(leftovers) == []
    assert not Path(scratch).exists()
    assert (guide / ".meshdemo" / "run.lock").read_text() == ""
    # and the next run goes ahead
    again = meshdemo("run", "--no-capture", "--cleanup-stale", cwd=guide)
    assert "Nothing to clean up" in again.stdout


# -- one run at a time per project ------------------------------------------------------------


def test_a_second_run_of_the_project_is_refused_naming_the_first(tmp_path: Path) -> None:
    go = tmp_path / "go"
    guide = engine_guide(
        tmp_path / "guide",
        (
            '.bash #wait timeout="60"',
            f"echo first run; while [ ! -e {go} ]; do sleep 0.05; done",
        ),
    )
    first = start_meshdemo("run", cwd=guide)
    try:
        lock = guide / ".meshdemo" / "run.lock"
        end = time.monotonic() + 20
        while not (lock.exists() and lock.read_text()) and time.monotonic() < end:
            time.sleep(0.05)
        second = meshdemo("run", cwd=guide)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another run of this project is in progress" in second.stderr
        assert f"pid {first.pid}, started " in second.stderr
        go.touch()
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out + err
    assert captures(guide)["wait"]["output"] == "first run\n"


# -- under pytest --meshdemo: SIGTERM is how a CI cancel arrives -------------------------------


def test_sigterm_under_the_pytest_plugin_stops_everything(tmp_path: Path) -> None:
    pids, ready = tmp_path / "pids", tmp_path / "ready"
    guide = engine_guide(
        tmp_path / "guide",
        *(make(pids) for make in ESCAPING),
        (".bash #hang", f"sleep 3123 & echo $! >> {pids}; touch {ready}; wait"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--meshdemo", "-q"],
        cwd=guide,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        found = started(pids, 4)
        end = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < end:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, out
    assert wait_gone(found) == []
    record = json.loads((guide / "docs" / "captures" / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert record["steps"][-1]["note"] == "interrupted (SIGTERM)"
    assert not list(Path("/dev/shm").glob(f"meshdemo-{record['run_id']}-*"))


# -- found by reading and trying ---------------------------------------------------------------


def test_list_into_a_pipe_closed_early_stops_quietly(tmp_path: Path) -> None:
    many = [(f".bash #step-{n:04d}", f"echo {'x' * 100} {n}") for n in range(700)]
    guide = engine_guide(tmp_path / "guide", *many)
    for _ in range(3):
        done = subprocess.run(
            ["bash", "-c", f"{sys.executable} -m meshdemo list | head -1"],
            cwd=guide,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.stdout.startswith("step-0000 ")
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_advice_after_a_failure_is_pasteable_and_never_tears_down_nothing(
    tmp_path: Path,
) -> None:
    guide = engine_guide(
        tmp_path / "guide",
        (".bash #check-tools", "false"),
        ('.bash #create-cluster provision="true"', "echo created"),
        ('.bash #delete-cluster teardown="true"', "echo deleted"),
    )
    # the console script by its path, as `make` or a user without an activated venv runs it
    script = Path(sys.executable).with_name("meshdemo")
    done = subprocess.run(
        [str(script), "run"],
        cwd=guide,
        # a narrow terminal: the command must still come on one line, to paste it whole
        env=environment({"PATH": "/usr/bin:/bin", "COLUMNS": "40"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    resume = next(line for line in done.stdout.splitlines() if "resume with" in line)
    command = resume.split("resume with:", 1)[1].strip()
    assert command == f"{script} run --from check-tools"
    # nothing was created: no advice to tear anything down
    assert "tear everything down" not in done.stdout
    # the advice works as pasted (the step still fails, but the command is right)
    again = subprocess.run(
        command, shell=True, cwd=guide, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 1 and "check-tools" in again.stdout


def test_a_long_run_reports_plain_lines_and_a_bounded_summary(tmp_path: Path) -> None:
    steps = [(f".bash #step-{n:03d}", f"echo {n}") for n in range(60)]
    guide = engine_guide(tmp_path / "guide", *steps, (".bash #slow", "sleep 0.3"))
    done = meshdemo("run", "--no-capture", cwd=guide)  # stdout is a pipe, not a terminal
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "\x1b[" not in done.stdout  # no live display, no colour
    assert any(line.startswith("✓ step-000 index.md:3 ") for line in lines)
    assert sum(1 for line in lines if line.startswith("✓ step-")) == 60
    # the summary: plain aligned columns, its rows the 5 slowest steps, not 61 rows
    head = next(i for i, line in enumerate(lines) if line.split() == list(SUMMARY_COLUMNS))
    table_rows = lines[head + 1 : lines.index("61 steps: 61 passed; shown: the 5 slowest")]
    assert len(table_rows) == 5, table_rows
    assert any(row.startswith("slow ") and " passed " in row for row in table_rows)


def test_under_the_pytest_plugin_an_engine_error_is_one_line_and_stops_the_rest(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    guide = engine_guide(
        tmp_path / "guide",
        *(make(pids) for make in ESCAPING),
        (".bash #boom", "echo the capture of this step cannot be written"),
        (".bash #later", "echo later"),
        (".bash #last", "echo last"),
    )
    (guide / "docs" / "captures" / "boom.json").mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--meshdemo", "-rs"],
        cwd=guide,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "index.md:11: the run broke off at boom (index.md:11): Is a directory" in done.stdout
    assert "Traceback" not in done.stdout
    assert "SKIPPED [1] docs/index.md:15: the run broke off at boom" in done.stdout
    assert wait_gone(started(pids, 3)) == []
    record = json.loads((guide / "docs" / "captures" / "run.json").read_text())
    assert record["status"] == "error"

"""What the engine guarantees, whatever a guide, a terminal or a CI runner throws at it:
each proved with ``meshdemo run`` (or ``pytest --meshdemo``) on real bash, on a copy of the
engine fixture project (tests/fixtures/engine) whose page each test writes."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from cli import engine_guide, meshdemo, start_meshdemo

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
        (".bash #left", 'me=$BASHPID; ls "$(dirname "$(readlink /proc/$me/fd/1)")"'),
    )
    process = start_meshdemo("run", cwd=guide)
    peak_rss = 0
    while process.poll() is None:
        with contextlib.suppress(OSError):
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
    # what is left of the steps' outputs when a step runs: its own FIFO only
    assert found["left"]["output"].split() == ["0003-left"]

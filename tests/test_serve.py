"""`mkdocs serve` shows a new capture without a restart, and the build does not feed itself.

A capture replaced atomically under docs/captures (as a run does) is seen by serve's watcher:
the page is rebuilt and served with the new output. The build only reads docs/, so once the
page changed no further rebuild happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from meshdemo.captures import Capture, CaptureStore
from meshdemo.guide.pages import read_page_steps
from meshdemo.model import Step
from meshdemo.status import StepStatus

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "rendered"
HOOK = ROOT / "hooks" / "meshdemo_hook.py"
SHOWN = "<code>no failure asked</code>"  # the captured output, as the page shows it
WAIT = 60.0  # seconds: upper bound for serve to start or rebuild; never a fixed sleep


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def _wait_for(condition: Callable[[], bool], what: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        assert server.poll() is None, f"mkdocs serve exited while waiting for {what}"
        time.sleep(0.2)
    raise AssertionError(f"gave up after {WAIT:g} s waiting for {what}")


def capture_by_running(step: Step, **env: str) -> Capture:
    """Run the step's command in bash, for real, and record it as a run would."""
    started = datetime.now(UTC)
    began = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", step.command],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
        check=False,
    )
    return Capture(
        id=step.id,
        kind=step.kind.value,
        page=step.page,
        line=step.line,
        command=step.command,
        command_hash=step.command_hash,
        status=StepStatus.PASSED if done.returncode == 0 else StepStatus.FAILED,
        exit_status=done.returncode,
        started_at=started.isoformat(timespec="milliseconds"),
        duration=time.monotonic() - began,
        output=done.stdout + done.stderr,
    )


def test_serve_picks_up_a_new_capture_without_a_restart(tmp_path: Path) -> None:
    guide = tmp_path / "guide"
    shutil.copytree(FIXTURE, guide)
    config = guide / "mkdocs.yml"
    config.write_text(config.read_text() + f"hooks:\n  - {HOOK}\n")
    docs = guide / "docs"
    dashboard = docs / "dashboard.md"  # its screenshot is not taken here: any free port will do
    dashboard.write_text(dashboard.read_text().replace("DASHBOARD_PORT", str(_free_port())))
    steps = {s.id: s for s in read_page_steps("steps.md", (docs / "steps.md").read_text())}
    store = CaptureStore(docs / "captures")
    store.write(capture_by_running(steps["maybe-fail"]))

    port = _free_port()
    url = f"http://127.0.0.1:{port}/steps/"
    with tempfile.TemporaryFile(mode="w+") as log:
        output = _serve_and_change(config, port, url, store, steps, log)
    assert "Shutting down" in output, output[-2000:]
    assert "Traceback" not in output, output[-4000:]


def _serve_and_change(
    config: Path, port: int, url: str, store: CaptureStore, steps: dict[str, Step], log: IO[str]
) -> str:
    guide = config.parent
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", f"127.0.0.1:{port}"],
        cwd=guide,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: SHOWN in _fetch(url), "the first capture", server)
        assert 'class="meshdemo-run meshdemo-run--failed"' not in _fetch(url)

        # a run replaces the capture: the command failed this time
        store.write(capture_by_running(steps["maybe-fail"], FAIL_HERE="1"))
        _wait_for(
            lambda: 'class="meshdemo-run meshdemo-run--failed"' in _fetch(url), "the new", server
        )
        assert SHOWN not in _fetch(url)
        assert '<span class="meshdemo-verdict">✘ failed</span> · exit 1, expected 0' in _fetch(url)

        # no rebuild loop: the build itself changes nothing that serve watches
        log.seek(0)
        builds = log.read().count("Building documentation")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert server.poll() is None
            time.sleep(0.5)
        log.seek(0)
        assert log.read().count("Building documentation") == builds
    finally:
        os.killpg(server.pid, signal.SIGINT)  # serve's own Ctrl-C path
        try:
            server.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            raise
    log.seek(0)
    return log.read()

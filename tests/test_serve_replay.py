"""`mkdocs serve` follows a replay: the page of the step being replayed, its output appearing.

A real run of the rendered fixture (real bash) is kept in the history; `meshdemo replay --step`
then plays it while `mkdocs serve` runs. At each step the served page shows how far the replay
got; when the replay ends, the page is as before, and docs/ was never written to.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from test_serve import FIXTURE, HOOK, WAIT, _fetch, _free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = '<pre class="meshdemo-terminal"><code>hello books'  # greet's captured output


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _wait(condition: Callable[[], bool], what: str, *processes: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        for process in processes:
            command = process.args
            assert isinstance(command, list)  # every process here is started with a list of words
            assert process.poll() is None, f"{command[:4]} ended while waiting for {what}"
        time.sleep(0.2)
    raise AssertionError(f"gave up after {WAIT:g} s waiting for {what}")


def test_the_served_page_follows_a_replay(tmp_path: Path, browser: Browser) -> None:
    guide = tmp_path / "guide"
    shutil.copytree(FIXTURE, guide)
    config = guide / "mkdocs.yml"
    config.write_text(config.read_text() + f"hooks:\n  - {HOOK}\n")
    dashboard = guide / "docs" / "dashboard.md"  # not run here: any free port will do
    dashboard.write_text(dashboard.read_text().replace("DASHBOARD_PORT", str(_free_port())))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "COLUMNS": "120"}
    ran = subprocess.run(
        [sys.executable, "-m", "meshdemo", "run", "--only", "steps.md"],
        cwd=guide,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    docs_before = _tree(guide / "docs")

    port = _free_port()
    url = f"http://127.0.0.1:{port}/steps/"
    with tempfile.TemporaryFile(mode="w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", f"127.0.0.1:{port}"],
            cwd=guide,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        replay: subprocess.Popen[str] | None = None
        try:
            _wait(lambda: OUTPUT in _fetch(url), "the page with the run's output", server)
            assert "Replay of the run" not in _fetch(url)

            replay = subprocess.Popen(
                [sys.executable, "-m", "meshdemo", "replay", "--step", "--only", "steps.md"],
                cwd=guide,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                text=True,
            )
            assert replay.stdin is not None
            # the first step is being replayed: its output has not appeared yet
            _wait(lambda: "▶ replaying now" in _fetch(url), "the replay's first step", server)
            page = _fetch(url)
            assert "Replay of the run of" in page and "0 of 7 steps replayed" in page
            greet = page[page.index('id="run-greet"') :]
            assert "▶ replaying now" in greet[:300] and OUTPUT not in page
            assert 'class="meshdemo-replay-follow"' in page and "#run-greet" in page
            # a reader on another page of the guide is taken to the step being replayed
            reader = browser.new_page()
            try:
                reader.goto(f"http://127.0.0.1:{port}/check/")
                reader.wait_for_url("**/steps/#run-greet", timeout=WAIT * 1000)
                assert reader.locator("#run-greet").is_visible()
            finally:
                reader.close()

            replay.stdin.write("\n")  # Enter: its output appears, the next step comes up
            replay.stdin.flush()
            _wait(lambda: "1 of 7 steps replayed" in _fetch(url), "the first output", server)
            page = _fetch(url)
            assert OUTPUT in page and " · replayed</p>" in page
            assert "#run-nested" in page  # the link (and the page) follow the next step

            replay.stdin.write("q\n")
            replay.stdin.flush()
            assert replay.wait(timeout=WAIT) == 0
            _wait(lambda: "Replay of the run" not in _fetch(url), "the page as before", server)
            assert OUTPUT in _fetch(url) and "replayed</p>" not in _fetch(url)
        finally:
            if replay is not None and replay.poll() is None:
                replay.kill()
                replay.wait()
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output[-4000:]
    assert _tree(guide / "docs") == docs_before, "the replay wrote under docs/"

"""The fixture guide (tests/fixtures/rendered), copied and run for real, shared by the site tests.

It has steps at top level, in an admonition and in a tab, an expected output, a secret in the
environment, a python step, a skipped step, and a dashboard stand-in served by a background
step and shot by a screenshot step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import cli

from meshdemo.captures import Capture
from meshdemo.model import Step
from meshdemo.status import StepStatus

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "rendered"
HOOK = ROOT / "hooks" / "meshdemo_hook.py"
SECRET = "s3cr3t-planted-in-the-environment-42"
DASHBOARD = """<!doctype html><html><body style="margin:0"><p>loading</p><script>
setTimeout(() => {
  document.body.style.background = "rgb(12, 200, 34)";
  document.body.innerHTML = "<div id='data'>books: 3 pods</div>";
}, 800);
</script></body></html>
"""


RAN_AT = "2026-11-26T08:12:40.120+00:00"


def captured(step: Step, output: str, **changes: object) -> Capture:
    """A passed capture of ``step`` printing ``output``, as a run on RAN_AT would record it."""
    fields: dict[str, object] = {
        "id": step.id,
        "kind": step.kind.value,
        "page": step.page,
        "line": step.line,
        "command": step.command,
        "command_hash": step.command_hash,
        "status": StepStatus.PASSED,
        "exit_status": 0,
        "started_at": RAN_AT,
        "duration": 3.24,
        "output": output,
    }
    fields.update(changes)
    return Capture(**fields)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_guide(where: Path) -> Path:
    """A copy of the fixture guide using this checkout's hook; returns its mkdocs.yml."""
    guide = where / "guide"
    shutil.copytree(FIXTURE, guide)
    config = guide / "mkdocs.yml"
    config.write_text(config.read_text() + f"hooks:\n  - {HOOK}\n")
    page = guide / "docs" / "dashboard.md"
    page.write_text(page.read_text().replace("DASHBOARD_PORT", str(_free_port())))
    (where / "dash").mkdir()
    (where / "dash" / "index.html").write_text(DASHBOARD)
    return config


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1", **extra}


def meshdemo_run(config: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """``meshdemo run`` of the guide, the one way tests run the program (tests/cli.py)."""
    dash = str(config.parent.parent / "dash")
    variables = {"DASHBOARD_ROOT": dash, "DEMO_TOKEN": SECRET, **extra}
    return cli.meshdemo("run", "-f", str(config), cwd=config.parent, env=variables, timeout=300)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])

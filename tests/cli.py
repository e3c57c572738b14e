"""The one way tests run the ``meshdemo`` command: as a program, in a subprocess, the way a
user or CI does (its own process, so signals, exit statuses and leftovers are real)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROGRAM = (sys.executable, "-m", "meshdemo")


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment, wide enough that rich never wraps a line, without MkDocs' notice."""
    return {**os.environ, "COLUMNS": "200", "NO_MKDOCS_2_WARNING": "1", **(env or {})}


def meshdemo(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``meshdemo ARGS`` run to its end in ``cwd``; stdout and stderr apart, as text."""
    return subprocess.run(
        [*PROGRAM, *args],
        cwd=cwd,
        env=environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def start_meshdemo(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``meshdemo ARGS`` started, for a test that signals it or runs another beside it."""
    return subprocess.Popen(
        [*PROGRAM, *args],
        cwd=cwd,
        env=environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


ENGINE_FIXTURE = Path(__file__).parent / "fixtures" / "engine"


def engine_guide(root: Path, *fences: tuple[str, str]) -> Path:
    """A copy of the one-page engine fixture at ``root`` whose page holds ``fences`` (each
    ``(info, body)`` written as ```` ``` { info }\\nbody\\n``` ````); returns ``root``."""
    import shutil

    shutil.copytree(ENGINE_FIXTURE, root)
    blocks = [f"``` {{ {info} }}\n{body.rstrip(chr(10))}\n```\n" for info, body in fences]
    (root / "docs" / "index.md").write_text("# Steps\n\n" + "\n".join(blocks))
    return root

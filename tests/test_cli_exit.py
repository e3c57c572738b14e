"""The ``meshdemo`` program ends its process as soon as main returns: nothing an exit owes is
lost (atexit callbacks, buffered output, the status, threads still running)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _program(body: str, tmp_path: Path, stdout: Path) -> int:
    """Run :func:`meshdemo.cli.run_program` with ``main`` replaced by ``body``'s, stdout into
    a file (block-buffered, as a redirection makes it); its exit status."""
    script = textwrap.dedent(
        """
        import atexit, sys, threading, time
        import meshdemo.cli

        def main():
        {body}

        meshdemo.cli.main = main
        meshdemo.cli.run_program()
        """
    ).format(body=textwrap.indent(textwrap.dedent(body), "    "))
    with stdout.open("wb") as out:
        return subprocess.run(
            [sys.executable, "-c", script], cwd=tmp_path, stdout=out, timeout=60, check=False
        ).returncode


def test_the_program_keeps_buffered_output_atexit_callbacks_and_its_status(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    status = _program(
        """
        atexit.register(lambda: print("atexit ran"))
        print("x" * 100_000, end="|")  # more than a buffer, the rest still buffered
        print("buffered", end="|")
        return 3
        """,
        tmp_path,
        out,
    )
    assert status == 3
    assert out.read_text() == "x" * 100_000 + "|buffered|atexit ran\n"


def test_the_program_waits_for_a_thread_still_running(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = _program(
        """
        def late():
            time.sleep(0.3)
            print("thread done", flush=True)

        threading.Thread(target=late).start()
        return 0
        """,
        tmp_path,
        out,
    )
    assert status == 0
    assert out.read_text() == "thread done\n"


def test_a_status_past_255_is_what_an_exit_makes_of_it(tmp_path: Path) -> None:
    assert _program("return 256 + 130", tmp_path, tmp_path / "out") == 130

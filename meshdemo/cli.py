"""``meshdemo``: list, check and run the steps of an MkDocs guide.

Kept light on purpose: ``meshdemo --help`` and ``meshdemo list`` import neither kubernetes
nor playwright; each sub-command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from meshdemo import __version__
from meshdemo.errors import MeshdemoError
from meshdemo.run.options import add_arguments
from meshdemo.status import CleanupPolicy


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--config-file",
        default="mkdocs.yml",
        metavar="FILE",
        help="the MkDocs configuration of the guide (default: mkdocs.yml)",
    )


def _at_least_0(text: str) -> float:
    """A number, 0 or more (a speed, a threshold)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: not a number, 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshdemo",
        description="Run every bash block of an MkDocs guide, in order, in one shell session.",
    )
    parser.add_argument("--version", action="version", version=f"meshdemo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="the steps in run order: id, page:line, command")
    _add_config(listing)
    listing.set_defaults(handler="meshdemo.commands.listing:main")

    check = commands.add_parser(
        "check", help="check everything that needs no run: options, ids, shellcheck, stale captures"
    )
    _add_config(check)
    check.set_defaults(handler="meshdemo.commands.check:main")

    run = commands.add_parser("run", help="run the steps in one bash session and capture them")
    _add_config(run)
    run.add_argument("--from", dest="from_id", metavar="ID", help="start at this step")
    run.add_argument("--to", dest="to_id", metavar="ID", help="stop after this step")
    run.add_argument("--only", metavar="PAGE", action="append", help="run only this page")
    run.add_argument("--dry-run", action="store_true", help="show what would run; run nothing")
    run.add_argument(
        "--cleanup-stale",
        action="store_true",
        help="only clean up after a run that did not end cleanly (its processes, its scratch "
        "folder); every command does it on its way",
    )
    add_arguments(run, cleanup=CleanupPolicy.ON_SUCCESS, why="a failed run keeps the cluster")
    run.set_defaults(handler="meshdemo.commands.run:main")

    demo = commands.add_parser(
        "demo",
        help="the live demo: check prerequisites, run the whole guide on kind, rebuild the site",
        description="Check the prerequisites (exit 3 and nothing started when one is missing), "
        "run the whole guide against a kind cluster (or --kubeconfig/--context), rebuild the "
        "site. The cluster is kept for the live demo unless --cleanup says otherwise.",
    )
    _add_config(demo)
    demo.add_argument("--from", dest="from_id", metavar="ID", help="resume at this step")
    add_arguments(demo, cleanup=CleanupPolicy.NEVER, why="the cluster stays for the demo")
    demo.add_argument("--check", action="store_true", help="check the prerequisites only")
    demo.add_argument("--skip-prereq", action="store_true", help="do not check prerequisites")
    demo.set_defaults(handler="meshdemo.commands.demo:main")

    replay = commands.add_parser(
        "replay",
        help="play a recorded run in the terminal, step by step; runs nothing (offline)",
        description="Play the last recorded run (or --run REF) in the terminal: each command "
        "typed out, then its captured output, at the run's own pace scaled by --speed, or one "
        "step per Enter with --step. Nothing is executed: no cluster, no network. A site served "
        "by `mkdocs serve` follows along.",
    )
    _add_config(replay)
    replay.add_argument(
        "--run",
        metavar="REF",
        help="which run: an id (or its start) from the history, `docs` (the captures the pages "
        "show) or git:REV (default: the last kept run, else docs)",
    )
    replay.add_argument("--from", dest="from_id", metavar="ID", help="start at this step")
    replay.add_argument("--to", dest="to_id", metavar="ID", help="stop after this step")
    replay.add_argument("--only", metavar="PAGE", action="append", help="only this page's steps")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=_at_least_0,
        default=1.0,
        metavar="X",
        help="X times the recorded pace (default 1: real time; 0: no waiting)",
    )
    pace.add_argument("--step", action="store_true", help="advance one step per Enter")
    replay.set_defaults(handler="meshdemo.commands.replay:main")

    diff = commands.add_parser(
        "diff",
        help="what drifted between two recorded runs: outputs, statuses, durations, screenshots",
        description="Compare two recorded runs step by step: normalised output (the rules of "
        "expected-output checks), status, duration, screenshots (pixels, masks left out). "
        "OLD and NEW: a run id (or its start) from the history, `docs` (the captures the pages "
        "show) or git:REV (the captures committed there); default: the last two kept runs, or "
        "OLD against the last one. Exit 0: nothing drifted; 1: something did; 2: bad input.",
    )
    _add_config(diff)
    diff.add_argument("old", nargs="?", metavar="OLD", help="the earlier run")
    diff.add_argument("new", nargs="?", metavar="NEW", help="the later run (default: the last)")
    diff.add_argument(
        "--format", choices=("text", "markdown"), default="text", help="markdown: for CI summaries"
    )
    diff.add_argument(
        "--seconds",
        type=_at_least_0,
        default=5.0,
        metavar="S",
        help="a duration drifts when it changed by more than S seconds (default 5) ...",
    )
    diff.add_argument(
        "--ratio",
        type=_at_least_0,
        default=0.5,
        metavar="R",
        help="... and by more than R times the old duration (default 0.5)",
    )
    diff.add_argument(
        "--pixels",
        type=_at_least_0,
        default=0.01,
        metavar="SHARE",
        help="a screenshot drifts when more than SHARE of its unmasked pixels changed "
        "(default 0.01: 1%%)",
    )
    diff.set_defaults(handler="meshdemo.commands.diff:main")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, _, function_name = args.handler.partition(":")
    import importlib

    try:
        if not getattr(args, "cleanup_stale", False):  # (that command says it itself)
            _reclaim(args.config_file)
        handler = getattr(importlib.import_module(module_name), function_name)
        status = int(handler(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe can still be handled
        return status
    except MeshdemoError as error:
        print(f"meshdemo: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt as stop:
        from meshdemo.run.life import exit_status, signal_of

        print("meshdemo: interrupted", file=sys.stderr)
        return exit_status(signal_of(stop))
    except BrokenPipeError:
        # the reader went away (`meshdemo list | head -1`): stop quietly, as a pipe writer does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def run_program() -> None:
    """The ``meshdemo`` program: :func:`main`, then out of the process at once.

    What is left when main returns has been written and closed (captures, records, the
    session's processes); what Python would still do is take apart every module it loaded,
    ~19 ms of a warm 300-step run. So, once no other thread is running, it does what an exit must
    (the ``atexit`` callbacks, both streams flushed) and ends the process (os._exit). When
    anything else is left to wait for, or a stream cannot be flushed, it exits as usual.
    """
    import atexit
    import threading

    status = main()
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # a closed pipe or stream: the usual exit says what it says
        else:
            os._exit(status & 0xFF)
    sys.exit(status)


def _reclaim(config_file: str) -> None:
    """Clean up after a run of the project that died without cleaning up (SIGKILL), saying so:
    any command does it on its way (a stat when there is nothing to do)."""
    record = Path(config_file).parent / ".meshdemo" / "run.lock"
    try:
        if record.stat().st_size == 0:
            return
    except OSError:
        return
    from meshdemo.run.life import reclaim

    for said in reclaim(Path(config_file).parent / ".meshdemo"):
        print(f"meshdemo: cleaned up: {said}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""``meshdemo list``: the steps in run order, one a line: id, page:line, command.

Plain aligned text, so it stays greppable when piped; a reader that stops early
(``meshdemo list | head``) is not an error. Imports only the project loader: a project read
before, and unchanged since, comes from the project cache without loading MkDocs.
"""

from __future__ import annotations

import argparse
import os
import sys

from meshdemo.guide.project import load_project
from meshdemo.model import Kind, Step


def describe(step: Step) -> str:
    """What the third column shows: the command's first line, or what a non-bash step does."""
    if step.kind is Kind.SCREENSHOT:
        text = f"[screenshot] {step.options.url}"
    elif step.kind is Kind.PYTHON:
        text = f"[python] {step.first_line}"
    else:
        text = step.first_line
        if len([ln for ln in step.command.splitlines() if ln.strip()]) > 1:
            text += " …"
    if step.options.skip is not None:
        text += f"  [skip: {step.options.skip}]"
    return text


def format_steps(steps: list[Step]) -> list[str]:
    if not steps:
        return []
    id_width = max(len(step.id) for step in steps)
    where_width = max(len(step.location) for step in steps)
    return [
        f"{step.id:<{id_width}}  {step.location:<{where_width}}  {describe(step)}".rstrip()
        for step in steps
    ]


def main(args: argparse.Namespace) -> int:
    project = load_project(args.config_file)
    if not project.steps:
        pages = len(project.pages)
        plural = "s" if pages != 1 else ""
        print(f"no steps in the {pages} page{plural} of {args.config_file}", file=sys.stderr)
        return 0
    lines = format_steps(project.steps)
    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader has all it wanted (`meshdemo list | head -1`); Python would report the
        # pipe again when it flushes stdout at exit, so stdout goes to /dev/null first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0

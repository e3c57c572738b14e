"""``meshdemo check``: everything that can be checked without running a step.

Exit 0 when clean, 1 when problems were found, 2 on bad input (raised by ``load_project``).
"""

from __future__ import annotations

import argparse
import sys

from meshdemo.guide.lint import check_project
from meshdemo.guide.project import load_project


def main(args: argparse.Namespace) -> int:
    project = load_project(args.config_file)
    problems = check_project(project)
    for problem in problems:
        print(problem)
    steps = len(project.steps)
    summary = f"{steps} step{'s' if steps != 1 else ''} in {len(project.pages)} pages: "
    summary += f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "ok"
    print(summary, file=sys.stderr)
    return 1 if problems else 0

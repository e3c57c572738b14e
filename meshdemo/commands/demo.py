"""``meshdemo demo``: the live demo, on a presenter's laptop, in one command (``make demo``).

1. Checks the prerequisites (Docker reachable, big enough and on a cgroup v2 host, kind,
   kubectl, curl, inotify limits, the dashboard port) and shows them as a table. When one is
   missing, nothing is started and the exit status is 3.
2. Runs the whole guide with the engine (the same Runner as ``meshdemo run``) against the
   project's own kind cluster, or an existing one (``--kubeconfig F --context C``: no Docker
   or kind checks, no provisioning steps). A kind cluster left by an earlier demo is reused:
   the guide's create-cluster step skips (``skip-if``) and its next step, ``kind export
   kubeconfig``, writes the context into the run's private kubeconfig again, so a fresh
   checkout (or a removed ``.meshdemo/``) still reaches the cluster.
3. Rebuilds the site (``mkdocs build --strict``) so the pages show this run's captures.

By default a presenter keeps the cluster (``--cleanup never``) and is told how to open the
dashboard and how to tear it all down. After a failure the cluster is kept too, and the output
says how to resume (``meshdemo demo --from ID``) or tear down.

Exit status: 0 done; 1 a step failed or the site did not build; 2 bad input, another run of
the project in progress, or the run broken off by an error outside the guide (the message says
which); 3 prerequisites missing (nothing started); 128+N after signal N (130 Ctrl-C, 143
SIGTERM, 129 SIGHUP). Whatever ends the run, every process it started is stopped first.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

from rich.console import Console
from rich.markup import escape

from meshdemo.cluster.prerequisites import (
    EXIT_PREREQUISITES,
    Requirements,
    check_prerequisites,
    print_checks,
)
from meshdemo.commands.run import report_end
from meshdemo.model import Project
from meshdemo.report import (
    LiveReport,
    cluster_may_exist,
    report_failure,
    rerun_command,
    run_and_summarise,
    teardown_command,
)
from meshdemo.run.options import RunOptions, from_arguments
from meshdemo.run.runner import Runner, select_steps
from meshdemo.status import CleanupPolicy

VERSIONS_FILE = "versions.yml"


def build_site(project: Project) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the project, in a child process: the build reads the
    captures this run wrote and never writes under docs/."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(project.config_file),
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def how_to_tear_down(
    project: Project, requirements: Requirements, config_file: str, options: RunOptions
) -> list[str]:
    lines = []
    by_the_guide = teardown_command(project, config_file, options)
    if by_the_guide:
        lines.append(by_the_guide)
    if requirements.cluster_name and not options.existing_cluster:
        lines.append(f"kind delete cluster --name {requirements.cluster_name}")
    return lines


def main(args: argparse.Namespace) -> int:
    from meshdemo.guide.project import load_project

    console = Console(highlight=False)
    project = load_project(args.config_file)
    requirements = Requirements.from_versions(project.root / VERSIONS_FILE)
    options = from_arguments(args)
    existing = options.existing_cluster
    steps = select_steps(project, from_id=args.from_id)
    report = LiveReport(console)
    # bad --kubeconfig/--context raise here (exit 2), before any check or step runs
    runner = Runner(project, options, on_event=report)

    if not args.skip_prereq:
        checks = check_prerequisites(requirements, existing_cluster=existing)
        print_checks(checks, console)
        if any(check.failed for check in checks):
            again = rerun_command(args.config_file, options, command="demo")
            console.print(
                "[bold red]Nothing was started.[/] Fix the rows marked FAIL, then run "
                f"[bold]{escape(again)}[/] again.",
                soft_wrap=True,
            )
            return EXIT_PREREQUISITES
        if args.check:
            console.print("[green]Ready for the demo.[/]")
            return 0
    elif args.check:
        console.print("--check with --skip-prereq checks nothing.")
        return 0

    if not steps:
        console.print("No steps to run.")
        return 0
    result = run_and_summarise(console, runner, steps, report)
    teardown = how_to_tear_down(project, requirements, args.config_file, options)
    ended = report_end(console, result)
    if ended is not None:
        return ended
    if result.failed is not None:
        report_failure(console, project, result, args.config_file, options, command="demo")
        if cluster_may_exist(project, result, options) or existing:
            console.print()
            console.print("The cluster is kept, so you can look at it:")
            console.print(
                f"  export KUBECONFIG={shlex.quote(str(runner.kubeconfig))}", soft_wrap=True
            )
            if requirements.cluster_name and not existing:
                console.print(
                    f"Or delete it:  kind delete cluster --name {requirements.cluster_name}",
                    soft_wrap=True,
                )
        return 1

    if not options.capture:
        console.print("[dim]--no-capture: nothing was written under docs/, no site rebuilt[/]")
    else:
        console.print("Rebuilding the site with this run's captures (mkdocs build --strict)...")
        built = build_site(project)
        if built.returncode != 0:
            console.print("[bold red]The site did not build:[/]")
            console.print(escape((built.stderr or built.stdout).strip()[-3000:]))
            return 1
        console.print(
            f"Site built in {escape(str(project.root / 'site'))} "
            "(or `make serve` to browse it live)."
        )

    console.print()
    if options.cleanup is CleanupPolicy.NEVER or not any(step.options.teardown for step in steps):
        console.print("[bold]The cluster is still running, for the live demo.[/] In a terminal:")
        console.print(f"  export KUBECONFIG={shlex.quote(str(runner.kubeconfig))}", soft_wrap=True)
        console.print('  export PATH="$PATH:$HOME/.linkerd2/bin"')
        console.print("  linkerd viz dashboard")
        if teardown:
            console.print("When you are done, tear it all down with:")
            for line in teardown:
                console.print(f"  {escape(line)}", soft_wrap=True)
    return 0

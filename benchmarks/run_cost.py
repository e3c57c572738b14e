"""What ``meshdemo run`` costs end to end (the CLI, captures on), against the same commands
run by prysk and by a fresh ``bash -c`` per step, in one run of this script.

Two shapes of generated guide:

* **trivial**: N steps of ``x=$((x+1))`` on one page, run at two sizes; the difference between
  the two sizes gives the cost of one extra step, free of start-up (loading the project,
  imports, the shell, run.json);
* **large outputs**: 50 steps printing 200 KB each, every output carrying a secret that must
  come out masked (checked after the run, so a fast run that leaks does not count).

Usage: ``.venv/bin/python benchmarks/run_cost.py [--rounds N]`` (default 5). Rounds go round
robin over the runners and the median is printed; figures depend on the machine, so the
script prints what it ran on. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TRIVIAL = "x=$((x+1))"
SECRET = "token: s3cr3t-b3nch-value"
# 200 KB of ordinary text around one secret line
LARGE = (
    "yes 'NAME READY STATUS RESTARTS AGE books-7f6c9d8b5c-q2x9z 1/1 Running 0 12s' "
    f"| head -c 100000; echo; echo '{SECRET}'; "
    "yes 'linkerd-identity-5d8f9c7b6d-x2x9q 2/2 Running 0 5m' | head -c 100000; echo"
)
PROGRAM = [sys.executable, "-m", "meshdemo"]


def guide(root: Path, commands: list[str]) -> Path:
    """A one-page MkDocs guide whose steps are ``commands``."""
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "mkdocs.yml").write_text(
        "site_name: Bench\nmarkdown_extensions:\n  - attr_list\n  - pymdownx.superfences\n"
        "nav:\n  - index.md\n"
    )
    fences = [f"``` {{ .bash #s{n} }}\n{command}\n```\n" for n, command in enumerate(commands)]
    (root / "docs" / "index.md").write_text("# Bench\n\n" + "\n".join(fences))
    return root / "mkdocs.yml"


def timed(command: list[str], cwd: Path) -> float:
    begin = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - begin
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def meshdemo_run(root: Path) -> float:
    shutil.rmtree(root / "docs" / "captures", ignore_errors=True)
    return timed([*PROGRAM, "run"], root)


def prysk_file(root: Path, commands: list[str]) -> Path:
    test = root / "steps.t"
    lines = [f"  $ {command}" for command in commands]
    test.write_text("\n".join(lines) + "\n")
    return test


def prysk_run(root: Path, test: Path) -> float:
    prysk = str(Path(sys.executable).with_name("prysk"))
    begin = time.perf_counter()
    # prysk exits 1 when an output differs from the file (here: every large output), which is
    # still a full run; the time is what counts
    subprocess.run(
        [prysk, "--shell=/bin/bash", str(test)], cwd=root, capture_output=True, check=False
    )
    return time.perf_counter() - begin


def bash_c_run(root: Path, commands: list[str]) -> float:
    begin = time.perf_counter()
    for command in commands:
        subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", command],
            cwd=root,
            capture_output=True,
            check=False,
        )
    return time.perf_counter() - begin


def median(bench: Callable[[], float], rounds: int) -> float:
    return statistics.median(bench() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=30, help="steps of the small trivial guide")
    parser.add_argument("--large", type=int, default=300, help="steps of the large trivial guide")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    with tempfile.TemporaryDirectory(prefix="meshdemo-bench-") as tmp:
        base = Path(tmp)
        sizes = (args.small, args.large)
        rows: list[tuple[str, float, float]] = []
        for name, make in (
            ("meshdemo run (CLI, captures on)", "meshdemo"),
            ("prysk (one .t file)", "prysk"),
            ("bash -c per step", "bash-c"),
        ):
            totals = []
            for size in sizes:
                root = base / f"{make}-{size}"
                commands = [TRIVIAL] * size
                config = guide(root, commands)
                if make == "meshdemo":
                    totals.append(median(lambda r=config.parent: meshdemo_run(r), args.rounds))
                elif make == "prysk":
                    test = prysk_file(root, commands)
                    totals.append(median(lambda r=root, t=test: prysk_run(r, t), args.rounds))
                else:
                    totals.append(
                        median(lambda r=root, c=commands: bash_c_run(r, c), args.rounds)
                    )
            per_step = (totals[1] - totals[0]) / (sizes[1] - sizes[0])
            rows.append((name, totals[1], per_step))
        print(f"\n{args.large} trivial steps (`{TRIVIAL}`), median of {args.rounds}:")
        print(f"  {'runner':<36} {'total':>9} {'per extra step':>15}")
        for name, total, per_step in rows:
            print(f"  {name:<36} {total:>8.3f}s {per_step * 1000:>12.3f} ms")
        prysk_total = rows[1][1]
        print(f"  meshdemo / prysk: {rows[0][1] / prysk_total:.2f}x")

        commands = [LARGE] * 50
        root = base / "large"
        guide(root, commands)
        mesh = median(lambda: meshdemo_run(root), args.rounds)
        leaked = [
            path.name
            for path in (root / "docs" / "captures").glob("s*.json")
            if "s3cr3t-b3nch-value" in json.loads(path.read_text())["output"]
        ]
        size = len(json.loads((root / "docs" / "captures" / "s0.json").read_text())["output"])
        bash_c = median(lambda: bash_c_run(root, commands), args.rounds)
        print(f"\n50 steps printing 200 KB each (one secret line each), median of {args.rounds}:")
        print(f"  {'meshdemo run (CLI, captures on)':<36} {mesh:>8.3f}s")
        print(f"  {'bash -c per step':<36} {bash_c:>8.3f}s")
        print(f"  meshdemo / bash -c: {mesh / bash_c:.2f}x")
        print(f"  captured output per step: {size} characters; secrets leaked: {len(leaked)}")


if __name__ == "__main__":
    main()

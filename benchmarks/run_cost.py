"""What ``meshdemo run`` costs end to end (the CLI, captures on), against the same commands
run by prysk and by a fresh ``bash -c`` per step, in one run of this script.

Two shapes of generated guide:

* **trivial**: N steps of ``x=$((x+1))`` on one page, run at two sizes; the difference between
  the two sizes gives the cost of one extra step, free of start-up (loading the project,
  imports, the shell, run.json);
* **large outputs**: 50 steps printing 200 KB each, every output carrying a secret that must
  come out masked (checked after the run, so a fast run that leaks does not count); run at 10
  steps too, for the cost of one step without start-up.

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


def round_robin(benches: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """The median time of each bench, taking turns round after round: a machine that gets
    busier or quieter meanwhile weighs on every runner alike."""
    times: dict[str, list[float]] = {name: [] for name in benches}
    for _ in range(rounds):
        for name, bench in benches.items():
            times[name].append(bench())
    return {name: statistics.median(found) for name, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=30, help="steps of the small trivial guide")
    parser.add_argument("--large", type=int, default=300, help="steps of the large trivial guide")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="meshdemo-bench-") as tmp:
        base = Path(tmp)
        sizes = (args.small, args.large)
        benches: dict[str, Callable[[], float]] = {}
        for size in sizes:
            commands = [TRIVIAL] * size
            root = base / f"meshdemo-{size}"
            guide(root, commands)
            benches[f"meshdemo-{size}"] = lambda r=root: meshdemo_run(r)
            root = base / f"prysk-{size}"
            root.mkdir()
            test = prysk_file(root, commands)
            benches[f"prysk-{size}"] = lambda r=root, t=test: prysk_run(r, t)
            root = base / f"bash-c-{size}"
            root.mkdir()
            benches[f"bash-c-{size}"] = lambda r=root, c=commands: bash_c_run(r, c)
        large = [LARGE] * 50
        large_root = base / "large"
        guide(large_root, large)
        few_root = base / "large-10"
        guide(few_root, large[:10])
        benches["meshdemo-large"] = lambda: meshdemo_run(large_root)
        benches["meshdemo-large-10"] = lambda: meshdemo_run(few_root)
        benches["bash-c-large"] = lambda: bash_c_run(large_root, large)
        found = round_robin(benches, args.rounds)

        print(f"\n{args.large} trivial steps (`{TRIVIAL}`), median of {args.rounds} rounds:")
        print(f"  {'runner':<36} {'total':>9} {'per extra step':>15}")
        for name, key in (
            ("meshdemo run (CLI, captures on)", "meshdemo"),
            ("prysk (one .t file)", "prysk"),
            ("bash -c per step", "bash-c"),
        ):
            small, total = found[f"{key}-{sizes[0]}"], found[f"{key}-{sizes[1]}"]
            per_step = (total - small) / (sizes[1] - sizes[0])
            print(f"  {name:<36} {total:>8.3f}s {per_step * 1000:>12.3f} ms")
        ratio = found[f"meshdemo-{sizes[1]}"] / found[f"prysk-{sizes[1]}"]
        print(f"  meshdemo / prysk: {ratio:.2f}x")

        leaked = [
            path.name
            for path in (large_root / "docs" / "captures").glob("s*.json")
            if "s3cr3t-b3nch-value" in json.loads(path.read_text())["output"]
        ]
        size = len(json.loads((large_root / "docs" / "captures" / "s0.json").read_text())["output"])
        mesh, bash_c = found["meshdemo-large"], found["bash-c-large"]
        print(f"\n50 steps printing 200 KB each (one secret line each), median of {args.rounds}:")
        print(f"  {'meshdemo run (CLI, captures on)':<36} {mesh:>8.3f}s")
        print(f"  {'bash -c per step':<36} {bash_c:>8.3f}s")
        print(f"  meshdemo / bash -c: {mesh / bash_c:.2f}x (start-up included)")
        per_step = (mesh - found["meshdemo-large-10"]) / 40
        print(
            f"  per step: meshdemo {per_step * 1000:.1f} ms (50 steps less 10, over 40), "
            f"bash -c {bash_c / 50 * 1000:.1f} ms: {per_step / (bash_c / 50):.2f}x"
        )
        print(f"  captured output per step: {size} characters; secrets leaked: {len(leaked)}")


if __name__ == "__main__":
    main()

"""What putting captures into pages costs a site build, as a ratio, in one run.

Two projects, each built round-robin ROUNDS times with and without ``meshdemo.site.markdown``
(and without the hook, which refuses a project that lacks the extension):

* guide: a copy of this guide, every step captured (12-line outputs, some coloured, and BIG
  of them 200 KB);
* synthetic: PAGES pages of STEPS steps, every step captured, BIG of them 200 KB.

The medians are printed with their paired ratio (the target: at most 1.15), with the size of
the largest page and of the search index, so a regression to "10 MB of highlighted HTML"
shows. The captures are generated (a benchmark of the renderer, not a run) in a temporary
folder, never in docs/.

Usage: ``.venv/bin/python benchmarks/site_build.py [--shape guide|synthetic|both]
[--pages 10] [--steps 30] [--big 50] [--rounds 5] [--engine mkdocs|properdocs|zensical]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from meshdemo.captures import Capture, CaptureStore, RunRecord
from meshdemo.guide.pages import read_page_steps
from meshdemo.model import Kind, Step
from meshdemo.status import StepStatus

GUIDE = Path(__file__).resolve().parent.parent

BIG_OUTPUT_BYTES = 200_000
CONFIG = """site_name: Site build benchmark
theme:
  name: material
  font: false
exclude_docs: |
  /captures/
markdown_extensions:
{extension}  - admonition
  - attr_list
  - pymdownx.details
  - pymdownx.superfences
  - pymdownx.highlight
  - pymdownx.tabbed:
      alternate_style: true
  - toc:
      permalink: true
plugins:
  - search
nav:
{nav}
"""


def small_output(index: int) -> str:
    return "".join(
        f"\x1b[32m√\x1b[0m check {index}.{line} is fine\n" if line % 3 == 0 else f"line {line}\n"
        for line in range(12)
    )


def big_output(index: int) -> str:
    line = f"{index:05d} " + "x" * 70 + "\n"
    return line * (BIG_OUTPUT_BYTES // len(line))


def make_project(root: Path, pages: int, steps: int, big: int) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True)
    nav = []
    for page in range(pages):
        body = [f"# Chapter {page}\n", "Some words about this chapter.\n"]
        for step in range(steps):
            body += [
                f"## Step {step}\n",
                "What this step does, in a sentence or two.\n",
                f"``` {{ .bash #p{page}-s{step} }}\nkubectl get pods -n demo-{page}-{step}\n```\n",
            ]
        (docs / f"chapter-{page}.md").write_text("\n".join(body), encoding="utf-8")
        nav.append(f"  - Chapter {page}: chapter-{page}.md")
    steps_found = []
    for page in range(pages):
        name = f"chapter-{page}.md"
        text = (docs / name).read_text(encoding="utf-8")
        steps_found += read_page_steps(name, text, docs_dir=docs)
    write_captures(docs / "captures", steps_found, big)
    for with_extension in (True, False):
        extension = "  - meshdemo.site.markdown\n" if with_extension else ""
        config = root / ("with.yml" if with_extension else "without.yml")
        config.write_text(CONFIG.format(extension=extension, nav="\n".join(nav)))
    return root


def write_captures(folder: Path, steps: list[Step], big: int) -> None:
    store = CaptureStore(folder)
    big_every = max(1, len(steps) // big) if big else len(steps) + 1
    for count, step in enumerate(steps):
        if step.kind is Kind.SCREENSHOT or step.options.skip is not None:
            continue
        output = big_output(count) if count % big_every == 0 else small_output(count)
        store.write(
            Capture(
                id=step.id,
                kind=step.kind.value,
                page=step.page,
                line=step.line,
                command=step.command,
                command_hash=step.command_hash,
                status=StepStatus.PASSED,
                exit_status=0,
                started_at="2026-11-26T08:12:40+00:00",
                duration=1.5,
                output=output,
            )
        )
    store.write_run(RunRecord(run_id="bench", started_at="2026-11-26T08:12:40+00:00"))


def copy_guide(root: Path, big: int) -> Path:
    """This guide, captured all over; with.yml as it is, without.yml without the extension."""
    from meshdemo.guide.pages import load_project

    left_out = {".git", ".venv", "site", "build", ".meshdemo", ".cache", "captures", "images"}
    shutil.copytree(
        GUIDE, root, ignore=lambda _, names: {n for n in names if n in left_out}, symlinks=True
    )
    config = (root / "mkdocs.yml").read_text(encoding="utf-8")
    (root / "with.yml").write_text(config)
    without = config.replace("  - meshdemo.site.markdown\n", "")
    without = without.replace("hooks:\n  - hooks/meshdemo_hook.py\n", "")
    entries = ("  - meshdemo.site.markdown", "  - hooks/meshdemo_hook.py")
    assert not any(line in entries for line in without.splitlines()), "mkdocs.yml changed shape"
    (root / "without.yml").write_text(without)
    project = load_project(root / "with.yml")
    write_captures(project.docs_dir / "captures", project.steps, big)
    return root


def build(engine: str, config: Path, site: Path) -> float:
    if engine == "zensical":  # site_dir comes from the config; --clean: no cache between rounds
        command = [sys.executable, "-m", "zensical", "build", "--clean", "-f", str(config)]
    else:
        command = [sys.executable, "-m", engine, "build", "-q", "-f", str(config), "-d", str(site)]
    began = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{engine} build of {config.name} failed:\n{done.stderr[-3000:]}")
    return elapsed


def site_figures(site: Path) -> tuple[int, int]:
    largest = max(p.stat().st_size for p in site.rglob("index.html"))
    index = next(iter(site.rglob("search_index.json")), None) or next(
        iter(site.rglob("search.json")), None
    )
    return largest, index.stat().st_size if index else 0


def measure(engine: str, root: Path, rounds: int) -> tuple[dict[str, list[float]], dict]:
    times: dict[str, list[float]] = {"with": [], "without": []}
    figures: dict[str, tuple[int, int]] = {}
    build(engine, root / "with.yml", root / "site-with")  # warm the file cache
    for _ in range(rounds):
        for name in ("with", "without"):
            site = root / f"site-{name}"
            times[name].append(build(engine, root / f"{name}.yml", site))
            figures[name] = site_figures(root / "site" if engine == "zensical" else site)
    return times, figures


def report(console: Console, title: str, times: dict[str, list[float]], figures: dict) -> None:
    table = Table(title=title)
    for column in ("build", "median", "min", "largest page", "search index"):
        table.add_column(column, justify="right" if column != "build" else "left")
    for name in ("without", "with"):
        largest, index = figures[name]
        table.add_row(
            f"{name} the extension",
            f"{statistics.median(times[name]):.2f} s",
            f"{min(times[name]):.2f} s",
            f"{largest / 1e3:.0f} KB",
            f"{index / 1e3:.0f} KB",
        )
    console.print(table)
    pairs = zip(times["with"], times["without"], strict=True)
    ratio = statistics.median(with_ / without for with_, without in pairs)
    console.print(f"with/without, median of paired rounds: {ratio:.2f} (target: at most 1.15)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="both", choices=["guide", "synthetic", "both"])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--big", type=int, default=50, help="steps with a 200 KB output")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engine", default="mkdocs", choices=["mkdocs", "properdocs", "zensical"])
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="meshdemo-site-bench-") as tmp:
        if args.shape in ("guide", "both"):
            big = min(args.big, 5)
            root = copy_guide(Path(tmp) / "guide", big)
            times, figures = measure(args.engine, root, args.rounds)
            steps = len(list((root / "docs" / "captures").glob("*.json"))) - 1
            title = (
                f"{args.engine} build of this guide, {steps} steps captured ({big} of 200 KB), "
                f"median of {args.rounds} rounds"
            )
            report(console, title, times, figures)
        if args.shape in ("synthetic", "both"):
            root = make_project(Path(tmp) / "synthetic", args.pages, args.steps, args.big)
            captures = sum(p.stat().st_size for p in (root / "docs" / "captures").iterdir())
            times, figures = measure(args.engine, root, args.rounds)
            title = (
                f"{args.engine} build: {args.pages} pages x {args.steps} steps, all captured "
                f"({args.big} of 200 KB; captures {captures / 1e6:.1f} MB), "
                f"median of {args.rounds} rounds"
            )
            report(console, title, times, figures)


if __name__ == "__main__":
    main()

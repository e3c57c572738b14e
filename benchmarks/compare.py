"""meshdemo against its peers on the same pages, and the figures of its own slow paths.

Usage::

    .venv/bin/python benchmarks/compare.py                  # everything, 5 rounds
    .venv/bin/python benchmarks/compare.py --rounds 9 --only trivial large
    .venv/bin/python benchmarks/compare.py --markdown       # tables in Markdown

The peers that are not dependencies of meshdemo install with
``.venv/bin/pip install -e '.[bench]'`` (mktestdocs, byexample, markdown-exec); a missing
one is skipped with a line saying so.

Sections (``--only``):

* ``trivial``, ``work``, ``large``: the same steps (``shapes.py``) converted to each tool's
  format (``peers.py``) and run by each, end to end from the command line: the median time,
  the cost per extra step (from two sizes, when there are two) and, paired round by round,
  how many times a tool's time meshdemo takes. meshdemo's headline is a rerun (a capture
  whose content did not change is left as it is); "every capture new" measures a first run,
  each round on a folder without captures;
* ``list``: ``meshdemo list`` on generated pages, one step a page (the fixed cost) and three
  larger sizes (cold: a fresh copy of the project each time), so the cost per step above the
  fixed cost shows whether the work grows linearly with steps;
* ``startup``: ``meshdemo list`` and ``meshdemo run --dry-run`` on the guide itself, cold
  (a fresh copy) and warm (nothing changed since the last load);
* ``site``: ``mkdocs build`` of generated pages with a real run's captures (200 KB outputs
  included) and an earlier run kept (each output is compared with it), with the guide's
  meshdemo configuration and without it: a first build, a rebuild in a new process, and a
  rebuild as ``mkdocs serve`` makes one after a save (``serve_rebuild.py``).

Runs go round-robin: every command once per round, in an order that rotates, after an
untimed warm-up run of each; ratios are taken within a round, then the median over rounds,
so a slow moment of the machine weighs on both sides of a ratio. The figures depend on the
machine, printed first. Everything is written in a scratch folder, never into the guide.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers
import shapes
from peers import MESHDEMO, MESHDEMO_NEW, PEERS, Job, Peer, check_captures, meshdemo_page
from projects import write_project

REPO = Path(__file__).resolve().parents[1]
X = "\N{MULTIPLICATION SIGN}"  # ratios print as 1.50 times this sign
TO = "\N{EN DASH}"  # between the ends of a range
SECTIONS = ("trivial", "work", "large", "list", "startup", "site")
# a peer that cannot take a shape, and why (shown under that shape's table)
UNFIT: dict[tuple[str, str], str] = {
    ("byexample", "large"): "it reads output through a pseudo-terminal: about 80 s a run on a "
    "2-core machine for this shape, too slow to repeat",
}
TOOL_PACKAGES = (
    "meshdemo",
    "prysk",
    "mktestdocs",
    "byexample",
    "pytest-markdown-docs",
    "markdown-exec",
    "mkdocs",
    "mkdocs-material",
    "mkdocs-macros-plugin",
)

err = Console(stderr=True, highlight=False)


# -- timing --------------------------------------------------------------------------------------


class Failed(Exception):
    pass


@dataclass
class Timed:
    """A job under measurement: its times, one per round, or why it stopped."""

    job: Job
    log: Path
    times: list[float] = field(default_factory=list)
    failure: str | None = None
    # the command prints the seconds to keep as its last line (it times a part of itself)
    reports_time: bool = False

    def run(self, round_number: int) -> float:
        if self.job.before is not None:
            self.job.before(round_number)
        env = {**os.environ, **self.job.env}
        with self.log.open("wb") as out:
            begin = time.perf_counter()
            done = subprocess.run(
                self.job.argv,
                cwd=self.job.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
            elapsed = time.perf_counter() - begin
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
            raise Failed(f"exit status {done.returncode}; its output ends:\n" + "\n".join(tail))
        if self.reports_time:
            last = (self.log.read_text(errors="replace").strip().splitlines() or ["?"])[-1]
            try:
                return float(last)
            except ValueError:
                raise Failed(f"no time printed last, but: {last}") from None
        return elapsed


def round_robin(jobs: dict[str, Timed], rounds: int, what: str) -> None:
    """A warm-up run and its check for each job, then ``rounds`` timed runs of each."""
    for key, timed in jobs.items():
        try:
            timed.run(0)
            problem = timed.job.check() if timed.job.check else None
        except Failed as error:
            problem = str(error)
        if problem:
            timed.failure = problem
            err.print(f"[red]{what}: {key} failed[/]: {escape(problem)}")
    keys = [key for key, timed in jobs.items() if timed.failure is None]
    for number in range(1, rounds + 1):
        err.print(f"[dim]{what}: round {number}/{rounds}[/]")
        shift = number % len(keys) if keys else 0
        for key in keys[shift:] + keys[:shift]:
            timed = jobs[key]
            if timed.failure is not None:
                continue
            try:
                timed.times.append(timed.run(number))
            except Failed as error:
                timed.failure = str(error)
                err.print(f"[red]{what}: {key} failed[/]: {escape(str(error))}")


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratios(top: Timed, bottom: Timed) -> list[float]:
    """Top's time over bottom's, taken within each round (none when either failed)."""
    if top.failure or bottom.failure:
        return []
    return [a / b for a, b in zip(top.times, bottom.times, strict=False) if b > 0]


def paired(top: Timed, bottom: Timed) -> float | None:
    """The median over rounds of top's time over bottom's, taken within each round (None
    when either failed)."""
    return median(ratios(top, bottom))


def ratio_spread(top: Timed, bottom: Timed) -> str:
    """:func:`paired` as a ratio, with the middle half of the rounds' ratios (their
    quartiles) when there are four rounds or more: what this machine's noise did to it."""
    found = ratios(top, bottom)
    text = times(median(found))
    if len(found) >= 4:
        low, _, high = statistics.quantiles(found, n=4)
        text += f" ({low:.2f}{TO}{high:.2f})"
    return text


def slope(small: Timed, big: Timed, extra_steps: int) -> float | None:
    """The cost of one more step: the median over rounds of (big - small) / extra steps."""
    if extra_steps <= 0:
        return None
    pairs = list(zip(small.times, big.times, strict=False))
    return median([(b - a) / extra_steps for a, b in pairs])


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 0.01:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def millis(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.2f} ms"


def times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}{X}"


# -- output --------------------------------------------------------------------------------------


@dataclass
class Report:
    console: Console
    markdown: bool
    data: dict[str, object] = field(default_factory=dict)
    targets: list[tuple[str, str, str, str]] = field(default_factory=list)

    def table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        numbers: bool = True,
    ) -> None:
        table = Table(
            title=None if self.markdown else title,
            title_justify="left",
            min_width=len(title) + 2,
            box=box.MARKDOWN if self.markdown else box.SIMPLE_HEAD,
        )
        for number, column in enumerate(columns):
            table.add_column(column, justify="right" if numbers and number else "left")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        if self.markdown:
            self.console.print(f"\n**{title}**\n")
        self.console.print(table)

    def note(self, text: str) -> None:
        # plain text: rich would take the "[bench]" of an install hint for markup and drop it
        self.console.print(text, markup=False)

    def target(self, what: str, measured: str, goal: str, met: bool | None) -> None:
        verdict = "—" if met is None else ("met" if met else "NOT met")
        self.targets.append((what, measured, goal, verdict))


def measured_checkout() -> Path:
    """The meshdemo the measured commands import (PYTHONPATH may name another checkout)."""
    where = subprocess.run(
        [sys.executable, "-c", "import meshdemo; print(meshdemo.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return Path(where).parent.parent if where else REPO


def machine(checkout: Path) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    bash = subprocess.run(["bash", "--version"], capture_output=True, text=True, check=False)
    commit = subprocess.run(
        ["git", "-C", str(checkout), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    versions = []
    for package in TOOL_PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "system": platform.platform(),
        "Python": platform.python_version(),
        "bash": bash.stdout.splitlines()[0] if bash.stdout else "?",
        "meshdemo": f"{checkout} ({commit.stdout.strip() or 'no git commit'})",
        "tools": ", ".join(versions),
        "load average": load(),
    }


def file_creation(folder: Path, count: int = 200) -> str:
    """What creating a file costs in ``folder`` (median): a run creates one per capture, so
    on a disk where this is slow, a run of many short steps is too."""
    probe = folder / "file-creation"
    probe.mkdir()
    times = []
    for n in range(count):
        begin = time.perf_counter()
        fd = os.open(probe / f".{n}.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        times.append(time.perf_counter() - begin)
        os.close(fd)
    shutil.rmtree(probe)
    return f"{statistics.median(times) * 1000:.3f} ms (median of {count}, in {folder})"


def compile_bytecode(checkout: Path) -> None:
    """Compile meshdemo's modules once: with PYTHONDONTWRITEBYTECODE set, or after an edit,
    every timed run would compile them again, which the peers, installed by pip, never do."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(checkout / "meshdemo")],
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )


def load() -> str:
    """The machine's load: other work running meanwhile makes every figure noisier."""
    try:
        return "{:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg())
    except OSError:
        return "?"


# -- sections ------------------------------------------------------------------------------------


@dataclass
class Settings:
    rounds: int
    steps: int
    work_steps: int
    large_steps: int
    large_kb: int
    list_steps: int
    list_pages: int
    guide: Path
    peers: tuple[Peer, ...]
    scratch: Path


def _shape_steps(shape: str, settings: Settings, count: int) -> list[shapes.Step]:
    if shape == "trivial":
        return shapes.trivial(count)
    if shape == "work":
        return shapes.work(count)
    return shapes.large(count, settings.large_kb)


def compare_shape(shape: str, title: str, sizes: Sequence[int], s: Settings, out: Report) -> None:
    """Every peer on the same steps at one or two sizes (the last size is the headline)."""
    jobs: dict[str, Timed] = {}
    skipped: list[str] = []
    for peer in s.peers:
        reason = peer.missing() or UNFIT.get((peer.name, shape))
        if reason:
            skipped.append(f"{peer.label}: skipped, {reason}")
            continue
        for size in sizes:
            folder = s.scratch / shape / f"{peer.name}-{size}"
            folder.mkdir(parents=True)
            job = peer.prepare(folder, _shape_steps(shape, s, size), s.guide)
            jobs[f"{peer.name}@{size}"] = Timed(job, folder / "bench.log")
    round_robin(jobs, s.rounds, shape)
    big = sizes[-1]
    mesh = jobs.get(f"{MESHDEMO.name}@{big}")
    columns = ["tool", f"median ({big} steps)"]
    if len(sizes) > 1:
        columns.append(f"per extra step ({sizes[0]}→{big})")
    columns.append("meshdemo ÷ tool")
    rows = []
    figures: dict[str, dict[str, float | str | list[float] | None]] = {}
    for peer in s.peers:
        timed = jobs.get(f"{peer.name}@{big}")
        if timed is None:
            continue
        row = [peer.label]
        if timed.failure:
            row += ["failed"] + [""] * (len(columns) - 2)
            figures[peer.name] = {"failure": timed.failure}
            rows.append(row)
            continue
        per_step = None
        if len(sizes) > 1:
            per_step = slope(jobs[f"{peer.name}@{sizes[0]}"], timed, big - sizes[0])
        ratio = paired(mesh, timed) if mesh is not None else None
        row.append(seconds(median(timed.times)))
        if len(sizes) > 1:
            row.append(millis(per_step))
        row.append(f"1.00{X}" if peer is MESHDEMO else times(ratio))
        rows.append(row)
        figures[peer.name] = {
            "median": median(timed.times),
            "per_step": per_step,
            "meshdemo_ratio": ratio,
            "times": timed.times,
        }
    out.table(title, columns, rows)
    for line in skipped:
        out.note(f"  {line}")
    out.data[shape] = figures
    if mesh is None:
        return
    _shape_targets(shape, s, sizes, jobs, mesh, out)


def _ratio_targets(
    out: Report, runs: list[tuple[str, str, Timed]], peer: Timed | None, what: str, goal: float
) -> None:
    """A target for each of meshdemo's ``runs`` (label, peer name, timings): its time over
    ``peer``'s at most ``goal``; ``what`` names it, its ``{}`` the run's label."""
    if peer is None or peer.failure:
        return
    for label, _name, timed in runs:
        ratio = paired(timed, peer)
        out.target(
            what.format(label),
            ratio_spread(timed, peer),
            f"≤ {goal:.2f}{X}",
            ratio is not None and ratio <= goal,
        )


def _shape_targets(
    shape: str, s: Settings, sizes: Sequence[int], jobs: dict[str, Timed], mesh: Timed, out: Report
) -> None:
    big = sizes[-1]
    if mesh.failure:
        out.target(f"{shape}: meshdemo run", "failed", "passes", False)
        if shape == "large" and "unmasked" in mesh.failure:
            out.target(
                f"{big} {X} {s.large_kb} KB: secrets masked in every capture", "no", "yes", False
            )
        return
    # the headline is a rerun (captures whose content did not change are left as they are);
    # a first run, which creates every capture file, is measured beside it when asked for
    runs = [("", MESHDEMO.name, mesh)]
    first = jobs.get(f"{MESHDEMO_NEW.name}@{big}")
    if first is not None and not first.failure:
        runs.append((", first run", MESHDEMO_NEW.name, first))
    if shape == "trivial":
        peer = jobs.get(f"prysk@{big}")
        _ratio_targets(out, runs, peer, f"{big} trivial steps{{}}: meshdemo run ÷ prysk", 1.0)
        for label, name, timed in runs:
            if len(sizes) > 1 and f"{name}@{sizes[0]}" in jobs:
                per_step = slope(jobs[f"{name}@{sizes[0]}"], timed, big - sizes[0])
                out.target(
                    f"trivial{label}: meshdemo run cost per extra step",
                    millis(per_step),
                    "< 0.30 ms",
                    per_step is not None and per_step < 0.0003,
                )
        lines = len(mesh.log.read_text(errors="replace").splitlines())
        out.target(
            f"meshdemo run output into a file, {big} steps",
            f"{lines} lines",
            f"≤ {big + 40} lines",
            lines <= big + 40,
        )
    if shape == "large":
        peer = jobs.get(f"bash-c@{big}")
        what = f"{big} {X} {s.large_kb} KB{{}}: meshdemo run ÷ bash -c per step"
        _ratio_targets(out, runs, peer, what, 1.5)
        out.target(
            f"{big} {X} {s.large_kb} KB: secrets masked in every capture",
            "yes (checked)",
            "yes",
            True,
        )


def _salted_copy(template: Path, dest: Path, salt: str) -> None:
    """A fresh copy of a project whose config and pages differ from every earlier copy's, so
    no cache of an earlier load, wherever it lives, can answer for this one."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(template, dest, symlinks=True)
    for config in dest.glob("*.yml"):
        with config.open("a") as stream:
            stream.write(f"\n# {salt}\n")
    for page in (dest / "docs").rglob("*.md"):
        with page.open("a") as stream:
            stream.write(f"\n<!-- {salt} -->\n")


def _cold(template: Path, run_dir: Path, name: str) -> Callable[[int], None]:
    def before(round_number: int) -> None:
        _salted_copy(template, run_dir, f"{name} {round_number} {time.time_ns()}")

    return before


def list_pages(s: Settings, total: int) -> dict[str, str]:
    per_page = max(1, total // s.list_pages)
    pages = {}
    for number in range(1, s.list_pages + 1):
        steps = [
            shapes.Step(f"p{number:02d}-{n:04d}", f"echo page {number} step {n}", "")
            for n in range(1, per_page + 1)
        ]
        pages[f"page-{number:02d}.md"] = meshdemo_page(f"Page {number}", steps)
    return pages


def compare_list(s: Settings, out: Report) -> None:
    """``meshdemo list`` at one step a page (its fixed cost) and three larger sizes: the cost
    per step above the fixed cost stays flat when the work is linear in steps (and would grow
    fourfold from a quarter of the steps to all of them if it were quadratic)."""
    per_page = max(1, s.list_steps // s.list_pages)
    sizes = sorted({1, max(1, per_page // 4), max(1, per_page // 2), per_page})
    jobs: dict[str, Timed] = {}
    for size in sizes:
        template = s.scratch / "list" / f"template-{size}"
        config = write_project(s.guide, template, pages=list_pages(s, size * s.list_pages))
        run_dir = s.scratch / "list" / f"cold-{size}"
        job = Job(
            [peers._tool("meshdemo"), "list", "-f", config.name],
            run_dir,
            before=_cold(template, run_dir, "list"),
        )
        jobs[f"cold@{size}"] = Timed(job, s.scratch / "list" / f"cold-{size}.log")
    big = sizes[-1]
    warm = Job([peers._tool("meshdemo"), "list", "-f", "mkdocs.yml"], s.scratch / "list" / "warm")
    shutil.copytree(s.scratch / "list" / f"template-{big}", warm.cwd)
    jobs["warm"] = Timed(warm, s.scratch / "list" / "warm.log")
    round_robin(jobs, s.rounds, "list")
    base = jobs["cold@1"]
    per_step: dict[int, float | None] = {}
    rows = []
    for size in sizes:
        timed = jobs[f"cold@{size}"]
        steps = size * s.list_pages
        if size > 1 and not (timed.failure or base.failure):
            per_step[size] = slope(base, timed, steps - s.list_pages)
        what = f"cold, {steps} steps" + (" (the fixed cost)" if size == 1 else "")
        figure = "failed" if timed.failure else seconds(median(timed.times))
        rows.append([what, figure, millis(per_step.get(size))])
    timed = jobs["warm"]
    rows.append(
        [
            f"warm, {big * s.list_pages} steps (unchanged since the last load)",
            "failed" if timed.failure else seconds(median(timed.times)),
            "",
        ]
    )
    out.table(
        f"meshdemo list, {s.list_pages} pages",
        ["run", "median", "per step above the fixed cost"],
        rows,
    )
    out.note("  cold: a fresh copy of the project, its pages and config changed since any load")
    out.data["list"] = {
        f"cold@{size * s.list_pages}": jobs[f"cold@{size}"].times for size in sizes
    } | {"warm": jobs["warm"].times, "per_step": per_step}
    cold = jobs[f"cold@{big}"]
    if not cold.failure:
        total = median(cold.times)
        out.target(
            f"meshdemo list, {big * s.list_pages} steps over {s.list_pages} pages (cold)",
            seconds(total),
            "< 1 s",
            total is not None and total < 1.0,
        )
    quarter = max(1, per_page // 4)
    first, last = per_step.get(quarter), per_step.get(big)
    if quarter < big and first and last and first > 0:
        growth = last / first
        out.target(
            f"meshdemo list: per-step cost at {big * s.list_pages} ÷ at "
            f"{quarter * s.list_pages} steps (1 linear, up to 4 quadratic)",
            f"{growth:.2f}",
            "≤ 1.25",
            growth <= 1.25,
        )


def compare_startup(s: Settings, out: Report) -> None:
    template = s.scratch / "startup" / "template"
    config = write_project(s.guide, template)
    meshdemo = peers._tool("meshdemo")
    commands = {
        "list": [meshdemo, "list", "-f", config.name],
        "run --dry-run": [meshdemo, "run", "-f", config.name, "--dry-run"],
    }
    jobs: dict[str, Timed] = {
        "python -c pass": Timed(
            Job([sys.executable, "-c", "pass"], template), s.scratch / "startup" / "python.log"
        ),
        "meshdemo --version": Timed(
            Job([meshdemo, "--version"], template), s.scratch / "startup" / "version.log"
        ),
    }
    for name, argv in commands.items():
        slug = name.split()[0]
        cold_dir = s.scratch / "startup" / f"cold-{slug}"
        warm_dir = s.scratch / "startup" / f"warm-{slug}"
        shutil.copytree(template, warm_dir)
        jobs[f"meshdemo {name}, cold"] = Timed(
            Job(argv, cold_dir, before=_cold(template, cold_dir, slug)),
            s.scratch / "startup" / f"cold-{slug}.log",
        )
        jobs[f"meshdemo {name}, warm"] = Timed(
            Job(argv, warm_dir), s.scratch / "startup" / f"warm-{slug}.log"
        )
    round_robin(jobs, s.rounds, "startup")
    rows = [[name, "failed" if t.failure else seconds(median(t.times))] for name, t in jobs.items()]
    out.table(f"Start-up on the guide ({display(s.guide)})", ["command", "median"], rows)
    out.note("  cold: a fresh copy of the guide; warm: loaded before, nothing changed since")
    out.data["startup"] = {name: t.times for name, t in jobs.items()}
    for name in commands:
        timed = jobs[f"meshdemo {name}, warm"]
        if timed.failure:
            continue
        value = median(timed.times)
        out.target(
            f"start-up of meshdemo {name} on the guide, warm",
            seconds(value),
            "< 0.30 s",
            value is not None and value < 0.3,
        )


def compare_site(s: Settings, out: Report) -> None:
    folder = s.scratch / "site" / "project"
    trivial = shapes.trivial(s.steps)
    work = shapes.work(s.work_steps)
    large = shapes.large(s.large_steps, s.large_kb)
    pages = {
        "trivial.md": meshdemo_page("Trivial steps", trivial),
        "work.md": meshdemo_page("Small real work", work),
        "large.md": meshdemo_page("Large outputs", large),
    }
    config = write_project(s.guide, folder, pages=pages)
    plain = write_project(s.guide, folder, pages=pages, variant="plain", config_name="plain.yml")
    err.print("[dim]site: two meshdemo runs make the captures and an earlier run (untimed)[/]")
    captures_run = Timed(
        Job([peers._tool("meshdemo"), "run", "-f", config.name], folder),
        s.scratch / "site" / "run.log",
    )
    try:
        # twice: pages compare each output with the run before (the state of a project that
        # ran more than once), which a build with a single kept run never does
        captures_run.run(0)
        captures_run.run(1)
        problem = check_captures(folder / "docs" / "captures", trivial + work + large)
    except Failed as error:
        problem = str(error)
    if problem:
        out.note(f"site: no captures to build with ({problem})")
        out.target("site build with captures ÷ without", "no captures", f"≤ 1.15{X}", False)
        return
    mkdocs = peers._tool("mkdocs")
    env = {"NO_MKDOCS_2_WARNING": "1"}
    # the pages a build read are kept in .meshdemo/pages (a rebuild, as `mkdocs serve` makes):
    # "first build" reads every page again, as a build in a fresh clone does
    cold = {**env, "MESHDEMO_NO_CACHE": "1"}
    serve = [sys.executable, str(Path(__file__).resolve().parent / "serve_rebuild.py")]
    jobs = {
        "with meshdemo, rebuild": Timed(
            Job([mkdocs, "build", "-q", "-f", config.name, "-d", "site-meshdemo"], folder, env=env),
            s.scratch / "site" / "with.log",
        ),
        "with meshdemo, serve rebuild": Timed(
            Job([*serve, config.name, str(folder / "site-serve")], folder, env=env),
            s.scratch / "site" / "serve-with.log",
            reports_time=True,
        ),
        "without, serve rebuild": Timed(
            Job([*serve, plain.name, str(folder / "site-serve-plain")], folder, env=env),
            s.scratch / "site" / "serve-without.log",
            reports_time=True,
        ),
        "with meshdemo, first build": Timed(
            Job([mkdocs, "build", "-q", "-f", config.name, "-d", "site-cold"], folder, env=cold),
            s.scratch / "site" / "cold.log",
        ),
        "without": Timed(
            Job([mkdocs, "build", "-q", "-f", plain.name, "-d", "site-plain"], folder, env=env),
            s.scratch / "site" / "without.log",
        ),
    }
    round_robin(jobs, s.rounds, "site")
    with_it, without = jobs["with meshdemo, rebuild"], jobs["without"]
    first = jobs["with meshdemo, first build"]
    ratio = paired(with_it, without)
    first_ratio = paired(first, without)
    serve_with, serve_without = jobs["with meshdemo, serve rebuild"], jobs["without, serve rebuild"]
    serve_ratio = paired(serve_with, serve_without)
    rows = []
    folders = {
        "with meshdemo, rebuild": "site-meshdemo",
        "with meshdemo, first build": "site-cold",
        "with meshdemo, serve rebuild": "site-serve",
        "without, serve rebuild": "site-serve-plain",
    }
    for name, timed in jobs.items():
        html = folder / folders.get(name, "site-plain") / "large"
        size = (html / "index.html").stat().st_size if (html / "index.html").is_file() else None
        rows.append(
            [
                name,
                "failed" if timed.failure else seconds(median(timed.times)),
                "—" if size is None else f"{size / 1e6:.1f} MB",
            ]
        )
    out.table(
        f"mkdocs build: {s.steps} + {s.work_steps} + {s.large_steps} {X} {s.large_kb} KB "
        "captured steps on three pages",
        ["build", "median", "HTML of the large-output page"],
        rows,
    )
    shown = folder / "site-meshdemo" / "large" / "index.html"
    if shown.is_file() and "log line 000001" not in shown.read_text(errors="replace"):
        out.note("  note: the build with meshdemo shows no capture of large.md")
    spreads = {
        "first": ratio_spread(first, without),
        "rebuild": ratio_spread(with_it, without),
        "serve": ratio_spread(serve_with, serve_without),
    }
    out.note(
        f"  with ÷ without, paired: first build {spreads['first']}, rebuild "
        f"{spreads['rebuild']}, serve rebuild {spreads['serve']}"
    )
    out.note(
        "  (rebuild: a new `mkdocs build` process, the pages read before kept in "
        ".meshdemo/pages; serve rebuild: the second build in one process, as `mkdocs serve` "
        "makes after a save, timed alone)"
    )
    out.data["site"] = {name: t.times for name, t in jobs.items()} | {
        "ratio": ratio,
        "first_ratio": first_ratio,
        "serve_ratio": serve_ratio,
    }
    out.target(
        "site build with meshdemo and captures ÷ without (first build)",
        spreads["first"],
        f"≤ 1.15{X}",
        first_ratio is not None and first_ratio <= 1.15,
    )
    out.target(
        "site rebuild with meshdemo and captures ÷ without (a new mkdocs build)",
        spreads["rebuild"],
        f"≤ 1.15{X}",
        ratio is not None and ratio <= 1.15,
    )
    out.target(
        "site rebuild with meshdemo and captures ÷ without (mkdocs serve, in process)",
        spreads["serve"],
        f"≤ 1.15{X}",
        serve_ratio is not None and serve_ratio <= 1.15,
    )


def display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="meshdemo against its peers on the same pages; the figures of its slow paths"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--steps", type=int, default=300, help="trivial steps (default 300)")
    parser.add_argument("--work-steps", type=int, default=100, help="steps of small real work")
    parser.add_argument("--large-steps", type=int, default=50, help="steps with large outputs")
    parser.add_argument("--large-kb", type=int, default=200, help="KB each large step prints")
    parser.add_argument("--list-steps", type=int, default=5000, help="steps for meshdemo list")
    parser.add_argument("--list-pages", type=int, default=10, help="pages they are spread over")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="these sections only")
    parser.add_argument(
        "--tools",
        help="comma-separated peers to compare (meshdemo always): "
        + ",".join(p.name for p in PEERS if p is not MESHDEMO),
    )
    parser.add_argument(
        "-f",
        "--config-file",
        type=Path,
        default=REPO / "mkdocs.yml",
        help="the guide whose configuration the generated projects use (default: this one)",
    )
    parser.add_argument("--markdown", action="store_true", help="print tables in Markdown")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the raw figures")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    known = {p.name for p in PEERS}
    if args.tools:
        unknown = set(args.tools.split(",")) - known
        if unknown:
            parser.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = set(args.tools.split(",")) | {MESHDEMO.name} if args.tools else None
    selected = tuple(p for p in PEERS if wanted is None or p.name in wanted)
    sections = args.only or SECTIONS
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    out = Report(console, args.markdown)
    checkout = measured_checkout()
    compile_bytecode(checkout)
    scratch = Path(tempfile.mkdtemp(prefix="meshdemo-bench-"))
    info = machine(checkout)
    info["file creation"] = file_creation(scratch)
    out.data["machine"] = info
    rows = [[key, value] for key, value in info.items()]
    out.table("Machine", ["", ""], rows, numbers=False)
    out.note(
        f"  {args.rounds} round{'s' if args.rounds > 1 else ''}, round-robin; "
        "ratios paired within a round, then the median"
    )
    settings = Settings(
        rounds=args.rounds,
        steps=args.steps,
        work_steps=args.work_steps,
        large_steps=args.large_steps,
        large_kb=args.large_kb,
        list_steps=args.list_steps,
        list_pages=args.list_pages,
        guide=args.config_file.resolve(),
        peers=selected,
        scratch=scratch,
    )
    started = time.perf_counter()
    try:
        small = max(1, args.steps // 2)
        if "trivial" in sections:
            sizes = [small, args.steps] if small < args.steps else [args.steps]
            compare_shape("trivial", f"{args.steps} trivial steps", sizes, settings, out)
        if "work" in sections:
            title = f"{args.work_steps} steps of small real work"
            compare_shape("work", title, [args.work_steps], settings, out)
        if "large" in sections:
            title = f"{args.large_steps} steps printing {args.large_kb} KB each"
            compare_shape("large", title, [args.large_steps], settings, out)
        if "list" in sections:
            compare_list(settings, out)
        if "startup" in sections:
            compare_startup(settings, out)
        if "site" in sections:
            compare_site(settings, out)
    finally:
        if args.keep:
            err.print(f"scratch folder kept: {scratch}", markup=False)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if out.targets:
        out.table("Targets", ["target", "measured", "goal", "verdict"], out.targets, numbers=False)
        out.note(
            "  (a ratio is the median of the rounds' paired ratios; in brackets the middle half "
            "of them, from four rounds on: the verdict is the median's)"
        )
    out.note(f"  ({time.perf_counter() - started:.0f} s in all; load average now {load()})")
    if args.json:
        out.data["targets"] = out.targets
        args.json.write_text(json.dumps(out.data, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

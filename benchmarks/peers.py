"""The tools compared, each given the same steps in its own format, run as its users run it.

Every tool is a command line timed from the outside, interpreter start-up included, with its
output going to a file. Each writes its input into a folder of its own once, before any
timing; a check after the untimed warm-up run proves the steps really ran (prysk and byexample
compare every line of output themselves; meshdemo's captures are counted and searched for the
secret the large steps print).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from projects import write_project
from shapes import SECRET_PREFIX, Step

BIN = Path(sys.executable).parent
INSTALL_HINT = ".venv/bin/pip install -e '.[bench]'"


@dataclass
class Job:
    """One timed command, and how to check, after a run, that it did the work."""

    argv: list[str]
    cwd: Path
    check: Callable[[], str | None] | None = None  # a problem, or None
    env: dict[str, str] = field(default_factory=dict)
    before: Callable[[int], None] | None = None  # untimed, before each run (its round)


def _tool(name: str) -> str:
    """A console script of this environment (the tools are installed next to Python)."""
    script = BIN / name
    return str(script) if script.exists() else name


def _fence(info: str, body: str) -> str:
    ticks = "````" if "```" in body else "```"
    return f"{ticks}{info}\n{body.rstrip(chr(10))}\n{ticks}\n"


def _page(title: str, blocks: Sequence[str]) -> str:
    parts = [f"# {title}\n"]
    for number, block in enumerate(blocks, 1):
        parts.append(f"Step {number}.\n\n{block}")
    return "\n".join(parts)


@dataclass(frozen=True)
class Peer:
    """A tool compared with meshdemo."""

    name: str
    label: str
    module: str | None  # the Python module it needs; None: bash alone
    prepare: Callable[[Path, Sequence[Step], Path], Job]  # (folder, steps, guide config)

    def missing(self) -> str | None:
        if self.module is None or importlib.util.find_spec(self.module) is not None:
            return None
        return f"{self.name} is not installed (install the benchmark tools: {INSTALL_HINT})"


# -- the floor: the same commands as one script --------------------------------------------------


def _script(folder: Path, steps: Sequence[Step], _guide: Path) -> Job:
    (folder / "script.sh").write_text("set -e\n" + "".join(f"{s.command}\n" for s in steps))
    return Job(["bash", "--noprofile", "--norc", "script.sh"], folder)


# -- a fresh bash per step, as a naive runner does -----------------------------------------------

_BASH_C = textwrap.dedent(
    """
    import json, subprocess, sys
    for command in json.load(open(sys.argv[1])):
        subprocess.run(["bash", "-c", command], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    """
)


def _bash_c(folder: Path, steps: Sequence[Step], _guide: Path) -> Job:
    (folder / "steps.json").write_text(json.dumps([s.command for s in steps]))
    return Job([sys.executable, "-c", _BASH_C, "steps.json"], folder)


# -- prysk: a .t file, one shell, every output line compared -------------------------------------


def _prysk(folder: Path, steps: Sequence[Step], _guide: Path) -> Job:
    lines: list[str] = []
    for step in steps:
        lines.append(f"  $ {step.command}\n")
        lines.extend(f"  {line}\n" for line in step.output.splitlines())
    (folder / "steps.t").write_text("".join(lines))
    return Job([_tool("prysk"), "--shell=/bin/bash", "steps.t"], folder)


# -- mktestdocs: a bash -e -u -c per fence, output not checked -----------------------------------

_MKTESTDOCS = (
    "import sys; from mktestdocs import check_md_file; check_md_file(sys.argv[1], lang='bash')"
)


def _mktestdocs(folder: Path, steps: Sequence[Step], _guide: Path) -> Job:
    page = _page("Steps", [_fence("bash", s.command) for s in steps])
    (folder / "page.md").write_text(page)
    return Job([sys.executable, "-c", _MKTESTDOCS, "page.md"], folder)


# -- byexample: `$ command` and its output in shell fences, one bash, every output compared -----


def _byexample(folder: Path, steps: Sequence[Step], _guide: Path) -> Job:
    page = _page("Steps", [_fence("shell", f"$ {s.command}\n{s.output}") for s in steps])
    (folder / "page.md").write_text(page)
    argv = [_tool("byexample"), "-l", "shell", "--timeout", "600", "-q", "page.md"]
    return Job(argv, folder)


# -- pytest-markdown-docs: a Python fence per step, each running bash in a subprocess -----------

_PYTEST_BLOCK = """\
import subprocess

subprocess.run(
    ["bash", "-c", {command!r}], check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
)
"""


def _pytest_markdown_docs(folder: Path, steps: Sequence[Step], _guide: Path) -> Job:
    blocks = [_fence("python", _PYTEST_BLOCK.format(command=s.command)) for s in steps]
    (folder / "page.md").write_text(_page("Steps", blocks))
    (folder / "pytest.ini").write_text("[pytest]\n")
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-c",
        "pytest.ini",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:meshdemo",  # meshdemo's own pytest plugin is no part of this tool's cost
        "--markdown-docs",
        "page.md",
    ]
    return Job(argv, folder)


# -- markdown-exec: the guide's site built with a bash -c per `exec="on"` fence ------------------


def _markdown_exec(folder: Path, steps: Sequence[Step], guide: Path) -> Job:
    blocks = [_fence('bash exec="on" result="text"', s.command) for s in steps]
    config = write_project(
        guide, folder, pages={"steps.md": _page("Steps", blocks)}, variant="markdown-exec"
    )
    argv = [_tool("mkdocs"), "build", "--strict", "-q", "-f", config.name]
    return Job(argv, folder, env={"NO_MKDOCS_2_WARNING": "1"})


# -- meshdemo: a generated MkDocs project, `meshdemo run`, captures on ---------------------------


def meshdemo_page(title: str, steps: Sequence[Step]) -> str:
    return _page(title, [_fence(f" {{ .bash #{s.id} }}", s.command) for s in steps])


def check_captures(captures: Path, steps: Sequence[Step]) -> str | None:
    """Every step has its capture; none of them carries a secret its step printed."""
    missing = [s.id for s in steps if not (captures / f"{s.id}.json").is_file()]
    if missing:
        first = missing[0]
        return f"{len(missing)} of {len(steps)} captures missing in {captures} (first: {first})"
    for step in steps:
        if SECRET_PREFIX in (captures / f"{step.id}.json").read_text(encoding="utf-8"):
            return f"a secret was written unmasked into {captures / step.id}.json"
    return None


def _meshdemo(folder: Path, steps: Sequence[Step], guide: Path) -> Job:
    config = write_project(guide, folder, pages={"steps.md": meshdemo_page("Steps", steps)})
    argv = [_tool("meshdemo"), "run", "-f", config.name]
    return Job(argv, folder, check=lambda: check_captures(folder / "docs" / "captures", steps))


def _meshdemo_new(folder: Path, steps: Sequence[Step], guide: Path) -> Job:
    """meshdemo on a copy of the guide that has no captures yet: every capture file is
    created (a rerun, as above, leaves those whose content did not change)."""
    job = _meshdemo(folder, steps, guide)
    captures = folder / "docs" / "captures"
    job.before = lambda _round: shutil.rmtree(captures, ignore_errors=True)
    return job


MESHDEMO = Peer("meshdemo", "meshdemo run (CLI, captures on)", "meshdemo", _meshdemo)
MESHDEMO_NEW = Peer(
    "meshdemo-new", "meshdemo run, every capture new (first run)", "meshdemo", _meshdemo_new
)
PEERS: tuple[Peer, ...] = (
    Peer("floor", "bash script.sh (floor)", None, _script),
    Peer("prysk", "prysk (one shell)", "prysk", _prysk),
    Peer("byexample", "byexample (one shell)", "byexample", _byexample),
    Peer("bash-c", "bash -c per step", None, _bash_c),
    Peer("mktestdocs", "mktestdocs (bash -c per fence)", "mktestdocs", _mktestdocs),
    Peer(
        "pytest-markdown-docs",
        "pytest-markdown-docs (subprocess per block)",
        "pytest_markdown_docs",
        _pytest_markdown_docs,
    ),
    Peer("markdown-exec", "markdown-exec (mkdocs build)", "markdown_exec", _markdown_exec),
    MESHDEMO_NEW,
    MESHDEMO,
)

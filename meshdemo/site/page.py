"""Put what ran back into one page: which block goes where.

``place_blocks`` takes a page's Markdown as the engine has it after macros (the text whose
fences the runner read, so a command's hash here is the hash its capture recorded), reads its
steps once with the guide's reader, and returns the page with:

* under each captured bash or python step, a marker line for its output block;
* each ``.expected`` fence replaced by a marker for its box;
* each screenshot fence replaced by the image and its caption (Markdown), or by nothing when
  no image was taken;
* under the page's title, a marker for the run banner (or the one "no run yet" notice).

Markers are plain text lines (``meshdemo-block-<salt>-<n>``), indented like the fence so they
stay inside its admonition, tab, list or quote; the Markdown extension swaps them for the HTML
blocks once Python-Markdown has normalised the text. Nothing here logs or raises for a
capture: what the build log should say is returned as ``Finding``s, located on rendered lines.
"""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from meshdemo.captures import Capture, CaptureStore, RunRecord, is_cut
from meshdemo.drift import EarlierOutputs
from meshdemo.guide.cache import PageCache
from meshdemo.guide.pages import read_rendered_page
from meshdemo.model import Kind
from meshdemo.site import blocks
from meshdemo.site.blocks import PageSummary, StepView
from meshdemo.status import StepStatus

if TYPE_CHECKING:
    from meshdemo.replay import ReplayView

MARKER_PREFIX = "meshdemo-block-"


class Finding(NamedTuple):
    """Something the build log should say about a step (the reader sees it on the page)."""

    line: int  # 1-based line of the step's fence in the rendered page
    message: str
    warning: bool  # a warning fails `mkdocs build --strict`; the rest is info


@dataclass
class PlacedPage:
    lines: list[str]
    blocks: dict[str, str]  # marker → HTML
    summary: PageSummary
    step_ids: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _container_prefix(line: str, markup: str) -> str:
    """The prefix that keeps new lines inside the fence's container (list, quote, admonition)."""
    column = line.find(markup)
    prefix = line[: max(column, 0)]
    return "".join(char if char in "> \t" else " " for char in prefix)


def _read_capture(
    store: CaptureStore, step_id: str, line: int, findings: list[Finding]
) -> Capture | None:
    try:
        return store.read(step_id)
    except (ValueError, TypeError, OSError) as error:
        message = f"unreadable capture {store.path_for(step_id)}: {error}"
        findings.append(Finding(line, message, warning=True))
        return None


def _read_run(store: CaptureStore, findings: list[Finding]) -> RunRecord | None:
    try:
        return store.read_run()
    except (ValueError, TypeError, OSError) as error:
        findings.append(Finding(1, f"unreadable run record in {store.directory}: {error}", True))
        return None


def may_have_steps(text: str) -> bool:
    """A cheap test before reading the page: no fence, no step."""
    return "```" in text or "~~~" in text


def place_blocks(
    rendered: str,
    page: str,
    store: CaptureStore,
    docs_dir: Path,
    run_dir: Path | None = None,
    *,
    follow_replay: bool = False,
) -> PlacedPage | None:
    """The page with its blocks placed, or None when it has no step. Raises ParseError.

    ``run_dir`` (the project's ``.meshdemo``): where the kept runs say which outputs changed
    since the run before, and, with ``follow_replay``, where a running replay says how far
    it got.
    """
    if not may_have_steps(rendered):
        return None
    if run_dir is not None:
        read = PageCache(run_dir).read(page, rendered, docs_dir)
    else:
        read = read_rendered_page(page, rendered, docs_dir=docs_dir)
    if not read.steps:
        return None
    lines = rendered.split("\n")
    salt = secrets.token_hex(4)
    placed = PlacedPage(lines, {}, PageSummary())

    def marker(html: str) -> str:
        name = f"{MARKER_PREFIX}{salt}-{len(placed.blocks)}"
        placed.blocks[name] = html
        return name

    texts = _published(store.directory, docs_dir, page)  # where the page links whole outputs
    earlier = EarlierOutputs.of(run_dir) if run_dir is not None else None
    replay = None
    if run_dir is not None and follow_replay:  # only `mkdocs serve` follows a replay
        from meshdemo.replay import ReplayView

        replay = ReplayView.active(run_dir)
    # (first line, end line, replacement): lines[first:end] become the replacement
    edits: list[tuple[int, int, list[str]]] = []
    for step in read.steps:
        span = read.spans[step.id]
        placed.step_ids.append(step.id)
        prefix = _container_prefix(lines[span.start], span.markup)
        blank = prefix.rstrip()
        capture = _read_capture(store, step.id, step.line, placed.findings)
        state = replay.state(step.id) if replay is not None else None
        if replay is not None and state is not None:
            capture = replay.capture(step.id)  # the replayed run's, once the replay showed it
        changed = None
        if capture is not None and earlier is not None and state is None:
            changed = earlier.change(capture, step.options.tolerance)
        stale = capture is not None and capture.is_stale(step)
        whole_text = None
        if texts is not None and capture is not None and state is None and is_cut(capture.output):
            text_file = store.text_path_for(step.id)
            if text_file.is_file():
                whole_text = posixpath.join(texts, text_file.name)
        view = StepView(
            step, capture, stale=stale, changed=changed, replay=state, whole_text=whole_text
        )
        placed.summary.count(view)
        _note(view, placed.findings)
        if step.kind is Kind.SCREENSHOT:
            image = (docs_dir / page).parent / (step.options.image or "")
            shown = blocks.screenshot_lines(view, image.is_file())
            edits.append((span.start, span.end, [prefix + line for line in shown]))
            continue
        if step.expected is not None and span.expected is not None:
            box = marker(blocks.expected_block(step.expected))
            edits.append((span.expected[0], span.expected[1], [prefix + box]))
        output = blocks.step_block(view)
        if output:
            added = [blank, prefix + marker(output), blank]
            if view.status is not None and view.status.ran:
                link = blocks.whole_text_lines(view)
                added += [prefix + line for line in link] + ([blank] if link else [])
            edits.append((span.end, span.end, added))

    top = read.title_end or 0
    if replay is not None:
        edits.append((top, top, _replay_lines(replay, page, marker)))
    else:
        notice = blocks.banner(placed.summary, _read_run(store, placed.findings))
        if notice:
            edits.append((top, top, ["", marker(notice), ""]))
    if store.times_problem:
        message = f"{store.times_problem}; the captures' own times are shown"
        placed.findings.append(Finding(1, message, warning=True))
    for first, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first:end] = replacement
    return placed


def _published(folder: Path, docs_dir: Path, page: str) -> str | None:
    """``folder`` relative to the page, when the site publishes it (it is under docs_dir)."""
    try:
        inside = folder.resolve().relative_to(docs_dir.resolve())
    except ValueError:
        return None
    return posixpath.relpath(inside.as_posix(), posixpath.dirname(page) or ".")


def _replay_lines(replay: ReplayView, page: str, marker: Callable[[str], str]) -> list[str]:
    """The replay's banner, and a link to the step it is at (which the banner follows)."""
    played, total = replay.position
    lines = ["", marker(blocks.replay_banner(replay.progress.run_started_at, played, total)), ""]
    step = replay.at
    current_page = replay.current_page
    if step and current_page:
        here = posixpath.dirname(page) or "."
        target = "" if current_page == page else posixpath.relpath(current_page, here)
        lines += [blocks.follow_line(target, step), ""]
    return lines


def _note(view: StepView, findings: list[Finding]) -> None:
    """What the build log says about a step: stale and failed outputs are warnings."""
    step, capture = view.step, view.capture
    if capture is None:
        return
    if view.stale:
        findings.append(
            Finding(
                step.line,
                f"the captured output of step {step.id!r} is stale: the command changed since it "
                f"ran on {blocks.when(capture.started_at)} (run `meshdemo run --from {step.id}` "
                "again)",
                warning=True,
            )
        )
    elif view.status is not None and view.status not in (StepStatus.PASSED, StepStatus.SKIPPED):
        findings.append(
            Finding(
                step.line,
                f"step {step.id!r} {capture.status} in the run of "
                f"{blocks.when(capture.started_at)}; the page shows its output",
                warning=True,
            )
        )

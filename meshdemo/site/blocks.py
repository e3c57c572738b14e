"""How a step's capture, an expected output, a screenshot and a page's run banner look.

Each block is a pure function of plain data (a ``StepView``, an ``ExpectedOutput``, a
``PageSummary``) returning HTML, except screenshots, which are Markdown so that every engine
rewrites the image's URL for the page it lands on. Nothing here reads files or knows an engine:
``meshdemo.site.page`` decides what goes where, ``meshdemo.site.markdown`` runs it inside
Python-Markdown.

Everything a run recorded (output, notes, commands) is escaped here, in one place: what a
command printed can never become markup on the page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from meshdemo.captures import WHOLE_TEXT_LINES, Capture, RunRecord
from meshdemo.drift import OutputChange
from meshdemo.history import CAPTURES, HISTORY_DIR
from meshdemo.model import RUN_DIR, ExpectedOutput, Step
from meshdemo.site import ansi
from meshdemo.status import StepStatus

SHOWN_LINES = 20  # lines of an output shown before the rest is folded away
FOLD_MARGIN = 5  # folding away fewer lines than this helps no one: show them
# An output longer than this is embedded up to here (first lines; a failure's last lines): the
# page stays light whatever a command printed, and links the whole output's text file.
EMBEDDED_LINES = WHOLE_TEXT_LINES
# Material and Zensical leave elements with this attribute out of the search index: run
# status and captured outputs are not what a reader searches for.
NO_SEARCH = 'data-search-exclude=""'


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


def _text(text: str) -> str:
    """Run or author text on one line, escaped."""
    return html.escape(" ".join(text.split()), quote=False)


def _lines(count: int) -> str:
    return f"{count:,} line{'s' if count != 1 else ''}"


# -- the data a block is drawn from --------------------------------------------------------------


@dataclass
class StepView:
    """One step as its block shows it: the step, its last capture, what follows from them.

    The one object handed to the step renderer: a new mark (e.g. how the output drifted since
    an earlier run) is a new field here and a few lines in ``step_block``.
    """

    step: Step
    capture: Capture | None
    stale: bool = False
    changed: OutputChange | None = None  # the output differs from the run before
    replay: str | None = None  # in a running replay: "played", "current" or "pending"
    whole_text: str | None = None  # the whole output's text file, relative to the page

    @cached_property
    def newlines(self) -> int:
        """Line ends in the captured output: counted once for the block and its link (a pass
        over a 200 KB output costs a tenth of a millisecond)."""
        return self.capture.output.count("\n") if self.capture is not None else 0

    @cached_property
    def status(self) -> StepStatus | None:
        """(read a few times a block: worked out once)"""
        if self.capture is None:
            return None
        try:
            return StepStatus(self.capture.status)
        except ValueError:
            return None


@dataclass
class PageSummary:
    """What the steps of one page showed, for its banner and the build log."""

    steps: int = 0  # steps meant to run (skip="…" steps are not counted)
    passed: int = 0
    failed: int = 0
    missing: int = 0
    stale: int = 0
    skipped: int = 0  # captured as skipped (skip-if, provision on an existing cluster)
    latest: str | None = None  # started_at of the newest capture of the page
    missing_ids: list[str] = field(default_factory=list)
    changed: int = 0  # outputs that changed since the run before
    since: str | None = None  # started_at of the oldest of those earlier outputs

    def count(self, view: StepView) -> None:
        if view.step.options.skip is not None:
            return
        self.steps += 1
        if view.changed is not None:
            self.changed += 1
            before = view.changed.before.started_at
            self.since = before if self.since is None else min(self.since, before)
        capture = view.capture
        if capture is None:
            self.missing += 1
            self.missing_ids.append(view.step.id)
            return
        if self.latest is None or capture.started_at > self.latest:
            self.latest = capture.started_at
        if view.stale:
            self.stale += 1
        status = view.status
        if status is StepStatus.PASSED:
            self.passed += 1
        elif status is StepStatus.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1


# -- a step's output -----------------------------------------------------------------------------

_VERDICT = {
    StepStatus.PASSED: ("passed", "✔ passed"),
    StepStatus.FAILED: ("failed", "✘ failed"),
    StepStatus.TIMED_OUT: ("failed", "✘ timed out"),
    StepStatus.SHELL_EXITED: ("failed", "✘ ended the shell"),
    StepStatus.INTERRUPTED: ("interrupted", "■ interrupted"),
    StepStatus.SKIPPED: ("skipped", "not run"),
    StepStatus.NOT_RUN: ("skipped", "not run"),
}


def _facts(view: StepView) -> list[str]:
    """The status line's details: exit status, time, attempts, the run's note."""
    capture = view.capture
    assert capture is not None
    status = view.status
    facts: list[str] = []
    if status is not None and status.ran:
        if capture.exit_status is not None and status is not StepStatus.TIMED_OUT:
            wanted = view.step.options.exit
            failed = status is StepStatus.FAILED and wanted is not None
            facts.append(f"exit {capture.exit_status}{f', expected {wanted}' if failed else ''}")
        facts.append(html.escape(seconds(capture.duration), quote=False))
        if capture.attempts > 1:
            facts.append(f"{capture.attempts} attempts")
    if capture.note:
        facts.append(_text(capture.note))
    return facts


def _pre(lines: list[str]) -> str:
    return f'<pre class="meshdemo-terminal"><code>{chr(10).join(lines)}</code></pre>'


def _embedded(text: str, *, tail_first: bool, newlines: int | None = None) -> tuple[str, int]:
    """The lines of ``text`` a page embeds, and how many lines it has, trailing blank lines
    left out; found by searching for line ends, never splitting the whole output into lines
    (a 200 KB output is thousands of lines, of which a page embeds ``EMBEDDED_LINES``).
    ``newlines``: ``text.count("\\n")`` when the caller counted them already."""
    if "\r" in text:  # a search for one character is many times cheaper than replace's
        text = text.replace("\r\n", "\n")  # as many line ends as before
    last = len(text.rstrip())  # the last line holding more than white space ends after this
    if not last:
        return "", 0
    end = text.find("\n", last)
    body = text if end < 0 else text[:end]
    if newlines is None or end < 0:
        total = body.count("\n") + 1
    else:  # the line ends after the body: only white space follows it
        total = newlines - text.count("\n", end) + 1
    if total <= EMBEDDED_LINES:
        return body, total
    if tail_first:
        at = len(body)
        for _ in range(EMBEDDED_LINES):
            at = body.rfind("\n", 0, at)
        return body[at + 1 :], total
    at = -1
    for _ in range(EMBEDDED_LINES):
        at = body.find("\n", at + 1)
    return body[:at], total


def _output(
    text: str,
    *,
    tail_first: bool,
    capture_file: str,
    linked: bool = False,
    newlines: int | None = None,
) -> str:
    """The output as terminal lines; a long one folded, its first (or, failed, last) lines shown.

    Only the lines the page embeds are converted: a 200 KB output costs what its first
    ``EMBEDDED_LINES`` cost. ``linked``: the page links the whole output (see
    :func:`whole_text_line`); else the note says which file holds it. ``newlines``: as
    :func:`_embedded` takes it.
    """
    embedded, total = _embedded(text, tail_first=tail_first, newlines=newlines)
    lines = ansi.to_html_lines(embedded)
    while lines and not lines[-1].strip():  # a last line of escape codes alone
        lines.pop()
    if not lines:
        return '<p class="meshdemo-no-output">(no output)</p>'
    if len(lines) <= SHOWN_LINES + FOLD_MARGIN:
        return _pre(lines)
    left_out = ""
    if total > len(lines):
        where = "first" if tail_first else "last"
        where_whole = (
            "the whole output is linked below it"
            if linked
            else f"the whole output is in <code>{html.escape(capture_file, quote=False)}</code>"
        )
        left_out = (
            f'<p class="meshdemo-left-out">The {where} {_lines(total - len(lines))} of '
            f"{_lines(total)} are not shown here: {where_whole}.</p>"
        )
    if tail_first:  # a failure: what went wrong is at the end
        hidden, shown = lines[:-SHOWN_LINES], lines[-SHOWN_LINES:]
        summary = f"Show the {_lines(len(hidden))} before"
        return (
            f'{left_out}<details class="meshdemo-fold"><summary>{summary}</summary>'
            f"{_pre(hidden)}</details>{_pre(shown)}"
        )
    shown, hidden = lines[:SHOWN_LINES], lines[SHOWN_LINES:]
    if left_out:
        summary = f"Show the next {_lines(len(hidden))}"
    else:
        summary = f"Show all {_lines(total)} ({len(hidden):,} more)"
    return (
        f'{_pre(shown)}<details class="meshdemo-fold"><summary>{summary}</summary>'
        f"{_pre(hidden)}</details>{left_out}"
    )


def _replay_block(view: StepView) -> str:
    """A step a running replay has not shown yet: being replayed now, or still to come."""
    now = view.replay == "current"
    verdict = "▶ replaying now" if now else "waiting for the replay"
    return (
        f'<div class="meshdemo-run meshdemo-run--replay{" meshdemo-run--current" if now else ""}"'
        f' id="{_anchor(view.step.id)}" {NO_SEARCH}><p class="meshdemo-status">'
        f'<span class="meshdemo-verdict">{verdict}</span></p></div>'
    )


def _anchor(step_id: str) -> str:
    return f"run-{html.escape(step_id, quote=True)}"


def _changed(view: StepView) -> str:
    """What the output was in the run before, one click away."""
    change = view.changed
    if change is None:
        return ""
    before = change.before
    kept = f"{RUN_DIR}/{HISTORY_DIR}/{before.run_id}/{CAPTURES}/{before.id}.json"
    return (
        '<details class="meshdemo-fold meshdemo-drift">'
        f"<summary>Changed since {_text(when(before.started_at))}: the output then</summary>"
        f"{_output(before.output, tail_first=False, capture_file=kept)}</details>"
    )


def step_block(view: StepView) -> str:
    """The HTML shown under a bash or python step: nothing at all when it has no capture."""
    if view.replay in ("current", "pending"):
        return _replay_block(view)
    capture = view.capture
    if capture is None:
        return ""
    status = view.status
    kind, verdict = _VERDICT.get(status, ("skipped", _text(str(capture.status))))  # type: ignore[arg-type]
    facts = " · ".join(_facts(view))
    if view.changed is not None:
        facts += f" · changed since {_text(when(view.changed.before.started_at))}"
    if view.replay == "played":
        facts += " · replayed"
    # no <div> inside the block: Material's search index would stop leaving the block out at
    # the first nested </div>
    changed = " meshdemo-status--changed" if view.changed is not None else ""
    status_line = (
        f'<p class="meshdemo-status{changed}"><span class="meshdemo-verdict">{verdict}</span>'
        f"{f' · {facts}' if facts else ''}</p>"
    )
    stale = ""
    if view.stale:
        language = "bash" if view.step.kind.value == "bash" else view.step.kind.value
        stale = (
            '<aside class="meshdemo-stale"><strong>Stale:</strong> the command above changed '
            "since this output was captured. "
            '<details class="meshdemo-fold"><summary>The command that ran</summary>'
            f'<pre class="meshdemo-terminal language-{language}"><code>'
            f"{html.escape(capture.command, quote=False)}</code></pre></details></aside>"
        )
    body = ""
    if status is None or status.ran:
        body = _output(
            capture.output,
            tail_first=status is not None and status.failed,
            capture_file=f"captures/{capture.id}.json",
            linked=view.whole_text is not None,
            newlines=view.newlines,
        )
    classes = f"meshdemo-run meshdemo-run--{kind}" + (" meshdemo-run--stale" if view.stale else "")
    return (
        f'<div class="{classes}" id="{_anchor(view.step.id)}" {NO_SEARCH}>'
        f"{status_line}{stale}{body}{_changed(view)}</div>"
    )


def whole_text_lines(view: StepView) -> list[str]:
    """A Markdown link to the whole output of a step whose page shows only part of it.

    Markdown, not HTML: MkDocs and Zensical turn a link to a file of the docs folder into the
    right URL for the page, whatever the URL style. Left out of search, as the output is.
    """
    capture = view.capture
    if view.whole_text is None or capture is None:
        return []
    lines = view.newlines + (not capture.output.endswith("\n"))
    size = len(capture.output.encode())
    amount = f"{size / 1000:,.0f} kB" if size >= 1000 else f"{size} bytes"
    return [
        f"[The whole output as text: {_lines(lines)}, {amount}]({view.whole_text})",
        '{: .meshdemo-whole-output data-search-exclude="" }',
    ]


def expected_block(expected: ExpectedOutput) -> str:
    """An ``.expected`` fence: its text under its title, as the page declares it."""
    title = _text(expected.title or "Example output")
    text = html.escape(expected.text, quote=False)
    return (
        f'<div class="admonition example meshdemo-expected">'
        f'<p class="admonition-title">{title}</p>'
        f"<pre><code>{text}</code></pre></div>"
    )


# -- screenshots (Markdown, so the engine rewrites the image URL for the page) -------------------

_MARKDOWN_SPECIALS = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()#+-.!|<>"})


def _markdown_text(text: str) -> str:
    """Text that Markdown shows as written: specials escaped, HTML as entities."""
    return html.escape(" ".join(text.split()), quote=False).translate(_MARKDOWN_SPECIALS)


def screenshot_lines(view: StepView, image_exists: bool) -> list[str]:
    """The image (a link to itself, full size) and its caption; nothing without an image."""
    if not image_exists:
        return []
    caption = " ".join(view.step.command.split())
    image = view.step.options.image or ""
    src = image.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
    alt = html.escape(caption, quote=False).replace("\\", "\\\\").replace("[", "\\[")
    alt = alt.replace("]", "\\]")
    lines = [f'[![{alt}]({src}){{ loading=lazy }}]({src} "Open the full-size image")']
    text = f"{_markdown_text(caption)}." if caption else ""
    capture = view.capture
    if capture is not None and view.status is not StepStatus.PASSED:
        failed = f" ({_markdown_text(capture.note)})" if capture.note else ""
        text += f" The last attempt to take it failed{failed}: this image is from an earlier run."
    if text.strip():
        lines.append(text.strip())
    lines.append("{ .meshdemo-screenshot }")
    return lines


# -- the page ------------------------------------------------------------------------------------


def _tools(run: RunRecord | None) -> str:
    if run is None or not run.tool_versions:
        return ""
    shown = []
    for name, version in run.tool_versions.items():
        first = next((ln.strip() for ln in str(version).splitlines() if ln.strip()), "?")
        shown.append(first if first.lower().startswith(name.lower()) else f"{name} {first}")
    return " with " + ", ".join(shown)


def banner(summary: PageSummary, run: RunRecord | None) -> str:
    """Once per page: when and with what it was verified, or that no run is recorded yet.

    A page with no step meant to run (all skipped by design, or none) says nothing.
    """
    if summary.steps == 0:
        return ""
    if summary.latest is None:
        return (
            f'<p class="meshdemo-notice" {NO_SEARCH}>No run of this page has been recorded yet.</p>'
        )
    counts = [f"{summary.passed} of {summary.steps} steps passed"]
    for number, word in (
        (summary.failed, "failed"),
        (summary.stale, "stale"),
        (summary.missing, "not captured yet"),
        (summary.skipped, "skipped in that run"),
    ):
        if number:
            counts.append(f"{number} {word}")
    if summary.changed:
        counts.append(f"{summary.changed} changed since the run of {when(summary.since)}")
    clean = not (summary.failed or summary.stale or summary.missing)
    verified = "Verified" if clean else "Partly verified"
    title = _text(f"{verified} on {when(summary.latest)}{_tools(run)}")
    kind = "ok" if clean else "partial"
    return (
        f'<div class="meshdemo-banner meshdemo-banner--{kind}" {NO_SEARCH}>'
        f'<p class="meshdemo-banner__title">{title}</p>'
        f"<p>{_text('; '.join(counts))}.</p></div>"
    )


# -- a replay, followed by the served site -----------------------------------------------------

# Sends the reader to the step being replayed: to its page when it is another one (the page is
# reloaded by `mkdocs serve` at each step of the replay), else to the step itself.
_FOLLOW = """<script>(() => { const go = () => {
const link = document.querySelector("a.meshdemo-replay-follow"); if (!link) return;
if (link.pathname !== location.pathname) { location.replace(link.href); return; }
const step = link.hash && document.getElementById(link.hash.slice(1));
if (step) step.scrollIntoView({ block: "center" }); };
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
else go(); })();</script>"""


def replay_banner(started_at: str, played: int, total: int) -> str:
    """Above a page while a replay runs: it is a replay, of which run, and how far it got."""
    return (
        f'<div class="meshdemo-banner meshdemo-banner--replay" {NO_SEARCH}>'
        f'<p class="meshdemo-banner__title">▶ Replay of the run of {_text(when(started_at))}: '
        "nothing is being executed</p>"
        f"<p>{played} of {total} steps replayed; the outputs are those that run printed.</p>"
        f"{_FOLLOW}</div>"
    )


def follow_line(target: str, step_id: str) -> str:
    """The Markdown link to the step being replayed (the engine rewrites it for the page)."""
    return (
        f"[Now replaying: {_markdown_text(step_id)}]({target}#{_anchor(step_id)})"
        "{ .meshdemo-replay-follow }"
    )

"""mkdocs-macros module: the last run's record, for pages that talk about the run itself.

Exposes to pages:

* ``meshdemo_run``: the last run (``RunRecord``), or ``None`` before any run;
* ``chapter_durations()``: a Markdown table of how long each page's steps took in that run;
* ``capture(step_id)``: a step's ``Capture`` or ``None``, e.g. ``{{ capture("x").duration }}``;
* ``step_options_table()``: the table of step options (``meshdemo.guide.options``), for the
  reference page: the page lists exactly what the parser accepts.

The guide's pinned versions come from ``versions.yml`` through macros' ``include_yaml``, not from
here. Everything is read from ``docs_dir/captures`` and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshdemo.captures import Capture, CaptureStore, RunRecord
from meshdemo.guide.options import reference_table
from meshdemo.site.blocks import seconds, when
from meshdemo.site.markdown import CAPTURES
from meshdemo.status import StepStatus


def _page_titles(nav: Any, titles: dict[str, str] | None = None) -> dict[str, str]:
    """page path → its title in mkdocs.yml's nav (``- Title: page.md``)."""
    titles = {} if titles is None else titles
    if isinstance(nav, list):
        for item in nav:
            _page_titles(item, titles)
    elif isinstance(nav, dict):
        for title, value in nav.items():
            if isinstance(value, str):
                titles.setdefault(value, str(title))
            else:
                _page_titles(value, titles)
    return titles


def chapter_table(run: RunRecord | None, titles: dict[str, str]) -> str:
    """Per-page step counts and durations of ``run``, as a Markdown table, in run order."""
    if run is None or not run.steps:
        return (
            "No run has been recorded on this copy of the guide yet (`meshdemo run` records one)."
        )
    chapters: dict[str, list[dict[str, Any]]] = {}
    for step in run.steps:
        chapters.setdefault(str(step.get("page", "?")), []).append(step)
    rows = [
        "| Chapter | Steps | Passed | Time |",
        "|---|--:|--:|--:|",
    ]
    total = 0.0
    for page, steps in chapters.items():
        duration = sum(float(s.get("duration") or 0) for s in steps)
        total += duration
        passed = sum(1 for s in steps if s.get("status") == StepStatus.PASSED)
        title = titles.get(page, page).replace("|", "\\|")
        rows.append(f"| {title} | {len(steps)} | {passed} | {seconds(duration)} |")
    rows.append(f"| **All** | **{len(run.steps)}** | | **{seconds(total)}** |")
    status = f", {run.status}" if run.status else ""
    return "\n".join(rows) + f"\n\nFrom the run of {when(run.started_at)}{status}.\n"


def define_env(env: Any) -> None:
    docs_dir = Path(env.conf["docs_dir"])
    if not docs_dir.is_absolute():  # Zensical keeps it relative to the folder of mkdocs.yml
        docs_dir = Path(env.conf.get("root_dir") or ".") / docs_dir
    store = CaptureStore(docs_dir / CAPTURES)
    run = store.read_run()
    env.variables["meshdemo_run"] = run
    titles = _page_titles(env.conf.get("nav") or [])

    @env.macro
    def chapter_durations() -> str:
        """A table of each chapter's step time in the last recorded run."""
        return chapter_table(store.read_run(), titles)

    env.macro(reference_table, "step_options_table")

    @env.macro
    def capture(step_id: str) -> Capture | None:
        """The last capture of a step, or None."""
        return store.read(step_id)

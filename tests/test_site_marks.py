"""Marks from the run history on a page: outputs changed since the run before, a replay."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_render import capture, find, render, runs, steps_of, store_of, text, tree

from meshdemo.captures import RunRecord
from meshdemo.history import History
from meshdemo.replay import ReplayProgress
from meshdemo.site import markdown

PAGE = "# Install\n\n``` { .bash #a }\nkubectl get pods\n```\n\n``` { .bash #b }\ntrue\n```\n"
EARLIER, LATER = "2026-11-25T08:00:00.000+00:00", "2026-11-26T08:12:40.000+00:00"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as the current one (plain Python-Markdown's root) with its docs."""
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def keep(project: Path, run_id: str, started: str, outputs: dict[str, str]) -> Path:
    steps = steps_of(PAGE, project / "docs")
    captures = [
        capture(steps[i], out, run_id=run_id, started_at=started) for i, out in outputs.items()
    ]
    entries = [{"id": c.id, "page": "page.md", "line": 1, "status": "passed"} for c in captures]
    kept = History(project / ".meshdemo" / "history").keep(
        RunRecord(run_id, started, steps=entries), captures, project / "docs"
    )
    assert kept is not None
    return kept.root


def show(project: Path, run_id: str, started: str, outputs: dict[str, str]) -> None:
    """The captures the pages show: those of the last run."""
    steps = steps_of(PAGE, project / "docs")
    for step_id, output in outputs.items():
        store_of(project / "docs").write(
            capture(steps[step_id], output, run_id=run_id, started_at=started)
        )
    store_of(project / "docs").write_run(RunRecord(run_id, started))


def test_an_output_changed_since_the_run_before_is_marked_with_the_old_one_a_click_away(
    project: Path,
) -> None:
    before = {"a": "books-5d8f9c7b6d-x2x9q 2/2 Running 3m\n", "b": "same 10.0.0.1\n"}
    after = {"a": "books-7c9d4b8f6-kq2zt 0/2 CrashLoopBackOff 5s\n", "b": "same 10.0.0.2\n"}
    keep(project, "r1", EARLIER, before)
    keep(project, "r2", LATER, after)
    show(project, "r2", LATER, after)
    root = tree(render(PAGE, project / "docs"))
    first, second = runs(root)
    assert text(find(first, "p")).endswith("changed since 2026-11-25 08:00 UTC")
    assert "meshdemo-status--changed" in (find(first, "p").get("class") or "")
    [old] = [d for d in first.iter("details") if "meshdemo-drift" in (d.get("class") or "")]
    assert text(find(old, "summary")) == "Changed since 2026-11-25 08:00 UTC: the output then"
    assert "Running 3m" in text(old) and "CrashLoopBackOff" not in text(old)
    assert "changed" not in text(find(second, "p"))  # only an IP moved: normalised away
    banner = list(root)[1]
    assert "1 changed since the run of 2026-11-25 08:00 UTC" in text(banner)


def test_without_history_nothing_is_marked(project: Path) -> None:
    show(project, "r2", LATER, {"a": "x\n", "b": "y\n"})
    html = render(PAGE, project / "docs")
    assert "changed since" not in html.lower() and "meshdemo-drift" not in html


def test_a_page_shows_a_running_replay_as_far_as_it_got(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    show(project, "r2", LATER, {"a": "shown now\n", "b": "shown too\n"})
    kept = keep(project, "r1", EARLIER, {"a": "as replayed\n", "b": "later\n"})
    progress = ReplayProgress("r1", str(kept), EARLIER, ["a", "b"], played=["a"], current="b")
    progress.write(project / ".meshdemo")  # this process stands for the replay: it is alive
    assert "Replay of the run" not in render(PAGE, project / "docs")  # a build ignores it
    monkeypatch.setattr(markdown, "follow_replay", True)  # as `mkdocs serve` sets it
    html = render(PAGE, project / "docs")
    [script] = re.findall(r"<script>.*?</script>", html, flags=re.DOTALL)
    assert "a.meshdemo-replay-follow" in script and "location.replace" in script
    root = tree(html.replace(script, ""))
    first, second = runs(root)
    assert "as replayed" in text(first) and "shown now" not in text(first)
    assert text(find(first, "p")).endswith("· replayed")
    assert text(second) == "▶ replaying now" and second.get("id") == "run-b"
    banner = list(root)[1]
    assert text(find(banner, "p")).startswith("▶ Replay of the run of 2026-11-25 08:00 UTC")
    assert "1 of 2 steps replayed" in text(banner)
    [follow] = [a for a in root.iter("a") if a.get("class") == "meshdemo-replay-follow"]
    assert follow.get("href") == "#run-b"

    ReplayProgress.clear(project / ".meshdemo")
    after = render(PAGE, project / "docs")
    assert "shown now" in after and "Replay of the run" not in after

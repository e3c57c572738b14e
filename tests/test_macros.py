"""The macros module's table of chapter durations, from a run record."""

from __future__ import annotations

from meshdemo.captures import RunRecord
from meshdemo.site.macros import _page_titles, chapter_table


def test_no_run_yet_is_said_in_a_sentence() -> None:
    empty = RunRecord(run_id="r", started_at="2026-11-26T08:00:00+00:00")
    for run in (None, empty):
        assert chapter_table(run, {}) == (
            "No run has been recorded on this copy of the guide yet (`meshdemo run` records one)."
        )


def test_chapters_in_run_order_with_their_titles_and_totals() -> None:
    run = RunRecord(
        run_id="r1",
        started_at="2026-11-26T08:00:00+00:00",
        status="failed",
        steps=[
            {"id": "a", "page": "cluster.md", "status": "passed", "duration": 61.5},
            {"id": "b", "page": "cluster.md", "status": "passed", "duration": 2.0},
            {"id": "c", "page": "cli.md", "status": "failed", "duration": 0.25},
        ],
    )
    titles = _page_titles(
        [{"Guide": [{"Create the cluster": "cluster.md"}, {"The | CLI": "cli.md"}]}, "x.md"]
    )
    assert chapter_table(run, titles).splitlines() == [
        "| Chapter | Steps | Passed | Time |",
        "|---|--:|--:|--:|",
        "| Create the cluster | 2 | 2 | 1 min 04 s |",
        "| The \\| CLI | 1 | 0 | 250 ms |",
        "| **All** | **3** | | **1 min 04 s** |",
        "",
        "From the run of 2026-11-26 08:00 UTC, failed.",
    ]

"""benchmarks/compare.py runs end to end at a tiny size and prints its tables.

Nothing is timed here: the figures of one round on a few steps mean nothing. What is checked
is that every section still runs against the current engine, CLI and site rendering, that
each peer either ran or was skipped with a line saying why, and that the checks behind the
figures (every step captured, no secret in a capture) passed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from peers import MESHDEMO, PEERS  # noqa: E402

TOOLS = ("floor", "mktestdocs")


def test_compare_runs_every_section_at_a_tiny_size(tmp_path: Path) -> None:
    figures_file = tmp_path / "figures.json"
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "compare.py"),
        *("--rounds", "1", "--steps", "2", "--work-steps", "2"),
        *("--large-steps", "1", "--large-kb", "1", "--list-steps", "2", "--list-pages", "2"),
        *("--tools", ",".join(TOOLS), "--json", str(figures_file)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for title in (
        "Machine",
        "2 trivial steps",
        "2 steps of small real work",
        "1 steps printing 1 KB each",
        "meshdemo list, 2 pages",
        "Start-up on the guide",
        "mkdocs build",
        "Targets",
    ):
        assert title in out, f"no {title!r} table in:\n{out}"
    assert "failed" not in out, out + done.stderr

    figures = json.loads(figures_file.read_text())
    for peer in PEERS:
        if peer.name not in (*TOOLS, MESHDEMO.name):
            assert peer.label not in out  # not asked for
        elif peer.module and importlib.util.find_spec(peer.module) is None:
            assert f"{peer.label}: skipped, {peer.name} is not installed" in out
            assert ".[bench]" in out
        else:
            for shape in ("trivial", "work", "large"):
                measured = figures[shape][peer.name]
                assert measured["median"] > 0, (shape, peer.name, measured)
    # the trivial shape has two sizes, so a cost per extra step
    assert figures["trivial"][MESHDEMO.name]["per_step"] is not None
    assert len(figures["list"]["warm"]) == 1
    assert figures["site"]["ratio"] > 0 and figures["site"]["first_ratio"] > 0
    assert figures["site"]["serve_ratio"] > 0
    verdicts = {target: verdict for target, _, _, verdict in figures["targets"]}
    assert verdicts["1 \N{MULTIPLICATION SIGN} 1 KB: secrets masked in every capture"] == "met"


def test_a_ratio_shows_the_middle_half_of_the_rounds_from_four_rounds_on(tmp_path: Path) -> None:
    import compare

    def timed(*times: float) -> compare.Timed:
        return compare.Timed(compare.Job(["true"], tmp_path), tmp_path / "log", list(times))

    # round by round: 1.0, 1.2, 1.1, 1.4, 0.9 the time of the other
    top, bottom = timed(1.0, 1.2, 2.2, 1.4, 0.9), timed(1, 1, 2, 1, 1)
    assert compare.paired(top, bottom) == 1.1
    assert compare.ratio_spread(top, bottom) == "1.10\N{MULTIPLICATION SIGN} (0.95\N{EN DASH}1.30)"
    # three rounds: no quartiles worth the name
    assert compare.ratio_spread(timed(1, 2, 3), timed(1, 1, 1)) == "2.00\N{MULTIPLICATION SIGN}"
    failed = timed(1, 1, 1, 1)
    failed.failure = "exit 1"
    assert compare.ratio_spread(failed, bottom) == "—"

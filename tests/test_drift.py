"""``meshdemo diff`` on real runs of a small guide: real bash, a real page shot in Chromium.

Run 1 and run 2 differ in one step's output, one step's duration and the served page a
screenshot shows; they also differ in what normalisation removes (a random pod suffix, a
timestamp), in a percentage within the page's tolerance and in a masked clock on the page.
The diff must name exactly the three, and exit 1. Run 3 repeats run 2: nothing drifts, exit 0.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from meshdemo import drift
from meshdemo.captures import Capture, RunRecord, output_digest
from meshdemo.drift import Change, EarlierOutputs, Thresholds, output_drift
from meshdemo.errors import MeshdemoError
from meshdemo.history import History
from meshdemo.pixels import difference

FIXTURE = Path(__file__).parent / "fixtures" / "drift"
BLOCK = {"before": "rgb(20, 160, 60)", "after": "rgb(200, 30, 40)"}


class _Dashboard(http.server.BaseHTTPRequestHandler):
    """A page with a block whose colour the test changes, and a clock that always changes."""

    colour = BLOCK["before"]

    def do_GET(self) -> None:
        now = datetime.now(UTC).strftime("%H:%M:%S.%f")
        body = f"""<!doctype html><html><head><style>
body {{ margin: 0; font: 20px sans-serif; background: white; }}
#block {{ position: absolute; left: 20px; top: 20px; width: 200px; height: 150px;
          background: {self.colour}; }}
#clock {{ position: absolute; left: 240px; top: 20px; }}
</style></head><body><h1 id="ready" style="position:absolute;top:200px;left:20px">Books</h1>
<div id="block"></div><div id="clock">{now}</div></body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dashboard() -> Iterator[type[_Dashboard]]:
    handler = type("Dashboard", (_Dashboard,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.port = server.server_address[1]  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def guide(tmp_path: Path, dashboard: type[_Dashboard]) -> Path:
    target = tmp_path / "guide"
    shutil.copytree(FIXTURE, target)
    page = target / "docs" / "steps.md"
    page.write_text(page.read_text().replace("PORT", str(dashboard.port)))  # type: ignore[attr-defined]
    return target


def meshdemo(guide: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshdemo", *args],
        cwd=guide,
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_guide(guide: Path, chromium: str, **env: str) -> None:
    done = meshdemo(guide, "run", MESHDEMO_CHROMIUM=chromium, **env)
    assert done.returncode == 0, done.stdout + done.stderr


def drifted_steps(markdown: str) -> list[str]:
    """The step ids in the drift table of a markdown report."""
    return [line.split("`")[1] for line in markdown.splitlines() if line.startswith("| `")]


def test_diff_names_exactly_what_drifted(
    guide: Path, dashboard: type[_Dashboard], chromium_path: str
) -> None:
    run_guide(guide, chromium_path)
    git = ["git", "-C", str(guide), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "docs"], check=True)
    subprocess.run([*git, "commit", "-qm", "the first run"], check=True)
    first = json.loads((guide / "docs" / "captures" / "run.json").read_text())["run_id"]

    dashboard.colour = BLOCK["after"]
    # 8 s more: beyond the default threshold (5 s and half the old time) by more than a
    # loaded machine's jitter in starting Chromium for the screenshot step
    changed = {"DRIFT_VERSION": "v2", "DRIFT_SLEEP": "8", "DRIFT_RATE": "98.9"}
    run_guide(guide, chromium_path, **changed)

    done = meshdemo(guide, "diff")
    assert done.returncode == 1, done.stdout + done.stderr
    text = done.stdout
    assert "3 of 6 steps drifted" in text, text
    assert "-server version: v1" in text and "+server version: v2" in text
    assert "books-" not in text  # the pod line: its suffix and timestamp are not drift
    for unchanged in ("pods", "rate", "server"):
        assert unchanged in text  # listed, as unchanged
    shot = guide / ".meshdemo" / "diff"
    [side_by_side] = list(shot.glob("*/shot.png"))
    with Image.open(side_by_side) as image:
        assert image.width > 3 * 400  # old | new | changes

    report = meshdemo(guide, "diff", "--format", "markdown")
    assert report.returncode == 1
    assert drifted_steps(report.stdout) == ["version", "wait", "shot"]
    assert "| `version` | steps.md:" in report.stdout and "| output |" in report.stdout
    assert "```diff" in report.stdout

    # the same report against the captures committed after the first run
    committed = meshdemo(guide, "diff", "git:HEAD", "--format", "markdown")
    assert committed.returncode == 1, committed.stderr
    assert drifted_steps(committed.stdout) == ["version", "wait", "shot"]
    assert "(git:HEAD)" in committed.stdout
    by_id = meshdemo(guide, "diff", first[:18], "--format", "markdown")
    assert drifted_steps(by_id.stdout) == ["version", "wait", "shot"]

    run_guide(guide, chromium_path, **changed)
    same = meshdemo(guide, "diff")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "0 of 6 steps drifted" in same.stdout
    quiet = meshdemo(guide, "diff", "--format", "markdown")
    assert quiet.returncode == 0 and drifted_steps(quiet.stdout) == []


def test_bad_references_exit_2(guide: Path) -> None:
    none = meshdemo(guide, "diff")
    assert none.returncode == 2 and "no run kept: a diff needs two" in none.stderr
    unknown = meshdemo(guide, "diff", "nope", "docs")
    assert unknown.returncode == 2 and "no kept run 'nope'" in unknown.stderr
    not_git = meshdemo(guide, "diff", "git:HEAD")
    assert not_git.returncode == 2 and "git:HEAD" in not_git.stderr


def test_git_reference_with_docs_outside_any_repository_exits_2(guide: Path, tmp_path: Path):
    outside = tmp_path / "outside-docs"
    shutil.move(guide / "docs", outside)
    config = guide / "mkdocs.yml"
    config.write_text(config.read_text() + f"\ndocs_dir: {outside}\n")
    subprocess.run(["git", "init", "-q", str(guide)], check=True)
    done = meshdemo(guide, "diff", "git:HEAD", "docs")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"git:HEAD: {outside} is not in a git repository" in done.stderr


def test_output_drift_is_the_normalised_difference() -> None:
    assert output_drift("ok 100.00%\n", "ok 99.00%\n", 2) == []
    assert output_drift("ok 100.00%\n", "ok 60.00%\n", 2) == [
        "@@ -1 +1 @@",
        "-ok 100.00%",
        "+ok 60.00%",
    ]
    pods = "books-5d8f9c7b6d-x2x9q 2/2 Running 3m12s 10.244.0.7"
    assert output_drift(pods, "books-7c9d4b8f6-kq2zt 2/2 Running 15s 10.244.0.9", None) == []


def test_masked_regions_do_not_count(tmp_path: Path) -> None:
    before, after = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (100, 100), "white").save(before)
    changed = Image.new("RGB", (100, 100), "white")
    changed.paste(Image.new("RGB", (20, 10), "black"), (10, 10))  # 2 % of the pixels
    changed.save(after)
    assert difference(before, after).share == pytest.approx(0.02)
    assert difference(before, after, [[5, 5, 30, 20]]).share == 0.0
    assert difference(before, after, [[10, 10, 10, 10]]).share == pytest.approx(100 / 9900)
    Image.new("RGB", (100, 90), "white").save(after)
    assert difference(before, after).share == 1.0
    assert Thresholds().pixels < 0.02 and Change.SCREENSHOT == "screenshot"


def _kept(history: History, run_id: str, started: str, outputs: dict[str, str]) -> None:
    captures = [
        Capture(
            id=step_id,
            kind="bash",
            page="p.md",
            line=1,
            command="c",
            command_hash="h",
            status="passed",
            exit_status=0,
            started_at=started,
            duration=0.1,
            output=output,
            run_id=run_id,
        )
        for step_id, output in outputs.items()
    ]
    steps = [{"id": c.id, "page": "p.md", "line": 1, "status": "passed"} for c in captures]
    history.keep(RunRecord(run_id, started, steps=steps), captures, Path("."))


def test_a_shown_output_is_compared_with_the_latest_earlier_run_that_has_the_step(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "history")
    _kept(history, "r1", "2026-01-01T10:00:00.000+00:00", {"x": "a 1s\n", "y": "old\n"})
    _kept(history, "r2", "2026-01-02T10:00:00.000+00:00", {"x": "a 2s\n"})  # a partial run
    _kept(history, "r3", "2026-01-03T10:00:00.000+00:00", {"x": "b\n", "y": "new\n"})
    earlier = EarlierOutputs(history)
    [r1, r2, r3] = history.runs()
    assert earlier.change(r2.captures()["x"]) is None  # only a duration moved: no change
    changed = earlier.change(r3.captures()["x"])
    assert changed is not None and changed.before.run_id == "r2"
    assert changed.diff == ["@@ -1 +1 @@", "-a <DUR>", "+b"]
    y = earlier.change(r3.captures()["y"])
    assert y is not None and y.before.run_id == "r1"  # r2 did not run it
    assert earlier.change(r1.captures()["x"]) is None  # nothing before the first run


def test_an_unchanged_output_is_told_by_its_digest_without_reading_the_earlier_run(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "history")
    _kept(history, "r1", "2026-01-01T10:00:00.000+00:00", {"x": "same\n", "y": "old\n"})
    _kept(history, "r2", "2026-01-02T10:00:00.000+00:00", {"x": "same\n", "y": "new\n"})
    [r1, r2] = history.runs()
    record = json.loads((r1.root / "captures" / "run.json").read_text())
    for entry in record["steps"]:
        entry["output_digest"] = output_digest({"x": "same\n", "y": "old\n"}[entry["id"]])
    (r1.root / "captures" / "run.json").write_text(json.dumps(record))
    (r1.root / "captures" / "steps.jsonl").write_text("{unreadable\n")  # never read for x
    earlier = EarlierOutputs(history)
    assert earlier.change(r2.captures()["x"]) is None
    with pytest.raises(MeshdemoError, match="unreadable capture"):
        earlier.change(r2.captures()["y"])  # a different digest: the captures are read


def test_a_rebuild_does_not_compare_the_same_outputs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path / "history")
    _kept(history, "r1", "2026-01-01T10:00:00.000+00:00", {"x": "old\n"})
    _kept(history, "r2", "2026-01-02T10:00:00.000+00:00", {"x": "new\n"})
    earlier = EarlierOutputs(history)
    shown = history.runs()[-1].captures()["x"]
    compared: list[tuple[str, str, float | None]] = []
    real = drift.output_drift

    def counting(old: str, new: str, tolerance: float | None) -> list[str]:
        compared.append((old, new, tolerance))
        return real(old, new, tolerance)

    monkeypatch.setattr(drift, "output_drift", counting)
    first = earlier.change(shown)
    again = earlier.change(shown)  # the page built again, the history unchanged
    assert first is not None and first.diff == ["@@ -1 +1 @@", "-old", "+new"]
    assert again is first and len(compared) == 1


def test_only_the_newest_side_by_side_folders_are_kept(tmp_path: Path) -> None:
    from meshdemo.commands.diff import KEEP_DIFFS, _prune

    for number in range(KEEP_DIFFS + 2):
        folder = tmp_path / f"run{number:02d}..next"
        folder.mkdir()
        os.utime(folder, (1_000_000 + number, 1_000_000 + number))
    _prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir())[0] == "run02..next"
    assert len(list(tmp_path.iterdir())) == KEEP_DIFFS


def test_the_digest_of_a_shown_output_comes_from_the_run_that_took_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path / "history")
    _kept(history, "r1", "2026-01-01T10:00:00.000+00:00", {"x": "same\n", "y": "old\n"})
    _kept(history, "r2", "2026-01-02T10:00:00.000+00:00", {"x": "same\n", "y": "new\n"})
    for run in history.runs():  # each record keeps its digests, as a run writes them
        path = run.root / "captures" / "run.json"
        record = json.loads(path.read_text())
        outputs = {c.id: c.output for c in run.captures().values()}
        for entry in record["steps"]:
            entry["output_digest"] = output_digest(outputs[entry["id"]])
        path.write_text(json.dumps(record))
    earlier = EarlierOutputs(history)
    hashed: list[str] = []

    def digest(text: str) -> str:
        hashed.append(text)
        return ""

    monkeypatch.setattr(drift, "output_digest", digest)
    shown = history.runs()[-1].captures()
    assert earlier.change(shown["x"]) is None  # r2's record: the same digest as r1's
    changed = earlier.change(shown["y"])
    assert changed is not None and changed.before.output == "old\n"
    assert hashed == []  # no shown output was hashed again

"""The run history: every run of the runnable fixture kept under .meshdemo/history, bounded."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from meshdemo.captures import Capture, CaptureStore, RunRecord, output_digest
from meshdemo.errors import ConfigError, MeshdemoError
from meshdemo.guide.pages import load_project
from meshdemo.history import CAPTURES, History, history_size, keep_run, read_run, resolve
from meshdemo.model import Project
from meshdemo.run.options import RunOptions
from meshdemo.run.runner import Runner
from meshdemo.status import StepStatus

FIXTURE = Path(__file__).parent / "fixtures" / "runnable"


def copy_fixture(tmp_path: Path, history: int | None = None) -> Path:
    target = tmp_path / "guide"
    shutil.copytree(FIXTURE, target)
    if history is not None:
        config = target / "mkdocs.yml"
        config.write_text(
            config.read_text().replace("  meshdemo:\n", f"  meshdemo:\n    history: {history}\n")
        )
    return target


def run_guide(root: Path, **options: object) -> str:
    project = load_project(root / "mkdocs.yml")
    result = Runner(project, RunOptions(**options)).run(project.steps)  # type: ignore[arg-type]
    return result.run_id


def test_a_run_is_kept_whole(tmp_path: Path) -> None:
    root = copy_fixture(tmp_path)
    run_id = run_guide(root)
    project = load_project(root / "mkdocs.yml")
    [kept] = History.of(project).runs()
    assert kept.root == root / ".meshdemo" / "history" / run_id
    assert kept.record.run_id == run_id
    assert [s["id"] for s in kept.record.steps] == [s.id for s in project.steps]
    captures = kept.captures()
    # every step that ran has its capture; identical to what the pages show
    assert set(captures) == {s.id for s in project.steps}
    docs = json.loads((root / "docs" / "captures" / "greet.json").read_text())
    assert vars(captures["greet"]) == docs
    assert captures["greet"].output == "hello books\n"
    # the record keeps a digest of each captured output (pages compare runs with it)
    [greet] = [s for s in kept.record.steps if s["id"] == "greet"]
    assert greet["output_digest"] == output_digest("hello books\n")
    assert captures["greet"].started_at and captures["greet"].duration >= 0
    assert not list((root / ".meshdemo" / "history").glob(".*")), "no staging folder left"


def test_a_kept_run_holds_its_captures_in_one_file_that_outlives_the_next_run(
    tmp_path: Path,
) -> None:
    root = copy_fixture(tmp_path)
    first = run_guide(root)
    folder = root / ".meshdemo" / "history" / first / "captures"
    assert sorted(p.name for p in folder.iterdir()) == ["run.json", "steps.jsonl"]
    recorded = (folder / "steps.jsonl").read_bytes()
    second = run_guide(root)
    assert (folder / "steps.jsonl").read_bytes() == recorded
    project = load_project(root / "mkdocs.yml")
    kept = {run.run_id: run for run in History.of(project).runs()}
    assert kept[first].captures()["greet"].run_id == first
    assert kept[second].captures()["greet"].run_id == second
    # the docs hold the same output, read with the times of the run that took it last
    page = CaptureStore(root / "docs" / "captures").read("greet")
    assert page is not None and vars(kept[second].captures()["greet"]) == vars(page)


def test_a_run_kept_a_file_a_step_is_still_read(tmp_path: Path) -> None:
    # the layout of docs/captures, and of runs kept by earlier versions
    folder = tmp_path / "old-run"
    store = CaptureStore(folder / "captures")
    store.write(_capture("greet", "r0"))
    store.write(_capture("older", "an-earlier-run"))
    store.write_run(RunRecord("r0", "2026-01-01T00:00:00Z"))
    assert list(read_run(folder).captures()) == ["greet"]


def test_an_unreadable_kept_capture_names_its_file_and_line(tmp_path: Path) -> None:
    history = History(tmp_path / "history", 3)
    kept = history.keep(RunRecord("r1", "2026-01-01T00:00:00Z"), [_capture("a", "r1")], tmp_path)
    assert kept is not None
    bundle = kept.root / "captures" / "steps.jsonl"
    bundle.write_text(bundle.read_text() + "{not json\n")
    with pytest.raises(MeshdemoError) as error:
        kept.captures()
    assert error.value.message.startswith("unreadable capture")
    assert (error.value.path, error.value.line) == (bundle, 2)


def test_the_history_keeps_the_last_n_runs(tmp_path: Path) -> None:
    root = copy_fixture(tmp_path, history=2)
    ids = [run_guide(root) for _ in range(3)]
    project = load_project(root / "mkdocs.yml")
    assert [run.run_id for run in History.of(project).runs()] == ids[1:]
    assert resolve(project, None).run_id == ids[2]
    assert resolve(project, ids[1][:-3]).run_id == ids[1]  # the start of an id is enough


def test_history_zero_keeps_nothing_and_a_bad_size_is_refused(tmp_path: Path) -> None:
    root = copy_fixture(tmp_path, history=0)
    run_guide(root)
    project = load_project(root / "mkdocs.yml")
    assert History.of(project).runs() == []
    with pytest.raises(MeshdemoError, match="no run kept yet"):
        resolve(project, None)

    bad = Project(project.config_file, root, project.docs_dir, (), {"meshdemo": {"history": "x"}})
    with pytest.raises(ConfigError, match=r"extra\.meshdemo\.history: 'x'") as error:
        history_size(bad)
    assert error.value.path == project.config_file


def test_no_capture_runs_are_kept_too_and_docs_stay_untouched(tmp_path: Path) -> None:
    root = copy_fixture(tmp_path)
    run_guide(root, capture=False)
    assert not (root / "docs" / "captures").exists()
    [kept] = History.of(load_project(root / "mkdocs.yml")).runs()
    assert kept.captures()["greet"].output == "hello books\n"


def _capture(step_id: str, run_id: str, artifact: str | None = None) -> Capture:
    return Capture(
        id=step_id,
        kind="screenshot" if artifact else "bash",
        page="p.md",
        line=1,
        command="echo",
        command_hash="h",
        status=StepStatus.PASSED,
        exit_status=0,
        started_at="2026-01-01T00:00:00.000+00:00",
        duration=0.1,
        run_id=run_id,
        artifact=artifact,
    )


def test_screenshots_are_kept_with_their_run(tmp_path: Path) -> None:
    images = tmp_path / "docs"
    (images / "images").mkdir(parents=True)
    (images / "images" / "shot.png").write_bytes(b"\x89PNG not really")
    history = History(tmp_path / "history", 3)
    kept = history.keep(
        RunRecord("r1", "2026-01-01T00:00:00Z"), [_capture("shot", "r1", "images/shot.png")], images
    )
    assert kept is not None
    image = kept.image(kept.captures()["shot"])
    assert image is not None and image.read_bytes() == b"\x89PNG not really"


def test_a_run_that_cannot_be_kept_leaves_the_history_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = copy_fixture(tmp_path)
    first = run_guide(root)
    project = load_project(root / "mkdocs.yml")

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("meshdemo.captures.write_atomically", full_disk)
    monkeypatch.setattr("meshdemo.captures.write_in_place", full_disk)
    with caplog.at_level(logging.WARNING, logger="meshdemo.history"):
        kept = keep_run(project, RunRecord("r2", "2026-01-02T00:00:00Z"), [], project.docs_dir)
    assert kept is None
    assert "could not keep run r2: [Errno 28] No space left on device" in caplog.text
    history = root / ".meshdemo" / "history"
    assert sorted(p.name for p in history.iterdir()) == [first]


def _kept(history: Path, run_id: str, started_at: str) -> Path:
    root = history / run_id
    CaptureStore(root / CAPTURES).write_run(RunRecord(run_id, started_at, status="passed"))
    return root


def test_pruning_keeps_the_newest_runs_even_within_one_second(tmp_path: Path) -> None:
    history = tmp_path / "history"
    old = _kept(history, "20261127T100000Z-ffffff", "2026-11-27T10:00:00.100+00:00")
    # two runs in one second: the id of the later one sorts first
    earlier = _kept(history, "20261127T100005Z-bbbbbb", "2026-11-27T10:00:05.100+00:00")
    later = _kept(history, "20261127T100005Z-aaaaaa", "2026-11-27T10:00:05.900+00:00")
    newest = _kept(history, "20261127T100009Z-cccccc", "2026-11-27T10:00:09.000+00:00")
    staging = history / ".20261127T100010Z-dddddd.x1"
    staging.mkdir()
    unrecorded = history / "20261127T100011Z-eeeeee"
    unrecorded.mkdir()

    doomed = History(history, size=2).prune()
    assert sorted(doomed) == sorted([old, earlier, staging, unrecorded])
    assert [run.root for run in History(history).runs()] == [later, newest]

    # the cut between the two runs of that second, the other way round
    _kept(history, "20261127T100005Z-bbbbbb", "2026-11-27T10:00:05.100+00:00")
    assert History(history, size=3).prune() == []
    assert History(history, size=2).prune() == [history / "20261127T100005Z-bbbbbb"]


def _large_guide(root: Path) -> Path:
    """A page with a large output (kept as a link), a small one (a line), and a file the
    large step prints, to change its output between runs."""
    from cli import engine_guide

    guide = engine_guide(
        root,
        (".bash #large", "cat big.txt"),
        (".bash #small", "echo small"),
    )
    (guide / "big.txt").write_text("".join(f"log line {n:06d}\n" for n in range(8000)))
    return guide


def test_a_large_capture_is_kept_as_a_link_to_its_docs_file(tmp_path: Path) -> None:
    guide = _large_guide(tmp_path / "guide")
    first = run_guide(guide)
    docs_file = guide / "docs" / "captures" / "large.json"
    kept_first = guide / ".meshdemo" / "history" / first / "captures"
    assert (kept_first / "large.json").stat().st_ino == docs_file.stat().st_ino
    assert json.loads((kept_first / "steps.jsonl").read_text())["id"] == "small"

    # a rerun with the same output leaves the docs file as it was (the first run's fields in
    # it): the second kept run links it too, and reads it with its own run's fields
    second = run_guide(guide)
    assert docs_file.stat().st_nlink == 3
    project = load_project(guide / "mkdocs.yml")
    kept = {run.run_id: run for run in History.of(project).runs()}
    assert kept[first].captures()["large"].run_id == first
    again = kept[second].captures()["large"]
    assert again.run_id == second
    assert again.started_at > kept[first].captures()["large"].started_at
    assert again.output.startswith("log line 000000\n")

    # a new output replaces the docs file: the kept runs keep the output they recorded
    (guide / "big.txt").write_text("changed\n" * 9000)
    third = run_guide(guide)
    kept = {run.run_id: run for run in History.of(project).runs()}
    assert kept[first].captures()["large"].output.startswith("log line 000000\n")
    assert kept[second].captures()["large"].output.startswith("log line 000000\n")
    assert kept[third].captures()["large"].output.startswith("changed\n")
    assert docs_file.stat().st_nlink == 2


def test_without_docs_captures_a_large_capture_is_kept_as_a_line(tmp_path: Path) -> None:
    guide = _large_guide(tmp_path / "guide")
    run_id = run_guide(guide, capture=False)
    folder = guide / ".meshdemo" / "history" / run_id / "captures"
    assert sorted(p.name for p in folder.iterdir()) == ["run.json", "steps.jsonl"]
    project = load_project(guide / "mkdocs.yml")
    [kept] = History.of(project).runs()
    assert kept.captures()["large"].output.startswith("log line 000000\n")


def test_a_docs_file_that_does_not_hold_the_runs_capture_is_not_linked(tmp_path: Path) -> None:
    docs = CaptureStore(tmp_path / "docs" / "captures")
    large = _capture("large", "r1")
    large.output = "x" * 100_000
    other = _capture("large", "r0")
    other.output = "y" * 100_000
    docs.write(other)  # what a failed write leaves: an earlier run's output
    kept = History(tmp_path / "history", 3).keep(
        RunRecord("r1", "2026-01-01T00:00:00Z"), [large], tmp_path, written=docs
    )
    assert kept is not None
    assert not (kept.root / "captures" / "large.json").exists()
    assert kept.captures()["large"].output == "x" * 100_000

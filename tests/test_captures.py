"""The capture store: files replaced whole, readable by all, written cheaply."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from meshdemo.captures import (
    RUN_FIELDS,
    TIMES_FILE,
    Capture,
    CaptureStore,
    _dump,
    _dump_flat,
    as_line,
    encode_capture,
    same_content,
    sync_to_disk,
    write_atomically,
)


def capture(**fields: object) -> Capture:
    base: dict = {
        "id": "greet",
        "kind": "bash",
        "page": "setup.md",
        "line": 10,
        "command": "echo 'hé' \"x\"\n",
        "command_hash": "ab12",
        "status": "passed",
        "exit_status": 0,
        "started_at": "2026-01-01T00:00:00.000+00:00",
        "duration": 0.123,
        "output": "hello ☃\n\x1b[1mbold\x1b[0m\ttab\n",
    }
    return Capture(**{**base, **fields})  # type: ignore[arg-type]


def test_a_capture_file_is_what_json_dumps_would_write_its_run_fields_last(
    tmp_path: Path,
) -> None:
    store = CaptureStore(tmp_path / "captures")
    for written in (capture(), capture(note="a note", exit_status=None, output="")):
        store.write(written)
        path = store.path_for(written.id)
        fields = asdict(written)
        run = {name: fields.pop(name) for name in RUN_FIELDS}
        assert path.read_bytes() == _dump(fields | run)
        assert store.read("greet") == written


def test_a_rerun_that_printed_the_same_leaves_the_file_and_records_its_times(
    tmp_path: Path,
) -> None:
    store = CaptureStore(tmp_path / "captures")
    first = capture(run_id="run-1")
    store.write(first)
    path = store.path_for(first.id)
    store.write_times([first])
    before = path.stat()
    again = capture(run_id="run-2", started_at="2026-01-02T00:00:00.000+00:00", duration=9.5)
    store.write(again)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert json.loads(path.read_text())["run_id"] == "run-1"  # the file is as it was
    store.write_times([again])
    # any reader, a new store included, sees the times of the run that ran it last
    for reader in (store, CaptureStore(tmp_path / "captures")):
        assert reader.read("greet") == again
        assert reader.all() == {"greet": again}
    times = json.loads((tmp_path / "captures" / TIMES_FILE).read_text())
    assert times["steps"] == {"greet": {name: getattr(again, name) for name in RUN_FIELDS}}


@pytest.mark.parametrize(
    "change",
    [
        {"output": "hello again\n"},
        {"status": "failed", "exit_status": 1},
        {"line": 11},
        {"note": "a note"},
    ],
)
def test_a_rerun_that_changed_anything_else_rewrites_the_file(tmp_path: Path, change: dict) -> None:
    store = CaptureStore(tmp_path / "captures")
    store.write(capture(run_id="run-1"))
    changed = capture(run_id="run-2", started_at="2026-01-02T00:00:00.000+00:00", **change)
    store.write(changed)
    path = store.path_for(changed.id)
    assert Capture.from_dict(json.loads(path.read_text())) == changed


@pytest.mark.parametrize(
    "tail",
    [
        b'\n  "started_at": "x",\n  "duration": 1,\n  "run_id": "r",\n  "extra": 1\n}\n',
        b'\n  "started_at": "x",\n  "duration": 1\n}\n',
        b'\n  "started_at": "x", not json',
    ],
)
def test_a_file_with_more_or_less_than_the_run_fields_after_the_content_is_rewritten(
    tmp_path: Path, tail: bytes
) -> None:
    new = encode_capture(capture())
    head = new[: new.rfind(b'\n  "started_at": ')]
    assert not same_content(head + tail, new)
    store = CaptureStore(tmp_path / "captures")
    path = store.path_for("greet")
    path.parent.mkdir()
    path.write_bytes(head + tail)
    store.write(capture())
    assert path.read_bytes() == new


def test_times_newer_than_a_capture_file_win_older_ones_do_not(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "captures")
    old = capture(run_id="run-1")
    store.write_times([old])
    # a run killed before it recorded its times rewrote this capture: the file is newer
    newer = capture(run_id="run-2", output="new\n", started_at="2026-01-03T00:00:00.000+00:00")
    store.write(newer)
    assert CaptureStore(tmp_path / "captures").read("greet") == newer


def test_times_keep_earlier_runs_steps_and_forget_removed_ones(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "captures")
    kept, removed = capture(id="kept", run_id="run-1"), capture(id="removed", run_id="run-1")
    for each in (kept, removed):
        store.write(each)
    store.write_times([kept, removed])
    store.path_for("removed").unlink()
    later = capture(id="later", run_id="run-2", started_at="2026-01-02T00:00:00.000+00:00")
    store.write(later)
    store.write_times([later])  # a run of one step (--from later)
    times = json.loads((tmp_path / "captures" / TIMES_FILE).read_text())["steps"]
    assert sorted(times) == ["kept", "later"]
    assert times["kept"]["run_id"] == "run-1" and times["later"]["run_id"] == "run-2"


def test_a_long_output_text_file_is_rewritten_only_when_it_changed(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "captures")
    long_output = "".join(f"line {n}\n" for n in range(1, 301))
    store.write(capture(output=long_output))
    text = store.text_path_for("greet")
    before = text.stat()
    store.write(capture(output=long_output, run_id="run-2"))
    assert (text.stat().st_ino, text.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    store.write(capture(output=long_output + "one more\n"))
    assert text.read_text().endswith("one more\n")


def test_a_whole_text_an_earlier_run_left_goes_when_the_output_fits_the_page(
    tmp_path: Path,
) -> None:
    """A store lists the whole texts once instead of trying to remove one for every step."""
    CaptureStore(tmp_path / "captures").write(
        capture(output="".join(f"line {n}\n" for n in range(1, 301)))
    )
    store = CaptureStore(tmp_path / "captures")  # the next run's
    text = store.text_path_for("greet")
    assert text.is_file()
    store.write(capture(output="short\n", run_id="run-2"))
    assert not text.exists()
    store.write(capture(output="".join(f"line {n}\n" for n in range(1, 302)), run_id="run-3"))
    store.write(capture(output="short again\n", run_id="run-4"))
    assert not text.exists()


def test_files_are_replaced_whole_with_their_mode(tmp_path: Path) -> None:
    target = tmp_path / "captures" / "run.json"
    write_atomically(target, b"old\n")
    write_atomically(target, json.dumps({"new": True}).encode())
    assert json.loads(target.read_text()) == {"new": True}
    assert target.stat().st_mode & 0o777 == 0o644
    private = tmp_path / "state.sh"
    previous = os.umask(0)
    try:
        write_atomically(private, b"export A=1\n", mode=0o600, sync=True)
    finally:
        os.umask(previous)
    assert private.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["captures", "run.json", "state.sh"]
    sync_to_disk(tmp_path)  # returns once flushed; a missing folder is no error
    sync_to_disk(tmp_path / "missing")


def test_a_run_record_reads_back_as_written_a_step_per_line(tmp_path: Path) -> None:
    from meshdemo.captures import RunRecord

    steps = [
        {"id": f"s{n}", "page": "p.md", "line": n, "status": "passed", "note": None}
        for n in range(3)
    ]
    record = RunRecord("r1", "t0", "t1", "passed", {"bash": "5.2"}, steps, error="é")
    store = CaptureStore(tmp_path)
    path = store.write_run(record)
    assert store.read_run() == record
    lines = path.read_text().splitlines()
    assert lines[-5:-2] == [
        f"    {json.dumps(step, ensure_ascii=False)}," for step in steps[:2]
    ] + [f"    {json.dumps(steps[2], ensure_ascii=False)}"]
    empty = RunRecord("r2", "t0")
    store.write_run(empty)
    assert store.read_run() == empty


def test_a_capture_file_as_one_line_is_the_same_json() -> None:
    one = capture(
        command="echo \"a\\nb\"\nprintf '%s\\t\\n' x",
        output='line one\nline "two"\t\\ \x1b[31mred\x1b[0m é 中 \u2028\r\n',
        masks=[[1.0, 2.0, 3.0, 4.0]],
    )
    encoded = encode_capture(one)
    line = as_line(encoded)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert json.loads(line) == json.loads(encoded) == vars(one)


def test_an_output_is_cut_from_its_first_line_past_what_a_page_embeds() -> None:
    from meshdemo.captures import WHOLE_TEXT_LINES, is_cut

    lines = ["line\n"] * WHOLE_TEXT_LINES
    assert not is_cut("")
    assert not is_cut("".join(lines))  # a last line end starts no line
    assert not is_cut("".join(lines)[:-1])
    assert is_cut("".join(lines) + "one more")
    assert is_cut("".join(lines) + "\n")  # a blank line is a line
    assert is_cut("".join(lines) * 500)
    assert not is_cut("x" * 200_000 + "\n")


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "step.json"
    write_atomically(target, b"first\n")  # its folders are made
    assert target.read_bytes() == b"first\n"
    blocked = tmp_path / "deep" / "er" / "folder.json"
    blocked.mkdir()
    with pytest.raises(IsADirectoryError):
        write_atomically(blocked, b"second\n")  # renaming onto a folder fails
    assert sorted(p.name for p in target.parent.iterdir()) == ["folder.json", "step.json"]
    write_atomically(target, b"x" * 3_000_000)  # large: written whole
    assert target.stat().st_size == 3_000_000


def test_a_settled_capture_is_decoded_once_and_a_new_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CaptureStore(tmp_path / "captures")
    store.write(capture())
    path = store.path_for("greet")
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    decoded: list[int] = []
    real = Capture.from_dict

    def counting(data: dict[str, Any]) -> Capture:  # data: parsed JSON
        decoded.append(1)
        return real(data)

    def output_of(step_id: str) -> str:
        read = store.read(step_id)
        assert read is not None
        return read.output

    monkeypatch.setattr(Capture, "from_dict", counting)
    first, again = store.read("greet"), CaptureStore(tmp_path / "captures").read("greet")
    assert first == again == capture() and first is not again
    assert len(decoded) == 1  # a `mkdocs serve` rebuild does not decode it again
    first.output = "changed by a reader"
    assert store.read("greet") == capture()  # each reader gets its own copy
    store.write(capture(output="new\n"))  # replaced: another file
    assert output_of("greet") == "new\n" and len(decoded) == 2
    # written in place just now, with the same size: never taken from what was read before
    path.write_text(path.read_text().replace('"new', '"wen'))
    assert output_of("greet") == "wen\n"
    assert output_of("greet") == "wen\n" and len(decoded) == 4


def test_the_fast_dump_is_json_dumps_byte_for_byte_for_every_kind_of_plain_value() -> None:
    values = {
        "text": 'quote " backslash \\ tab \t ☃ \x1b[1m \u2028 end\n',
        "empty": "",
        "whole": 3,
        "negative": -124,
        "large": 2**70,
        "none": None,
        "yes": True,
        "no": False,
        "float": 0.1 + 0.2,
        "tiny": 1e-7,
    }
    assert _dump_flat(values) == json.dumps(values, indent=2, ensure_ascii=False).encode() + b"\n"
    # a list (a screenshot's masked regions) is written on its line, and reads back the same
    nested = {"masks": [[1.5, 2.0, 30.25, 4.0]], "more": {"a": [1, "b"]}}
    assert json.loads(_dump_flat(nested)) == nested


def test_an_unreadable_times_file_is_said_and_the_next_run_writes_it_anew(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "captures")
    store.write(capture())
    (tmp_path / "captures" / TIMES_FILE).write_text('{"steps": ')
    assert store.read("greet") == capture()  # its own times
    assert store.times_problem is not None and TIMES_FILE in store.times_problem
    later = capture(run_id="run-2", started_at="2026-01-02T00:00:00.000+00:00")
    store.write_times([later])
    assert json.loads((tmp_path / "captures" / TIMES_FILE).read_text())["steps"]["greet"] == {
        name: getattr(later, name) for name in RUN_FIELDS
    }

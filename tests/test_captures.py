"""The capture store: files replaced whole, readable by all, written cheaply."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from meshdemo.captures import (
    Capture,
    CaptureStore,
    _dump,
    as_line,
    encode_capture,
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


def test_a_capture_file_is_what_json_dumps_would_write(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "captures")
    for written in (capture(), capture(note="a note", exit_status=None, output="")):
        path = store.write(written)
        assert path.read_bytes() == _dump(asdict(written))
        assert store.read("greet") == written


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

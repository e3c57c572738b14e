"""The capture store: what a run recorded of each step, kept under ``docs/captures/``.

One JSON file a step (``<step-id>.json``) and one for the run (``run.json``); an output
longer than a page embeds (:data:`WHOLE_TEXT_LINES`) is also written as plain text
(``<step-id>.txt``, as a terminal showed it: :func:`meshdemo.terminal.clean`), which the
site publishes so the whole output is one click away. Files are only ever replaced whole
(write to a temporary file in the same folder, then ``os.replace``), so a reader such as
``mkdocs serve`` never sees half a file, and a run that stops early leaves the captures of
the steps it never reached as they were.

A rerun rewrites only the captures whose content changed. What differs between two runs of a
step even when it printed the same (:data:`RUN_FIELDS`: when it ran, how long, in which run)
is written last in its file; a capture that differs from its file only there is left as it
is, and ``times.json`` (:data:`TIMES_FILE`) records those fields for each step of the runs
that ran it. A reader takes the newer of the two. So a rerun that changes nothing rewrites
two files (``run.json``, ``times.json``) instead of one a step, and the captures a commit
shows are the outputs that changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from meshdemo.model import Step
from meshdemo.terminal import clean

RUN_FILE = "run.json"
TIMES_FILE = "times.json"  # each step's RUN_FIELDS in the latest run that ran it
STORE_FILES = frozenset({RUN_FILE, TIMES_FILE})  # the store's own files: no step's capture
# ids no step may take: their capture file would be one of the store's own files
RESERVED_IDS = frozenset(name.removesuffix(".json") for name in STORE_FILES)
# a capture's fields that change from run to run even when its step printed the same: last
# in its file, and what times.json holds
RUN_FIELDS = ("started_at", "duration", "run_id")
FORMAT = 1
# A page embeds an output up to this many lines (a failure's last ones); a longer output is
# also written as plain text next to its capture, and the page links it.
WHOLE_TEXT_LINES = 100
TEXT_SUFFIX = ".txt"


@dataclass
class Capture:
    """What one run of one step produced. ``output`` is already masked of secrets."""

    id: str
    kind: str
    page: str
    line: int
    command: str
    command_hash: str
    status: str
    exit_status: int | None
    started_at: str = ""  # ISO 8601, UTC
    duration: float = 0.0  # seconds
    output: str = ""
    attempts: int = 1
    note: str | None = None  # e.g. "stopped after 15 s, as asked (stream)"
    run_id: str | None = None
    artifact: str | None = None  # screenshots: image path relative to docs_dir
    masks: list[list[float]] | None = None  # screenshots: x, y, width, height of masked regions
    format: int = FORMAT

    def is_stale(self, step: Step) -> bool:
        return self.command_hash != step.command_hash

    def copy(self) -> Capture:
        """A shallow copy: what ``dataclasses.replace`` makes, a few times faster (a build of
        `mkdocs serve` copies every capture it has cached)."""
        twin = object.__new__(Capture)
        twin.__dict__.update(self.__dict__)
        return twin

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capture:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunRecord:
    """The run as a whole: when, with which tools, and a line per step in run order."""

    run_id: str
    started_at: str
    finished_at: str | None = None
    status: str | None = None
    tool_versions: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)  # {id, page, status, duration}
    format: int = FORMAT
    error: str | None = None  # status "error": what broke the run off (not a step)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def write_atomically(
    path: str | Path, data: bytes, *, mode: int = 0o644, sync: bool = False
) -> None:
    """Replace ``path`` whole, or not at all; the file gets ``mode`` (captures are project
    files: readable by all, as git would check them out).

    The new content goes to a temporary file in the same folder, renamed over ``path``: a
    reader, or a run killed at any instant, sees the old file or the new one, never a part.
    ``sync``: also wait until it is on disk; a run instead syncs its files once, at its end
    (:func:`sync_to_disk`): one flush instead of one per capture, which on a real disk costs
    milliseconds each.
    """
    # plain strings and descriptors, no pathlib or buffered file: a capture of a trivial step
    # is written in ~30 us of system calls, which the objects around them used to double
    target = os.fspath(path)
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, mode)
    except FileNotFoundError:  # the first file of its folder
        os.makedirs(folder or ".", exist_ok=True)
        fd = os.open(tmp, flags, mode)
    except FileExistsError:  # left by a process that died with our pid: not ours to keep
        os.unlink(tmp)
        fd = os.open(tmp, flags, mode)
    try:
        try:
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def encode_record(record: RunRecord) -> bytes:
    """A run record as JSON: its fields indented, one line per step (a long run's record is
    written with json's C encoder, a step per line, and stays readable in a diff)."""
    fields = dict(vars(record))
    steps = fields.pop("steps")
    head = _dump(fields)[: -len(b"\n}\n")]
    encode = _ENCODER.encode
    lines = ",\n".join(f"    {encode(step)}" for step in steps)
    body = f',\n  "steps": [\n{lines}\n  ]\n}}\n' if steps else ',\n  "steps": []\n}\n'
    return head + body.encode()


def write_in_place(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``path`` directly: for a folder that is renamed into place whole once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, mode)
        handle.write(data)


def sync_to_disk(folder: Path) -> None:
    """Flush the file system holding ``folder`` to disk (``syncfs``; ``sync`` where there is
    none): what a run wrote there survives a power cut once this returns."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            os.sync()
    except (OSError, AttributeError):
        os.sync()
    finally:
        os.close(fd)


def is_cut(output: str) -> bool:
    """Whether a page embeds only part of ``output`` (and links its text file for the rest).

    Looks for line ends up to the one that makes it long: never reads past the page's part of
    a 200 KB output (a site build asks for every step)."""
    end, at = len(output) - 1, -1
    for _ in range(WHOLE_TEXT_LINES):
        at = output.find("\n", at + 1, end)
        if at < 0:
            return False
    return True


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


_ENCODER = json.JSONEncoder(ensure_ascii=False)


def output_digest(output: str) -> str:
    """A short fingerprint of an output: the run record keeps one for each capture, so that
    a page tells an unchanged output from an earlier run's without reading that run's
    captures (10 MB to decode for fifty 200 KB outputs)."""
    return hashlib.blake2b(output.encode(errors="surrogatepass"), digest_size=16).hexdigest()


def encode_capture(capture: Capture) -> bytes:
    """The content of ``capture``'s file: its :data:`RUN_FIELDS` last (see :func:`same_content`)."""
    # a capture's fields are plain values: no deep copy (asdict) is needed to dump them
    fields = dict(vars(capture))
    run = {name: fields.pop(name) for name in RUN_FIELDS}
    return _dump_flat(fields | run)


_RUN_PART = f'\n  "{RUN_FIELDS[0]}": '.encode()  # where a capture file's RUN_FIELDS begin


def same_content(old: bytes, new: bytes) -> bool:
    """Do two capture files (:func:`encode_capture`) differ at most in their RUN_FIELDS?

    ``new`` is what this run encoded; ``old`` what the file holds, which must be the same up to
    its run fields, and then hold those fields and nothing else.
    """
    cut = new.rfind(_RUN_PART)
    if cut < 0 or old[:cut] != new[:cut] or old[cut : cut + len(_RUN_PART)] != _RUN_PART:
        return False
    try:
        rest = json.loads(b"{" + old[cut:])
    except ValueError:
        return False
    return isinstance(rest, dict) and list(rest) == list(RUN_FIELDS)


def _read_bytes(path: str) -> bytes | None:
    """A file's bytes, or None when it cannot be read (plain system calls: see
    :func:`write_atomically`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def run_fields(capture: Capture) -> dict[str, Any]:
    return {name: getattr(capture, name) for name in RUN_FIELDS}


def as_line(encoded: bytes) -> bytes:
    """A capture's file content (:func:`encode_capture`) as one line of JSON, for a kept
    run's captures (see meshdemo.history). JSON escapes a newline inside a string, so the
    only newlines of the file are those between its fields: no second encoding is needed."""
    return encoded.replace(b"\n", b"") + b"\n"


_HEADS: dict[str, str] = {}  # '  "key": ', once a key


def _dump_flat(fields: dict[str, Any]) -> bytes:
    """``_dump`` of a dict of plain values, byte for byte, a few times faster: each value is
    encoded by json's C encoder (which ``indent`` turns off for the whole document); strings,
    whole numbers and None, most of a capture, without the encoder's dispatch."""
    encode = _ENCODER.encode
    lines = []
    for key, value in fields.items():
        head = _HEADS.get(key)
        if head is None:
            head = _HEADS[key] = f"  {encode_basestring(key)}: "
        kind = value.__class__
        if kind is str:
            lines.append(head + encode_basestring(value))
        elif value is None:
            lines.append(head + "null")
        elif kind is int:
            lines.append(head + int.__repr__(value))
        else:
            lines.append(head + encode(value))
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


# capture files as last decoded, by path, with what their stat said then: `mkdocs serve`
# rebuilds every page after each save, and decoding 10 MB of captures again would cost ~25 ms
# (a file is replaced whole, never changed in place: a new stat means a new file)
_READ: dict[str, tuple[tuple[int, int, int], Capture]] = {}
_SETTLED_NS = 2_000_000_000


class CaptureStore:
    """Reads and writes the captures of one project (``docs_dir/captures``).

    ``atomic=False`` writes files in place: for a folder nobody reads until it is complete
    and renamed into place whole (the run history's staging folder).
    """

    def __init__(self, directory: Path, *, atomic: bool = True):
        self.directory = Path(directory)
        self._folder = os.fspath(self.directory)  # for paths made a step at a time
        self.atomic = atomic
        self._times: dict[str, dict[str, Any]] | None = None  # times.json, once read
        self._texts: set[str] | None = None  # the whole texts of long outputs (see write)
        self.times_problem: str | None = None  # what was wrong with times.json, if anything

    def _put(self, path: str | Path, data: bytes) -> None:
        if self.atomic:
            write_atomically(path, data)
        else:
            write_in_place(Path(path), data)

    def path_for(self, step_id: str) -> Path:
        return Path(self._file(step_id))

    def _file(self, step_id: str) -> str:
        """:meth:`path_for` as a plain string: a capture a step, as cheap as can be."""
        return f"{self._folder}/{step_id}.json"

    def text_path_for(self, step_id: str) -> Path:
        """Where a long output is written as plain text (see :data:`WHOLE_TEXT_LINES`)."""
        return self.directory / f"{step_id}{TEXT_SUFFIX}"

    def read(self, step_id: str) -> Capture | None:
        path = self._file(step_id)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        known = _READ.get(path)
        if known is not None and known[0] == key:
            capture = known[1].copy()  # a copy: readers may change it (its times)
        else:
            # bytes: json decodes them as UTF-8 in one go (text mode decodes them by chunks:
            # a third again the time, for a 200 KB output)
            with open(path, "rb") as handle:
                capture = Capture.from_dict(json.loads(handle.read()))
            # kept only once its modification time is safely past: a file written in place
            # within the clock's resolution of that time could keep its size and stat
            if stat.st_mtime_ns < time.time_ns() - _SETTLED_NS:
                _READ[path] = (key, capture.copy())
        return self._timed(capture)

    def write(self, capture: Capture, encoded: bytes | None = None) -> None:
        """Write ``capture`` (``encoded``: its :func:`encode_capture`, when already made),
        unless its file differs from it only in its RUN_FIELDS (:meth:`write_times` then
        records those)."""
        target = self._file(capture.id)
        text = target.removesuffix(".json") + TEXT_SUFFIX
        texts = self._whole_texts()
        if is_cut(capture.output):
            # before the capture: a page that reads the new capture finds its text too
            self._put_changed(text, clean(capture.output).encode())
            texts.add(text)
        elif text in texts:  # (most steps have none: no system call to find that out)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(text)
            texts.discard(text)
        data = encode_capture(capture) if encoded is None else encoded
        old = _read_bytes(target)
        if old is None or not same_content(old, data):
            self._put(target, data)

    def _whole_texts(self) -> set[str]:
        """The paths of the whole-text files in the folder, listed once (only this store
        writes them while a run holds the project)."""
        if self._texts is None:
            try:
                names = os.listdir(self._folder)
            except OSError:
                names = []
            self._texts = {f"{self._folder}/{n}" for n in names if n.endswith(TEXT_SUFFIX)}
        return self._texts

    def _put_changed(self, path: str | Path, data: bytes) -> None:
        if _read_bytes(os.fspath(path)) != data:
            self._put(path, data)

    # -- times.json ------------------------------------------------------------------------------

    def times(self) -> dict[str, dict[str, Any]]:
        """step id -> its RUN_FIELDS in the latest run that ran it (times.json; {} without)."""
        if self._times is None:
            path = self.directory / TIMES_FILE
            self._times = {}
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return self._times
            except (OSError, ValueError) as error:
                # the captures' own times are shown instead: said, never fatal
                self.times_problem = f"unreadable {path}: {error}"
                return self._times
            steps = data.get("steps") if isinstance(data, dict) else None
            if isinstance(steps, dict):
                self._times = {k: v for k, v in steps.items() if isinstance(v, dict)}
            else:
                self.times_problem = f"unreadable {path}: no mapping of steps to their times"
        return self._times

    def _timed(self, capture: Capture) -> Capture:
        """``capture`` with the RUN_FIELDS of times.json, when those are newer than its own."""
        entry = self.times().get(capture.id)
        if entry is not None and str(entry.get("started_at") or "") > capture.started_at:
            for name in RUN_FIELDS:
                if name in entry:
                    setattr(capture, name, entry[name])
        return capture

    def write_times(self, captures: Iterable[Capture]) -> None:
        """Record the RUN_FIELDS of a run's ``captures`` in times.json, with those of earlier
        runs for the other steps that still have a capture."""
        steps = dict(self.times())
        steps.update((capture.id, run_fields(capture)) for capture in captures)
        with contextlib.suppress(OSError):
            names = set(os.listdir(self.directory))
            steps = {key: value for key, value in steps.items() if f"{key}.json" in names}
        encode = _ENCODER.encode
        lines = ",\n".join(f"    {encode(key)}: {encode(steps[key])}" for key in sorted(steps))
        body = f'{{\n  "format": {FORMAT},\n  "steps": {{\n{lines}\n  }}\n}}\n'
        self._put_changed(self.directory / TIMES_FILE, body.encode())
        self._times = steps

    def read_run(self) -> RunRecord | None:
        try:
            data = json.loads((self.directory / RUN_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return RunRecord.from_dict(data)

    def write_run(self, record: RunRecord, encoded: bytes | None = None) -> Path:
        """Write ``record`` (``encoded``: its :func:`encode_record`, when already made)."""
        path = self.directory / RUN_FILE
        self._put(path, encode_record(record) if encoded is None else encoded)
        return path

    def all(self) -> dict[str, Capture]:
        if not self.directory.is_dir():
            return {}
        found = {}
        for path in sorted(self.directory.glob("*.json")):
            if path.name in STORE_FILES:
                continue
            capture = Capture.from_dict(json.loads(path.read_text(encoding="utf-8")))
            found[capture.id] = self._timed(capture)
        return found

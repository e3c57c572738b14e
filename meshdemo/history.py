"""The run history: the last N runs kept whole under ``.meshdemo/history/``, for replay and diff.

Each run is a folder named by its run id (ids sort by time), laid out like a docs folder, so
one reader serves a kept run, the guide's own ``docs/`` and a committed revision alike::

    .meshdemo/history/20261126T081240Z-3f9a1c/
        captures/run.json          the run record
        captures/steps.jsonl       the captures this run took (its own steps only), a line each
        <page folder>/images/...   its screenshots, at their path relative to docs_dir

The captures of a kept run are one file, not a file a step as in ``docs/captures`` (which a
folder of a committed revision, or of a run kept before, may still hold: both are read): a
run of 300 steps keeps, and later removes, one file instead of 300, and on many disks
creating and removing a file costs more than writing a line. A large capture (from
:data:`SHARED_FROM` bytes) that the run also wrote to ``docs/captures`` is kept as a hard link
to that file instead, with its run fields in the kept run's ``captures/times.json``: a file
there is only ever replaced whole, so the link keeps what this run recorded, and runs whose
large outputs did not change share one copy of them instead of writing it again each.

A run is written into a hidden folder and renamed into place: a reader never sees half a run,
and a run that cannot be kept (a full disk) leaves the history as it was. After each new run
the oldest are removed, down to ``extra.meshdemo.history`` runs in mkdocs.yml (default 10;
0 keeps none).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from meshdemo.captures import (
    RUN_FILE,
    Capture,
    CaptureStore,
    RunRecord,
    as_line,
    encode_capture,
    same_content,
    write_in_place,
)
from meshdemo.errors import ConfigError, MeshdemoError
from meshdemo.model import Project


def _warn(message: str, *args: object) -> None:
    """Say what the history could not do (logging loads only then: a run that keeps its
    history, as most do, never needs it)."""
    import logging

    logging.getLogger("meshdemo.history").warning(message, *args)


HISTORY_DIR = "history"
DEFAULT_SIZE = 10
CAPTURES = "captures"
BUNDLE = "steps.jsonl"  # (in CAPTURES) a kept run's captures, one JSON object a line
# bytes from which a capture is kept as a link to its file in docs/captures rather than as a
# line (a link and its removal cost about as much as writing this many bytes)
SHARED_FROM = 64 * 1024
_RUN_FIELDS_SLACK = 64  # bytes by which two encodings of one capture may differ: its run fields
GIT_PREFIX = "git:"


def history_size(project: Project) -> int:
    """How many runs to keep: mkdocs.yml ``extra.meshdemo.history``, a whole number >= 0."""
    config = (project.extra or {}).get("meshdemo") or {}
    value = config.get("history", DEFAULT_SIZE) if isinstance(config, dict) else DEFAULT_SIZE
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"extra.meshdemo.history: {value!r} is not a number of runs to keep (0 or more)",
            project.config_file,
        )
    return value


class RecordedRun(NamedTuple):
    """One run as it was recorded: its run record, its captures and its screenshots.

    ``root`` is laid out like a docs folder (``captures/`` and the images at their
    ``artifact`` path). ``label`` names where it came from, for reports.
    """

    root: Path
    record: RunRecord
    label: str

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def store(self) -> CaptureStore:
        return CaptureStore(self.root / CAPTURES)

    def captures(self) -> dict[str, Capture]:
        """The captures this run took (a docs folder may also hold older ones: left out)."""
        bundle = self.root / CAPTURES / BUNDLE
        found = {}
        if bundle.is_file():
            for number, line in enumerate(bundle.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    capture = Capture.from_dict(json.loads(line))
                except (ValueError, TypeError) as error:
                    raise MeshdemoError(f"unreadable capture: {error}", bundle, number) from None
                found[capture.id] = capture
        # a file a step: a docs folder, a revision, a run kept before; a kept run's large ones
        found.update(self.store.all())
        return {
            step_id: capture
            for step_id, capture in found.items()
            if capture.run_id in (None, self.run_id)
        }

    def image(self, capture: Capture) -> Path | None:
        """The screenshot of ``capture``, when there is one."""
        if not capture.artifact:
            return None
        path = self.root / capture.artifact
        return path if path.is_file() else None


def read_run(root: Path, label: str | None = None) -> RecordedRun:
    """The run recorded in ``root`` (a kept run or a docs folder); MeshdemoError if none."""
    store = CaptureStore(Path(root) / CAPTURES)
    try:
        record = store.read_run()
    except (ValueError, TypeError) as error:
        raise MeshdemoError(f"unreadable run record: {error}", store.directory / RUN_FILE) from None
    if record is None:
        raise MeshdemoError("no run recorded here (no captures/run.json)", root)
    return RecordedRun(Path(root), record, label or record.run_id)


def _second(folder: Path) -> str:
    """The second a kept run started, from its folder's name (its run id)."""
    return folder.name.split("-", 1)[0]


def _started(folder: Path) -> tuple[str, str]:
    """When a kept run started, as its record says (an unreadable one: first, to go first)."""
    try:
        record = read_run(folder).record
    except MeshdemoError:
        return ("", folder.name)
    return (record.started_at, record.run_id)


class History:
    """The kept runs of one project, oldest first."""

    def __init__(self, directory: Path, size: int = DEFAULT_SIZE):
        self.directory = Path(directory)
        self.size = size

    @classmethod
    def of(cls, project: Project) -> History:
        return cls(project.run_dir / HISTORY_DIR, history_size(project))

    def runs(self) -> list[RecordedRun]:
        """Oldest first, by when they started (two runs may start in the same second)."""
        if not self.directory.is_dir():
            return []
        found = []
        for folder in self.directory.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                found.append(read_run(folder))
            except MeshdemoError as error:
                _warn("run history: %s", error)
        return sorted(found, key=lambda run: (run.record.started_at, run.run_id))

    def keep(
        self,
        record: RunRecord,
        captures: Iterable[Capture],
        images: Path,
        encoded: Mapping[str, bytes] | None = None,
        written: CaptureStore | None = None,
        encoded_record: bytes | None = None,
    ) -> RecordedRun | None:
        """Add a finished run (``images``: where its screenshots' ``artifact`` paths start).

        ``encoded``: step id -> the capture already encoded (:func:`encode_capture`) by the
        run, which then is not encoded again (a 200 KB output costs ~0.5 ms to encode).
        ``written``: the store the run wrote these captures to (docs/captures), whose files
        of large captures are linked rather than copied (see :data:`SHARED_FROM`).
        ``encoded_record``: the record as the run wrote it (:func:`encode_record`).
        """
        if self.size == 0:
            self.prune()
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / record.run_id
        staging = Path(tempfile.mkdtemp(prefix=f".{record.run_id}.", dir=self.directory))
        try:
            # files written in place: the staging folder is renamed into place whole
            store = CaptureStore(staging / CAPTURES, atomic=False)
            store.directory.mkdir(parents=True)
            lines = []
            linked = []
            for capture in captures:
                done = (encoded or {}).get(capture.id)
                data = encode_capture(capture) if done is None else done
                shared = (  # only a large capture is linked: no path made for the others
                    written.path_for(capture.id)
                    if written is not None and len(data) >= SHARED_FROM
                    else None
                )
                if (
                    shared is not None
                    and _same_capture(shared, data)
                    and _linked(shared, store.path_for(capture.id))
                ):
                    linked.append(capture)
                else:
                    lines.append(as_line(data))
                if capture.artifact and (image := Path(images) / capture.artifact).is_file():
                    copy = staging / capture.artifact
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    if not _linked(image, copy):
                        shutil.copy2(image, copy)
            write_in_place(store.directory / BUNDLE, b"".join(lines))
            if linked:
                store.write_times(linked)  # the linked files may hold an earlier run's times
            store.write_run(record, encoded_record)
            if target.exists():  # kept before (a run finished twice): the last word wins
                shutil.rmtree(target)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.prune()
        return RecordedRun(target, record, record.run_id)  # as read_run(target) would give it

    def prune(self) -> list[Path]:
        """Remove the oldest runs beyond ``size``, those without a record, and what a stopped
        keep left.

        Oldest by folder name: a run's id starts with the second it started. Only runs that
        started in the second where the cut falls are ordered by their records (reading every
        kept run's record, a line a step, took milliseconds at the end of every run).
        """
        if not self.directory.is_dir():
            return []
        runs: list[Path] = []
        doomed: list[Path] = []
        for folder in self.directory.iterdir():
            if not folder.is_dir():
                continue
            if folder.name.startswith(".") or not (folder / CAPTURES / RUN_FILE).is_file():
                doomed.append(folder)  # a stopped keep's staging folder, or no record
            else:
                runs.append(folder)
        runs.sort(key=lambda folder: folder.name)
        excess = len(runs) - self.size
        if 0 < excess < len(runs) and _second(runs[excess - 1]) == _second(runs[excess]):
            # a run that goes and one that stays started in the same second: their records
            # say which started first
            cut = _second(runs[excess])
            tied = [index for index, folder in enumerate(runs) if _second(folder) == cut]
            group = sorted((runs[index] for index in tied), key=_started)
            runs[tied[0] : tied[-1] + 1] = group
        doomed += runs[: max(0, excess)]
        for folder in doomed:
            shutil.rmtree(folder, ignore_errors=True)
        return doomed

    def find(self, reference: str) -> RecordedRun:
        """A kept run by id or by the start of its id (unique); MeshdemoError otherwise."""
        runs = self.runs()
        exact = [run for run in runs if run.run_id == reference]
        found = exact or [run for run in runs if run.run_id.startswith(reference)]
        if len(found) == 1:
            return found[0]
        if not found:
            known = ", ".join(run.run_id for run in runs[-5:]) or "none kept yet"
            raise MeshdemoError(f"no kept run {reference!r} (latest: {known})", self.directory)
        ids = ", ".join(run.run_id for run in found)
        raise MeshdemoError(f"{reference!r} names more than one run: {ids}", self.directory)


def _same_capture(path: Path, data: bytes) -> bool:
    """Does the capture file at ``path`` hold ``data``, but maybe for another run's fields?

    Checked by size first: a run's fields differ in a few bytes at most (a duration, a time),
    so a file of another size is another output (a file changed since this run wrote it).
    """
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if abs(size - len(data)) > _RUN_FIELDS_SLACK:
        return False
    old = path.read_bytes()
    return old == data or same_content(old, data)


def _linked(source: Path, link: Path) -> bool:
    """Make ``link`` a hard link to ``source``; False where it cannot be (another file system,
    a file system without links, no such file): the caller writes a copy instead.

    A screenshot is only ever replaced whole (a new file renamed over it), so the kept run's
    name for it still holds what the run took after the next run replaces the page's image.
    """
    try:
        os.link(source, link)
    except OSError:
        return False
    return True


def keep_run(
    project: Project,
    record: RunRecord,
    captures: Iterable[Capture],
    images: Path,
    encoded: Mapping[str, bytes] | None = None,
    written: CaptureStore | None = None,
    encoded_record: bytes | None = None,
) -> RecordedRun | None:
    """Keep a finished run in the project's history; never fails the run that called it.

    What the run wrote is already in place when this is called: a history that cannot be
    written is reported, not raised.
    """
    try:
        history = History.of(project)
    except ConfigError as error:
        _warn("run history: %s; keeping the last %d runs", error, DEFAULT_SIZE)
        history = History(project.run_dir / HISTORY_DIR, DEFAULT_SIZE)
    try:
        return history.keep(record, captures, images, encoded, written, encoded_record)
    except OSError as error:
        _warn("run history: could not keep run %s: %s", record.run_id, error)
        return None


def _git_run(project: Project, revision: str, into: Path) -> RecordedRun:
    """The captures and screenshots committed at ``revision``, unpacked into ``into``."""
    # the repository that holds docs_dir, which need not be the one that holds mkdocs.yml
    where = project.docs_dir if project.docs_dir.is_dir() else project.root
    try:
        top = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        docs = project.docs_dir.resolve().relative_to(Path(top).resolve()).as_posix()
    except (OSError, subprocess.CalledProcessError, ValueError):
        raise MeshdemoError(
            f"{GIT_PREFIX}{revision}: {project.docs_dir} is not in a git repository", project.root
        ) from None
    listing = subprocess.run(
        ["git", "-C", top, "ls-tree", "-r", "--name-only", revision, "--", docs],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode != 0:
        detail = listing.stderr.strip().splitlines()[-1:] or ["unknown revision"]
        raise MeshdemoError(f"{GIT_PREFIX}{revision}: {detail[0]}", project.root)
    prefix = f"{docs}/"
    wanted = [
        name
        for name in listing.stdout.splitlines()
        if name.startswith(f"{prefix}{CAPTURES}/") or name.lower().endswith((".png", ".jpg"))
    ]
    for name in wanted:
        shown = subprocess.run(
            ["git", "-C", top, "show", f"{revision}:{name}"], capture_output=True, check=False
        )
        if shown.returncode != 0:
            detail = shown.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise MeshdemoError(f"{GIT_PREFIX}{revision}: {name}: {detail[0]}", project.root)
        blob = shown.stdout
        path = into / name.removeprefix(prefix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    return read_run(into, f"{GIT_PREFIX}{revision}")


def resolve(project: Project, reference: str | None, scratch: Path | None = None) -> RecordedRun:
    """A run named on the command line.

    ``ID`` (or its start): a kept run; ``docs``: the captures the pages show now;
    ``git:REV``: the captures committed at a revision (unpacked into ``scratch``); a folder
    holding ``captures/run.json``. ``None``: the latest kept run.
    """
    history = History.of(project)
    if reference is None:
        runs = history.runs()
        if not runs:
            raise MeshdemoError(
                "no run kept yet: `meshdemo run` keeps each run in the history", history.directory
            )
        return runs[-1]
    if reference == "docs":
        return read_run(project.docs_dir, "docs")
    if reference.startswith(GIT_PREFIX):
        if scratch is None:
            raise MeshdemoError(f"{reference}: no folder to unpack the revision into")
        return _git_run(project, reference.removeprefix(GIT_PREFIX), scratch)
    folder = Path(reference)
    with contextlib.suppress(OSError):
        if (folder / CAPTURES / RUN_FILE).is_file():
            return read_run(folder, reference)
    return history.find(reference)

"""The life of a run: who owns the project while it runs, what stops it, what it leaves.

* **One run at a time per project.** A run holds an exclusive ``flock`` on
  ``.meshdemo/run.lock`` for as long as it lives and writes there what it owns (its pid, when
  it started, its shells, its scratch folder). A second run finds the lock held and refuses,
  naming the first (:class:`RunBusy`, exit status 2). The kernel drops the lock when its holder
  dies, however it dies, so a dead run never blocks the next one.
* **A run killed with SIGKILL is cleaned up by the next command.** The lock free but the
  record still there means its owner died without cleaning up: :func:`reclaim` stops every
  process it left (found by the shells' sessions and by the ``MESHDEMO_RUN_ID`` every process
  of the run inherits, which also finds ``setsid`` escapes) and removes its scratch folder,
  saying so.
* **Signals end a run the way Ctrl-C does.** :func:`stop_signals` turns SIGINT, SIGTERM (a CI
  cancel) and SIGHUP (a closed terminal) into :class:`Stopped`, a ``KeyboardInterrupt``, so the
  run's ``finally`` stops every process and records the run as interrupted; pytest treats it as
  its own Ctrl-C.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from meshdemo.errors import MeshdemoError
from meshdemo.run.processes import Proc, boot_ticks, processes, terminate

LOCK_FILE = "run.lock"
RUN_ID_VARIABLE = "MESHDEMO_RUN_ID"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class RunBusy(MeshdemoError):
    """Another run holds the project."""


class Stopped(KeyboardInterrupt):
    """A signal asked the run to stop (SIGINT, SIGTERM, SIGHUP)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_of(interrupt: BaseException) -> int:
    """The signal behind a KeyboardInterrupt (plain Ctrl-C: SIGINT)."""
    return getattr(interrupt, "signum", signal.SIGINT)


def exit_status(signum: int) -> int:
    """The shell's convention for a process ended by ``signum`` (130 for Ctrl-C)."""
    return 128 + signum


# -- signals --------------------------------------------------------------------------------

stopped_by: list[int] = []  # the signals received while stop_signals was in force, in order


def _stop(signum: int, frame: FrameType | None) -> None:
    stopped_by.append(signum)
    if signum == signal.SIGHUP:
        # the terminal is gone: writing to it would fail (EIO) in the middle of cleaning up
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                if os.isatty(fd):
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, fd)
                    os.close(devnull)
    raise Stopped(signum)


def install_stop_handlers() -> dict[int, object]:
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`Stopped`; the handlers they replaced."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS}


def restore_handlers(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """While in force, SIGINT, SIGTERM and SIGHUP raise :class:`Stopped`."""
    previous = install_stop_handlers()
    try:
        yield
    finally:
        restore_handlers(previous)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Let cleanup finish even when a stop signal comes (again): ignored meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        restore_handlers(previous)  # type: ignore[arg-type]


# -- ownership ------------------------------------------------------------------------------


@dataclass
class Owner:
    """What a run owns, as its lock file records it."""

    pid: int
    started_at: str  # ISO 8601, UTC
    command: str
    run_id: str = ""
    scratch: str = ""  # the session's scratch folder
    shells: list[int] = field(default_factory=list)  # pids (= session ids) of its shells
    # which boot of the machine, and when in it (clock ticks) the run started: after a reboot,
    # or for a process older than the run, a recorded pid is someone else's
    boot_id: str = ""
    start_ticks: int = 0

    def describe(self) -> str:
        local = datetime.fromisoformat(self.started_at).astimezone()
        return f"pid {self.pid}, started {local:%Y-%m-%d %H:%M:%S} ({self.command})"


def _read_owner(handle: int) -> Owner | None:
    os.lseek(handle, 0, os.SEEK_SET)
    raw = b""
    while chunk := os.read(handle, 65536):
        raw += chunk
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
        return Owner(**{k: v for k, v in data.items() if k in Owner.__dataclass_fields__})
    except (ValueError, TypeError):
        return None


def _open_lock(run_dir: Path) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    return os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _locked(handle: int) -> bool:
    """Take the lock without waiting; False when another process holds it."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class Ownership:
    """A run's hold on its project: taken by :meth:`acquire`, given back by :meth:`release`."""

    def __init__(self, run_dir: Path, run_id: str):
        self.run_dir = Path(run_dir)
        self.owner = Owner(
            pid=os.getpid(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200],
            run_id=run_id,
            boot_id=_boot_id(),
            start_ticks=boot_ticks(),
        )
        self._handle: int | None = None
        self.reclaimed: list[str] = []  # what was cleaned up after a dead run, said to the user

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> Ownership:
        """Take the project, cleaning up after a dead run first; RunBusy when a run lives."""
        if self._handle is not None:
            return self
        handle = _open_lock(self.run_dir)
        if not _locked(handle):
            other = _read_owner(handle)
            os.close(handle)
            who = other.describe() if other else "another meshdemo process"
            raise RunBusy(
                f"another run of this project is in progress ({who}); wait for it to end, "
                "or stop it (Ctrl-C in its terminal, or kill "
                f"{other.pid if other else 'its pid'})",
                self.run_dir / LOCK_FILE,
            )
        dead = _read_owner(handle)
        if dead is not None:
            self.reclaimed.append(_clean_up(dead))
        self._handle = handle
        self._write()
        return self

    def update(self, *, scratch: Path | None = None, shell: int | None = None) -> None:
        """Record a scratch folder or a shell the run started (what a next run must clean)."""
        if scratch is not None:
            self.owner.scratch = str(scratch)
        if shell is not None and shell not in self.owner.shells:
            self.owner.shells.append(shell)
        if self._handle is not None:
            self._write()

    def _write(self) -> None:
        assert self._handle is not None
        data = json.dumps(asdict(self.owner)).encode()
        os.ftruncate(self._handle, 0)
        os.pwrite(self._handle, data, 0)

    def release(self) -> None:
        """The run ended cleanly: its record goes, then the lock."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            os.ftruncate(handle, 0)
        finally:
            os.close(handle)


def reclaim(run_dir: Path, *, busy_ok: bool = True) -> list[str]:
    """Clean up after a dead run of the project, if one left a record; what was done.

    Does nothing when no record is left, nor while a run lives (its lock is held): then
    ``busy_ok=False`` raises RunBusy naming it.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        if path.stat().st_size == 0:
            return []
    except OSError:
        return []
    handle = _open_lock(Path(run_dir))
    try:
        if not _locked(handle):
            if busy_ok:
                return []
            other = _read_owner(handle)
            who = other.describe() if other else "another meshdemo process"
            raise RunBusy(f"a run of this project is in progress ({who}): nothing done", path)
        dead = _read_owner(handle)
        if dead is None:
            return []
        said = _clean_up(dead)
        os.ftruncate(handle, 0)
        return [said]
    finally:
        os.close(handle)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _leftovers(owner: Owner) -> list[Proc]:
    """The processes a dead run left: in its shells' sessions, or carrying its run id; none
    after a reboot, and none older than the run (a pid the system has given out again)."""
    if owner.boot_id != _boot_id():
        return []
    table = {pid: p for pid, p in processes().items() if p.start >= owner.start_ticks}
    shells = set(owner.shells)
    marker = f"{RUN_ID_VARIABLE}={owner.run_id}".encode()
    found = []
    for proc in table.values():
        if proc.pid == os.getpid():
            continue
        if proc.sid in shells:
            found.append(proc)
            continue
        if not owner.run_id:
            continue
        with contextlib.suppress(OSError), open(f"/proc/{proc.pid}/environ", "rb") as handle:
            if marker in handle.read().split(b"\0"):
                found.append(proc)
    return found


def _clean_up(owner: Owner) -> str:
    """Stop what a dead run left and remove its scratch folder; a sentence saying so."""
    left = _leftovers(owner)
    terminate(left, protect=set())
    removed = ""
    scratch = Path(owner.scratch) if owner.scratch else None
    if scratch is not None and scratch.exists() and scratch.name.startswith("meshdemo-"):
        shutil.rmtree(scratch, ignore_errors=True)
        removed = f" and removed its scratch folder {scratch}"
    count = f"{len(left)} process{'es' if len(left) != 1 else ''}"
    return (
        f"a run that did not end cleanly ({owner.describe()}) left {count}: stopped them{removed}"
    )


def on_shell_start(ownership: Ownership | None) -> Callable[[int], None] | None:
    """The session's hook that records each shell it starts."""
    if ownership is None:
        return None
    return lambda pid: ownership.update(shell=pid)


class RunBroken(MeshdemoError):
    """The run could not go on for a reason outside the guide (a capture that cannot be
    written, a shell that does not start): every process stopped, the rest not run."""


def describe(error: BaseException) -> str:
    """One line for the user, no traceback: what failed, on which file."""
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def check_writable(folder: Path) -> None:
    """Refuse to start a run whose captures could not be written (exit status 2, nothing run)."""
    probe = folder / f".meshdemo-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        probe.unlink()
    except OSError as error:
        raise MeshdemoError(
            f"captures cannot be written here ({describe(error)}); make the folder writable, "
            "or run with --no-capture",
            folder,
        ) from None

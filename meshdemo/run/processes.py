"""Process control for a run: every process it starts can be found and ended.

``prctl(PR_SET_CHILD_SUBREAPER)`` makes processes that escape the shell's process groups
(``setsid nohup cmd &``) children of this Python process when their parent dies, so a
session finds and ends every process it started through ``/proc``, parents before children.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterable
from typing import NamedTuple

PR_SET_CHILD_SUBREAPER = 36
CLK_TCK = os.sysconf("SC_CLK_TCK")
KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL
PR_GET_CHILD_SUBREAPER = 37
_HOLDERS: set[int] = set()  # owners (open sessions) that need the subreaper flag on
_SUBREAPER_BEFORE: list[int] = []  # the flag as it was before the first session turned it on


def _prctl(option: int, value: object) -> bool:
    """prctl(2); ``value``: an int, or a pointer (``ctypes.byref``) for a GET option."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def hold_subreaper(owner: int) -> bool:
    """Make orphaned descendants children of this process while ``owner`` needs it (Linux
    only; harmless to repeat). False where the flag cannot be set."""
    _HOLDERS.add(owner)
    if not _SUBREAPER_BEFORE:
        before = ctypes.c_int(0)
        _prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(before))
        _SUBREAPER_BEFORE.append(before.value)
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def release_subreaper(owner: int) -> None:
    """Turn the flag back off once no owner holds it: orphans of unrelated work done later
    in this process (a test suite, a browser) must not pile up here as zombies."""
    _HOLDERS.discard(owner)
    if _SUBREAPER_BEFORE and not _HOLDERS:
        _prctl(PR_SET_CHILD_SUBREAPER, _SUBREAPER_BEFORE.pop())


class Proc(NamedTuple):
    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int  # clock ticks after boot
    state: str


def _stat_of(pid: str) -> bytes | None:
    """/proc/PID/stat, None when the process is gone. One read of a descriptor: a file
    object costs twice as much, paid for each of the hundreds of processes of a laptop."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)  # one line of under 1 KB: the command name is 16 bytes at most
    except OSError:
        return None
    finally:
        os.close(fd)


def processes() -> dict[int, Proc]:
    """Every process visible in /proc (fields from /proc/PID/stat)."""
    found: dict[int, Proc] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or (raw := _stat_of(name)) is None:
            continue
        # the command name is in parentheses and may contain anything: split after the last ')'
        fields = raw[raw.rindex(b")") + 2 :].split()
        found[int(name)] = Proc(
            pid=int(name),
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            sid=int(fields[3]),
            start=int(fields[19]),
            state=fields[0].decode(),
        )
    return found


def descendants(root: int, table: dict[int, Proc] | None = None) -> list[Proc]:
    """The processes below ``root`` (not ``root`` itself), parents before children."""
    table = processes() if table is None else table
    children: dict[int, list[Proc]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc)
    found: list[Proc] = []
    queue = [root]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child.pid)
    return found


def is_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    raw = _stat_of(str(pid))
    if raw is None:
        return False
    return raw[raw.rindex(b")") + 2 :].split()[0] not in (b"Z", b"X")


def boot_ticks() -> int:
    """Now, in the unit of /proc/PID/stat's start time."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * CLK_TCK)


def send_signal(pid: int, sig: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        (os.killpg if group else os.kill)(pid, sig)


def reap(pids: Iterable[int]) -> None:
    """Collect the exit status of dead orphans that were reparented to us (the subreaper)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def terminate(procs: list[Proc], *, protect: set[int], grace: float = KILL_GRACE) -> None:
    """SIGTERM the process groups (or the lone processes) of ``procs``, SIGKILL what remains.

    ``protect`` holds process groups never to signal as a group (the shell's own): processes
    in them are signalled one by one.
    """
    if not procs:
        return
    me = os.getpid()
    groups = {p.pgid for p in procs if p.pgid not in protect and p.pgid != os.getpgrp()}
    loners = [p.pid for p in procs if p.pgid in protect or p.pgid == os.getpgrp()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in groups:
            send_signal(pgid, sig, group=True)
        for pid in loners:
            send_signal(pid, sig, group=False)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 2.0)
        while True:
            reap(p.pid for p in procs if p.ppid == me)
            if not any(is_alive(p.pid) for p in procs) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if not any(is_alive(p.pid) for p in procs):
            break
    # orphans of the killed processes land on us: collect them too
    reap(p.pid for p in procs)
